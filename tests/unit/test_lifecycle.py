"""The alert lifecycle as pure transitions, on the seed's example and the CLI's habits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from clef_pro.domain.lifecycle import (
    SILENT_RULE_ID,
    SILENT_SCOPE,
    AlertEvent,
    AlertKey,
    AlertState,
    AlertStatus,
    InvalidTransition,
    OpenAlert,
    Transition,
    check_silence,
    evaluate,
    observe,
)
from clef_pro.domain.report import Report
from clef_pro.domain.severity import Severity
from tests.support.contract import failing, passing, sha, spec_report

OAUTH_PROD = AlertKey("missing_keys", "oauth/production")


def report(results: list[dict[str, Any]], namespaces: list[str] | None = None) -> Report:
    return Report.model_validate(
        spec_report(sha("x"), timestamp=1, policy_results=results, namespaces=namespaces)
    )


def events(transitions: list[Transition]) -> list[tuple[AlertEvent, AlertKey]]:
    return [(t.event, t.key) for t in transitions]


def test_a_first_failure_opens_an_alert() -> None:
    transitions = evaluate([], report([failing("missing_keys", "oauth/production")]))
    assert events(transitions) == [(AlertEvent.OPENED, OAUTH_PROD)]
    assert transitions[0].alert_id is None


def test_a_failure_that_persists_recurs_on_the_same_alert() -> None:
    open_alert = OpenAlert("a1", OAUTH_PROD)
    transitions = evaluate([open_alert], report([failing("missing_keys", "oauth/production")]))
    assert events(transitions) == [(AlertEvent.RECURRING, OAUTH_PROD)]
    assert transitions[0].alert_id == "a1"


def test_an_acknowledged_alert_still_recurs_because_it_is_still_open() -> None:
    open_alert = OpenAlert("a1", OAUTH_PROD, acknowledged=True)
    transitions = evaluate([open_alert], report([failing("missing_keys", "oauth/production")]))
    assert events(transitions) == [(AlertEvent.RECURRING, OAUTH_PROD)]


def test_a_passing_result_resolves_the_open_alert() -> None:
    transitions = evaluate(
        [OpenAlert("a1", OAUTH_PROD)], report([passing("missing_keys", "oauth/production")])
    )
    assert events(transitions) == [(AlertEvent.RESOLVED, OAUTH_PROD)]


def test_a_result_that_disappears_resolves_when_the_report_covers_its_scope() -> None:
    transitions = evaluate([OpenAlert("a1", OAUTH_PROD)], report([]))
    assert events(transitions) == [(AlertEvent.RESOLVED, OAUTH_PROD)]
    assert transitions[0].observation is None


def test_a_report_filtered_to_other_namespaces_resolves_nothing_outside_them() -> None:
    transitions = evaluate([OpenAlert("a1", OAUTH_PROD)], report([], namespaces=["database"]))
    assert transitions == []


def test_object_and_string_scopes_are_one_alert() -> None:
    open_alert = OpenAlert("a1", OAUTH_PROD)
    object_scope = {"namespace": "oauth", "environment": "production"}
    transitions = evaluate([open_alert], report([failing("missing_keys", object_scope)]))
    assert events(transitions) == [(AlertEvent.RECURRING, OAUTH_PROD)]


def test_no_result_for_a_key_with_no_open_alert_changes_nothing() -> None:
    assert evaluate([], report([passing("missing_keys", "oauth/production")])) == []


def test_several_lines_for_one_key_fold_into_the_worst_failure() -> None:
    folded = observe(
        report(
            [
                passing("schema/error", "database/development"),
                failing("schema/error", "database/development", severity="warning"),
                failing("schema/error", "database/development", severity="error"),
            ]
        ).policy_results
    )
    (observation,) = folded.values()
    assert observation.failing
    assert observation.severity is Severity.CRITICAL


@pytest.mark.parametrize(
    ("state", "move"),
    [
        (AlertState(AlertStatus.RESOLVED), AlertState.on_failing),
        (AlertState(AlertStatus.RESOLVED), AlertState.on_passing),
        (AlertState(AlertStatus.RESOLVED), AlertState.on_acknowledge),
    ],
)
def test_a_resolved_alert_is_final(state: AlertState, move: Any) -> None:
    with pytest.raises(InvalidTransition):
        move(state)


def test_acknowledging_changes_nothing_but_the_acknowledgement() -> None:
    acknowledged = AlertState().on_acknowledge()
    assert acknowledged == AlertState(AlertStatus.OPEN, acknowledged=True)
    assert acknowledged.on_failing() == acknowledged
    assert acknowledged.on_passing().status is AlertStatus.RESOLVED


def test_seed_example_as_transitions() -> None:
    """abc opens, def recurs, ack, ghi recurs, jkl resolves, mno opens a new alert."""
    fail = [failing("missing_keys", "oauth/production")]
    open_alerts: list[OpenAlert] = []

    abc = evaluate(open_alerts, report(fail))
    assert events(abc) == [(AlertEvent.OPENED, OAUTH_PROD)]
    open_alerts = [OpenAlert("first", OAUTH_PROD)]

    assert events(evaluate(open_alerts, report(fail))) == [(AlertEvent.RECURRING, OAUTH_PROD)]
    open_alerts = [OpenAlert("first", OAUTH_PROD, acknowledged=True)]
    assert events(evaluate(open_alerts, report(fail))) == [(AlertEvent.RECURRING, OAUTH_PROD)]

    jkl = evaluate(open_alerts, report([passing("missing_keys", "oauth/production")]))
    assert events(jkl) == [(AlertEvent.RESOLVED, OAUTH_PROD)]
    assert jkl[0].alert_id == "first"

    mno = evaluate([], report(fail))
    assert events(mno) == [(AlertEvent.OPENED, OAUTH_PROD)]
    assert mno[0].alert_id is None


# ------------------------------------------------------------------ acknowledgement expiry


def test_an_acknowledgement_for_a_while_silences_until_it_runs_out() -> None:
    now = datetime(2026, 5, 1, tzinfo=UTC)
    acked = AlertState().on_acknowledge(now, timedelta(hours=4))
    assert acked.acknowledged_until == now + timedelta(hours=4)
    assert acked.is_acknowledged(now + timedelta(hours=3, minutes=59))
    assert not acked.is_acknowledged(now + timedelta(hours=4))
    assert acked.acknowledgement_expired(now + timedelta(hours=4))
    assert not acked.on_acknowledgement_expired().acknowledged
    forever = AlertState().on_acknowledge(now)
    assert forever.acknowledged_until is None
    assert forever.is_acknowledged(now + timedelta(days=3650))
    with pytest.raises(InvalidTransition):
        AlertState().on_acknowledge(now, timedelta(0))


# ------------------------------------------------------------------ silent integrations


def test_silence_opens_then_recurs_each_window_and_a_report_resolves_it() -> None:
    start = datetime(2026, 5, 1, tzinfo=UTC)
    day = timedelta(hours=24)
    quiet = check_silence(window=day, last_report_at=start, silent_alert_open=False, now=start)
    assert (quiet.event, quiet.next_check) == (None, start + day)
    opened = check_silence(
        window=day, last_report_at=start, silent_alert_open=False, now=start + day
    )
    assert opened.event is AlertEvent.OPENED
    assert opened.next_check == start + 2 * day
    assert opened.message == "No report for 1d (expected at least every 1d)"
    again = check_silence(
        window=day, last_report_at=start, silent_alert_open=True, now=start + 2 * day
    )
    assert again.event is AlertEvent.RECURRING
    never = check_silence(window=None, last_report_at=start, silent_alert_open=False, now=start)
    assert (never.event, never.next_check) == (None, None)

    silent = OpenAlert("s1", AlertKey(SILENT_RULE_ID, SILENT_SCOPE))
    transitions = evaluate([silent], report([passing("missing_keys", "oauth/production")]))
    assert (AlertEvent.RESOLVED, silent.key) in events(transitions)
