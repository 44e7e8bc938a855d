"""Geometry of the dashboard's pictures, drawn as SVG by the server (no front-end
library): an integration's trend over its last reports, an overview row's
sparkline, and bars of the mean time to resolve. Pure functions; the
templates only place what these compute.

Every mark links to its commit's report and carries its numbers in words
(``label``), so the pictures say the same to a screen reader as to the eye.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from clef_pro_api.dashboard.present import from_epoch_ms, short_sha
from clef_pro_api.services.insights import SEVERITIES, SparkPoint, TrendPoint

#: Bottom to top in a stacked column: the worst sits on the axis.
STACK_ORDER: Final = SEVERITIES


def nice_ceiling(value: float) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50... at or above ``value`` (at least 1)."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def _r(value: float) -> float:
    return round(value, 1)


@dataclass(frozen=True, slots=True)
class Segment:
    severity: str
    y: float
    height: float


@dataclass(frozen=True, slots=True)
class Column:
    """One report: its open alerts stacked by severity, its violations a dot."""

    x: float
    width: float
    #: The whole band of the column (the link's hit area).
    band_x: float
    band_width: float
    segments: list[Segment]
    cx: float
    cy: float
    passed: bool
    href: str
    label: str


@dataclass(frozen=True, slots=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True, slots=True)
class TrendChart:
    width: int
    height: int
    left: float
    top: float
    right: float
    bottom: float
    columns: list[Column]
    #: The violations line, as SVG polyline points.
    line: str
    ticks: list[Tick]
    first_label: str
    last_label: str
    summary: str


def _when(timestamp_ms: int) -> str:
    return from_epoch_ms(timestamp_ms).strftime("%Y-%m-%d %H:%M UTC")


def _day(timestamp_ms: int) -> str:
    return from_epoch_ms(timestamp_ms).strftime("%Y-%m-%d")


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def point_label(point: TrendPoint) -> str:
    alerts = ", ".join(f"{point.open_alerts.get(s, 0)} {s}" for s in SEVERITIES)
    return (
        f"{short_sha(point.commit_sha)} on {point.branch}, {_when(point.commit_timestamp)}: "
        f"{'passed' if point.passed else 'failed'}, {_plural(point.violations, 'violation')}; "
        f"open alerts: {alerts}"
    )


def trend_chart(
    points: Sequence[TrendPoint],
    href: Callable[[str], str],
    *,
    width: int = 720,
    height: int = 200,
) -> TrendChart | None:
    """Columns of open alerts by severity and a line of violations, one
    report per column, oldest on the left. ``None`` without reports."""
    if not points:
        return None
    left, right, top, bottom = 36.0, width - 8.0, 10.0, height - 24.0
    peak = max(
        *(point.violations for point in points),
        *(sum(point.open_alerts.values()) for point in points),
    )
    scale_max = nice_ceiling(peak)
    plot_height = bottom - top

    def y_of(value: float) -> float:
        return _r(bottom - plot_height * value / scale_max)

    band = (right - left) / len(points)
    bar = max(2.0, min(28.0, band * 0.6))
    columns = []
    for index, point in enumerate(points):
        band_x = left + index * band
        x = band_x + (band - bar) / 2
        segments = []
        base = 0
        for severity in STACK_ORDER:
            count = point.open_alerts.get(severity, 0)
            if count:
                segments.append(
                    Segment(severity, y_of(base + count), _r(y_of(base) - y_of(base + count)))
                )
                base += count
        columns.append(
            Column(
                x=_r(x),
                width=_r(bar),
                band_x=_r(band_x),
                band_width=_r(band),
                segments=segments,
                cx=_r(band_x + band / 2),
                cy=y_of(point.violations),
                passed=point.passed,
                href=href(point.commit_sha),
                label=point_label(point),
            )
        )
    ticks = [Tick(y_of(value), str(value)) for value in sorted({0, scale_max // 2, scale_max})]
    last = points[-1]
    summary = (
        f"The last {_plural(len(points), 'report')}, from {_day(points[0].commit_timestamp)} "
        f"to {_day(last.commit_timestamp)}: violations from {points[0].violations} to "
        f"{last.violations} (highest {max(p.violations for p in points)}); open alerts now "
        + ", ".join(f"{last.open_alerts.get(s, 0)} {s}" for s in SEVERITIES)
        + "."
    )
    return TrendChart(
        width=width,
        height=height,
        left=left,
        top=top,
        right=right,
        bottom=bottom,
        columns=columns,
        line=" ".join(f"{column.cx},{column.cy}" for column in columns),
        ticks=ticks,
        first_label=_day(points[0].commit_timestamp),
        last_label=_day(last.commit_timestamp),
        summary=summary,
    )


@dataclass(frozen=True, slots=True)
class SparkDot:
    cx: float
    cy: float
    passed: bool
    href: str
    label: str


@dataclass(frozen=True, slots=True)
class Sparkline:
    width: int
    height: int
    line: str
    dots: list[SparkDot]
    summary: str


def sparkline(
    points: Sequence[SparkPoint],
    href: Callable[[str], str],
    *,
    width: int = 120,
    height: int = 28,
) -> Sparkline | None:
    """Violations of the last reports, oldest on the left; a dot per report."""
    if not points:
        return None
    pad = 3.0
    scale_max = max(1, *(point.violations for point in points))
    step = (width - 2 * pad) / max(1, len(points) - 1)
    dots = []
    for index, point in enumerate(points):
        cx = pad + step * index if len(points) > 1 else width / 2
        cy = height - pad - (height - 2 * pad) * point.violations / scale_max
        dots.append(
            SparkDot(
                cx=_r(cx),
                cy=_r(cy),
                passed=point.passed,
                href=href(point.commit_sha),
                label=(
                    f"{short_sha(point.commit_sha)}, {_when(point.commit_timestamp)}: "
                    f"{'passed' if point.passed else 'failed'}, "
                    f"{_plural(point.violations, 'violation')}"
                ),
            )
        )
    summary = f"Violations in the last {_plural(len(points), 'report')}: " + ", ".join(
        str(point.violations) for point in points
    )
    return Sparkline(
        width=width,
        height=height,
        line=" ".join(f"{dot.cx},{dot.cy}" for dot in dots),
        dots=dots,
        summary=summary,
    )


def bar_widths(values: Mapping[str, float], full: float) -> dict[str, float]:
    """Each value's bar length, the largest ``full`` long (none is invisible)."""
    peak = max(values.values(), default=0.0)
    if peak <= 0:
        return dict.fromkeys(values, 1.0)
    return {key: _r(max(1.0, full * value / peak)) for key, value in values.items()}
