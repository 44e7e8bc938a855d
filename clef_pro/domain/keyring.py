"""An integration's API keys, changed by hand: add, rotate with a grace period,
revoke. Pure: the command line applies these to the stored config.

A key is known by its name; rotating it mints a new key under the same name
and keeps the old one working until its grace period ends (the service
refuses it after ``expires_at``, whoever looks). Revoking a name revokes its
current key and any it is still retiring, at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from clef_pro.domain.config import ApiKeyHash

#: The config's own limit on keys per integration.
MAX_KEYS = 20


class KeyringError(ValueError):
    """A change that cannot be made, in words for the person who asked."""


def live(keys: Sequence[ApiKeyHash], now: datetime) -> list[ApiKeyHash]:
    """The keys that still work at ``now``."""
    return [key for key in keys if key.expires_at is None or key.expires_at > now]


def current(keys: Sequence[ApiKeyHash], name: str) -> ApiKeyHash | None:
    """The key ``name`` stands for now (not one it is retiring)."""
    return next((key for key in keys if key.name == name and key.expires_at is None), None)


def add(keys: Sequence[ApiKeyHash], name: str, sha256: str, now: datetime) -> list[ApiKeyHash]:
    kept = live(keys, now)
    if current(kept, name) is not None:
        raise KeyringError(f"there is already a key named {name}: rotate or revoke it")
    if len(kept) >= MAX_KEYS:
        raise KeyringError(f"an integration has at most {MAX_KEYS} keys: revoke one first")
    return [*kept, ApiKeyHash(name=name, sha256=sha256)]


def rotate(
    keys: Sequence[ApiKeyHash], name: str, sha256: str, now: datetime, grace: timedelta
) -> list[ApiKeyHash]:
    """Replace key ``name``; the old one works for ``grace`` more (none: stops now)."""
    kept = live(keys, now)
    old = current(kept, name)
    if old is None:
        raise KeyringError(f"there is no key named {name}")
    rotated: list[ApiKeyHash] = []
    for key in kept:
        if key is old:
            if grace > timedelta(0):
                rotated.append(key.model_copy(update={"expires_at": now + grace}))
        else:
            rotated.append(key)
    if len(rotated) >= MAX_KEYS:
        raise KeyringError(
            f"an integration has at most {MAX_KEYS} keys, counting those still retiring: "
            "revoke one, or rotate without a grace period"
        )
    return [*rotated, ApiKeyHash(name=name, sha256=sha256)]


def revoke(keys: Sequence[ApiKeyHash], name: str, now: datetime) -> list[ApiKeyHash]:
    """Stop key ``name`` now, with any key it is still retiring."""
    kept = live(keys, now)
    remaining = [key for key in kept if key.name != name]
    if len(remaining) == len(kept):
        raise KeyringError(f"there is no key named {name}")
    return remaining
