"""The dashboard's pictures: SVG geometry, and open alerts walked back through
a trend's reports. Pure."""

from __future__ import annotations

import pytest

from clef_pro_api.dashboard import charts
from clef_pro_api.dashboard.present import duration_text
from clef_pro_api.services.insights import EventRow, SparkPoint, TrendPoint, open_alerts_by_report

ZERO = {"critical": 0, "warning": 0, "info": 0}


def point(sha: str, violations: int, **open_alerts: int) -> TrendPoint:
    return TrendPoint(
        report_id=sha,
        commit_sha=sha * 40,
        branch="main",
        commit_timestamp=1_763_900_000_000 + ord(sha) * 60_000,
        violations=violations,
        passed=violations == 0,
        open_alerts={**ZERO, **open_alerts},
    )


def link(sha: str) -> str:
    return f"/c/{sha[:7]}"


@pytest.mark.parametrize(
    ("value", "ceiling"), [(0, 1), (1, 1), (3, 5), (7, 10), (11, 20), (120, 200), (501, 1000)]
)
def test_axes_end_on_a_round_number(value: int, ceiling: int) -> None:
    assert charts.nice_ceiling(value) == ceiling


def test_the_trend_stacks_alerts_and_draws_violations_on_one_scale() -> None:
    chart = charts.trend_chart(
        [point("a", 4, critical=1, warning=2), point("b", 0)], link, width=200, height=124
    )
    assert chart is not None
    first, second = chart.columns
    # Oldest on the left, one band each.
    assert first.band_x == chart.left
    assert second.band_x == pytest.approx(chart.left + (chart.right - chart.left) / 2, abs=0.1)
    # Critical sits on the axis, warning on top of it; 3 of a scale of 5.
    critical, warning = first.segments
    assert (critical.severity, warning.severity) == ("critical", "warning")
    assert critical.y + critical.height == pytest.approx(chart.bottom, abs=0.1)
    assert warning.y + warning.height == pytest.approx(critical.y, abs=0.1)
    plot = chart.bottom - chart.top
    assert critical.height == pytest.approx(plot / 5, abs=0.1)
    assert warning.height == pytest.approx(2 * plot / 5, abs=0.1)
    # Violations: 4 of 5 up; a clean report has no bar and sits on the axis.
    assert first.cy == pytest.approx(chart.bottom - 4 * plot / 5, abs=0.1)
    assert second.segments == []
    assert second.cy == chart.bottom
    assert chart.line == f"{first.cx},{first.cy} {second.cx},{second.cy}"
    assert [tick.label for tick in chart.ticks] == ["0", "2", "5"]
    # Every column links to its commit and says its numbers.
    assert first.href == "/c/aaaaaaa"
    assert first.label.startswith("aaaaaaa on main, 2025-11-23 ")
    assert first.label.endswith("failed, 4 violations; open alerts: 1 critical, 2 warning, 0 info")
    assert "violations from 4 to 0" in chart.summary


def test_no_reports_draw_nothing() -> None:
    assert charts.trend_chart([], link) is None
    assert charts.sparkline([], link) is None


def test_a_sparkline_spans_its_box_with_a_linked_dot_per_report() -> None:
    points = [
        SparkPoint(c * 40, 1_763_900_000_000, v, v == 0)
        for c, v in zip("abc", (2, 0, 1), strict=True)
    ]
    line = charts.sparkline(points, link, width=100, height=20)
    assert line is not None
    assert [dot.cx for dot in line.dots] == [3.0, 50.0, 97.0]
    assert [dot.cy for dot in line.dots] == [3.0, 17.0, 10.0]
    assert [dot.href for dot in line.dots] == ["/c/aaaaaaa", "/c/bbbbbbb", "/c/ccccccc"]
    assert line.dots[1].label.endswith("passed, 0 violations")
    assert line.summary == "Violations in the last 3 reports: 2, 0, 1"
    single = charts.sparkline(points[:1], link, width=100, height=20)
    assert single is not None
    assert single.dots[0].cx == 50


def test_bars_are_scaled_to_the_longest() -> None:
    assert charts.bar_widths({"a": 10.0, "b": 5.0, "c": 0.0}, 160) == {
        "a": 160.0,
        "b": 80.0,
        "c": 1.0,
    }
    assert charts.bar_widths({"a": 0.0}, 160) == {"a": 1.0}


def test_open_alerts_are_walked_back_through_the_events_of_each_report() -> None:
    # Newest first: r4 (untracked, drove nothing), r3 resolved A2 and opened A3,
    # r2 recurred on A1 (now critical), r1 opened A1 (warning then) and A2.
    events = [
        EventRow("r3", "A2", "resolved", "warning"),
        EventRow("r3", "A3", "opened", "info"),
        EventRow("r2", "A1", "recurring", "critical"),
        EventRow("r2", "A2", "recurring", "warning"),
        EventRow("r1", "A1", "opened", "warning"),
        EventRow("r1", "A2", "opened", "warning"),
    ]
    counts = open_alerts_by_report(
        ["r4", "r3", "r2", "r1", "r0"], events, {"A1": "critical", "A3": "info"}
    )
    assert counts["r4"] == {"critical": 1, "warning": 0, "info": 1}
    assert counts["r3"] == {"critical": 1, "warning": 0, "info": 1}
    assert counts["r2"] == {"critical": 1, "warning": 1, "info": 0}
    assert counts["r1"] == {"critical": 0, "warning": 2, "info": 0}
    # Before the first alert opened, nothing was open.
    assert counts["r0"] == ZERO


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(30, "1 minute"), (600, "10 minutes"), (3 * 3600, "3.0 hours"), (5 * 86400, "5.0 days")],
)
def test_mean_times_read_in_a_sensible_unit(seconds: float, text: str) -> None:
    assert duration_text(seconds) == text
