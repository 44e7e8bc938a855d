"""Keys changed by hand: add, rotate with a grace period, revoke."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from clef_pro.domain import keyring
from clef_pro.domain.config import ApiKeyHash

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def digest(n: int) -> str:
    return f"{n:064x}"


def test_adding_a_name_that_exists_is_refused() -> None:
    keys = keyring.add([], "ci", digest(1), NOW)
    assert keys == [ApiKeyHash(name="ci", sha256=digest(1))]
    with pytest.raises(keyring.KeyringError, match="already a key named ci"):
        keyring.add(keys, "ci", digest(2), NOW)


def test_rotation_keeps_the_old_key_until_its_grace_ends() -> None:
    keys = keyring.rotate(
        [ApiKeyHash(name="ci", sha256=digest(1))], "ci", digest(2), NOW, timedelta(hours=1)
    )
    assert keys == [
        ApiKeyHash(name="ci", sha256=digest(1), expires_at=NOW + timedelta(hours=1)),
        ApiKeyHash(name="ci", sha256=digest(2)),
    ]
    assert keyring.current(keys, "ci") == ApiKeyHash(name="ci", sha256=digest(2))
    # Past the grace period the old key is gone at the next change.
    later = NOW + timedelta(hours=2)
    assert keyring.live(keys, later) == [ApiKeyHash(name="ci", sha256=digest(2))]


def test_rotation_without_grace_drops_the_old_key_at_once() -> None:
    keys = keyring.rotate(
        [ApiKeyHash(name="ci", sha256=digest(1))], "ci", digest(2), NOW, timedelta(0)
    )
    assert keys == [ApiKeyHash(name="ci", sha256=digest(2))]


def test_revoking_a_name_stops_its_retiring_keys_too() -> None:
    keys = keyring.rotate(
        [ApiKeyHash(name="ci", sha256=digest(1)), ApiKeyHash(name="nightly", sha256=digest(3))],
        "ci",
        digest(2),
        NOW,
        timedelta(hours=1),
    )
    assert keyring.revoke(keys, "ci", NOW) == [ApiKeyHash(name="nightly", sha256=digest(3))]
    with pytest.raises(keyring.KeyringError, match="no key named ci"):
        keyring.revoke([], "ci", NOW)
    with pytest.raises(keyring.KeyringError, match="no key named ci"):
        keyring.rotate([], "ci", digest(2), NOW, timedelta(0))


def test_an_integration_keeps_at_most_twenty_keys() -> None:
    keys = [ApiKeyHash(name=f"k{n}", sha256=digest(n)) for n in range(20)]
    with pytest.raises(keyring.KeyringError, match="at most 20"):
        keyring.add(keys, "one-more", digest(99), NOW)
    with pytest.raises(keyring.KeyringError, match="at most 20"):
        keyring.rotate(keys, "k1", digest(99), NOW, timedelta(hours=1))
