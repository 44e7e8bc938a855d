"""API keys in the Integration's Secret: minting, rotation with grace, revocation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from clef_pro.domain import apikeys
from clef_pro.domain.durations import parse_duration
from clef_pro_operator.keys import (
    RETIRING_ANNOTATION,
    ROTATION_ANNOTATION_PREFIX,
    plan_keys,
    read_retiring,
)
from clef_pro_operator.resources import ApiKeySpec

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
GRACE = timedelta(hours=1)


def test_a_new_integration_gets_one_fresh_key_per_name() -> None:
    plan = plan_keys(
        [ApiKeySpec(name="ci"), ApiKeySpec(name="nightly")], {}, {}, now=NOW, grace=GRACE
    )
    assert set(plan.data) == {"ci", "nightly"}
    assert all(apikeys.is_well_formed(key) for key in plan.data.values())
    assert plan.minted == ["ci", "nightly"]
    assert plan.changed
    assert {h.sha256 for h in plan.valid_hashes} == {
        apikeys.sha256_hex(k) for k in plan.data.values()
    }


def test_planning_again_from_the_result_changes_nothing() -> None:
    first = plan_keys([ApiKeySpec(name="ci")], {}, {}, now=NOW, grace=GRACE)
    again = plan_keys([ApiKeySpec(name="ci")], first.data, first.annotations, now=NOW, grace=GRACE)
    assert not again.changed
    assert again.data == first.data
    assert again.minted == again.rotated == []


def test_changing_rotate_mints_a_new_key_and_retires_the_old_for_the_grace_period() -> None:
    first = plan_keys([ApiKeySpec(name="ci")], {}, {}, now=NOW, grace=GRACE)
    old = first.data["ci"]
    rotated = plan_keys(
        [ApiKeySpec(name="ci", rotate="2026-11-23")],
        first.data,
        first.annotations,
        now=NOW,
        grace=GRACE,
    )
    assert rotated.rotated == ["ci"]
    assert rotated.data["ci"] != old
    hashes = {h.sha256 for h in rotated.valid_hashes}
    assert apikeys.sha256_hex(old) in hashes
    assert apikeys.sha256_hex(rotated.data["ci"]) in hashes
    assert rotated.next_expiry == NOW + GRACE
    assert rotated.annotations[ROTATION_ANNOTATION_PREFIX + "ci"] == "2026-11-23"

    during = plan_keys(
        [ApiKeySpec(name="ci", rotate="2026-11-23")],
        rotated.data,
        rotated.annotations,
        now=NOW + GRACE / 2,
        grace=GRACE,
    )
    assert not during.changed
    assert apikeys.sha256_hex(old) in {h.sha256 for h in during.valid_hashes}

    after = plan_keys(
        [ApiKeySpec(name="ci", rotate="2026-11-23")],
        rotated.data,
        rotated.annotations,
        now=NOW + GRACE + timedelta(seconds=1),
        grace=GRACE,
    )
    assert after.changed
    assert apikeys.sha256_hex(old) not in {h.sha256 for h in after.valid_hashes}
    assert RETIRING_ANNOTATION not in after.annotations


def test_a_key_removed_from_the_spec_is_revoked_at_once() -> None:
    first = plan_keys([ApiKeySpec(name="ci"), ApiKeySpec(name="old")], {}, {}, now=NOW, grace=GRACE)
    later = plan_keys([ApiKeySpec(name="ci")], first.data, first.annotations, now=NOW, grace=GRACE)
    assert set(later.data) == {"ci"}
    assert apikeys.sha256_hex(first.data["old"]) not in {h.sha256 for h in later.valid_hashes}
    assert ROTATION_ANNOTATION_PREFIX + "old" not in later.annotations


def test_a_hand_written_non_key_value_is_replaced() -> None:
    plan = plan_keys([ApiKeySpec(name="ci")], {"ci": "password123"}, {}, now=NOW, grace=GRACE)
    assert plan.minted == ["ci"]
    assert apikeys.is_well_formed(plan.data["ci"])


def test_foreign_annotations_are_left_alone_and_a_broken_retiring_list_is_forgotten() -> None:
    assert read_retiring({RETIRING_ANNOTATION: "not json"}) == []
    plan = plan_keys([ApiKeySpec(name="ci")], {}, {"team": "payments"}, now=NOW, grace=GRACE)
    assert "team" not in plan.annotations  # only our own prefix is ours to write


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("24h", 86400), ("90m", 5400), ("1h30m", 5400), ("2.5s", 2.5), ("250ms", 0.25)],
)
def test_durations_read_like_kubernetes_durations(text: str, seconds: float) -> None:
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "10", "h", "1d"])
def test_malformed_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)
