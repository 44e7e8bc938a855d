"""Both CLI generations' doors, a 10,000-report backfill and a hostile 32 MiB body.

Why: the same report now arrives two ways, and the report API's client puts a
whole gap into one batch. Each figure is a ratio against a baseline measured
in the same run, against the same server and PostgreSQL:

1. **OTLP against the report API**: pushes per second of ``POST /v1/logs``
   (today's CLI, one request per commit, JSON as the CLI sends it) against
   ``POST /api/v1/reports`` submissions of the same content (the report API's
   CLI form of the same issues), one client, oldest commit first, each into an
   integration of its own so every report becomes HEAD and runs the lifecycle.
2. **A 10,000-report backfill**: one ``POST /api/v1/reports/batch`` against the
   same reports one by one, by wall time and by the server's peak RSS (reset
   before each phase through ``/proc/PID/clear_refs``), beside the chart's
   memory limit (512Mi).
3. **A hostile body**: ``GET /healthz`` latency while the server takes the
   largest batch the limit allows (32 MiB), against ``/healthz`` on the idle
   server; and the server's peak RSS through it against the same limit. Two
   bodies: plain reports, and reports whose messages are ``a-`` repeated (what
   made quadratic screening take minutes).

Run on demand, not in CI::

    .venv/bin/python -m bench.otlp [--pushes N] [--batch N] [--json out.json]
        [--skip-protocols] [--skip-backfill] [--skip-hostile]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.ingest import JSON_HEADERS, Service, environment, machine
from tests.support.contract import spec_report
from tests.support.otlp import issue_record, report_push
from tests.support.service import key_headers

#: Push times (and commit times) to count up from: November 2025, in ms.
BASE_MS = 1_763_900_500_000
CHART_MEMORY_LIMIT = 512 * 1024 * 1024
MAX_BATCH_BYTES = 32 * 1024 * 1024

ISSUES = [
    ("error", "schema", "2 keys fail schema validation", "payments", "production"),
    ("error", "matrix", "Missing encrypted file for ledger/production.", None, None),
    ("warning", "drift", "1 key in [dev] missing from staging", "invoices", "staging"),
    ("info", "sops", "File is encrypted with only 1 recipient(s).", None, None),
]


# ---------------------------------------------------------------- bodies


def otlp_push(index: int) -> bytes:
    records = [
        issue_record(severity, category, message, namespace=ns, environment=env)
        for severity, category, message, ns, env in ISSUES
    ]
    body = report_push(f"{index:040x}", issues=records, time_unix_nano=(BASE_MS + index) * 10**6)
    return json.dumps(body, indent=2).encode()  # the CLI pretty-prints


def report_api_body(index: int) -> bytes:
    """The same issues in the report API's CLI form (its ``ReportTransformer``)."""
    results: list[dict[str, Any]] = []
    for severity, category, message, ns, env in ISSUES:
        result: dict[str, Any] = {
            "ruleId": f"{category}/{severity}",
            "ruleName": category,
            "passed": severity != "error",
            "severity": severity,
            "message": message,
        }
        if ns:
            result["scope"] = {"namespace": ns, "environment": env}
        results.append(result)
    body = spec_report(f"{index:040x}", timestamp=BASE_MS + index, policy_results=results)
    return json.dumps(body).encode()


def batch_body(count: int) -> bytes:
    return b'{"reports":[' + b",".join(report_api_body(i + 1) for i in range(count)) + b"]}"


def hostile_batch(limit: int, *, dashes: bool) -> bytes:
    """As many reports as fit in ``limit`` bytes; with ``dashes``, every message
    is ``a-`` repeated to the length limit (the old screening's worst case)."""
    template = json.loads(report_api_body(1))
    if dashes:
        for result in template["policyResults"]:
            result["message"] = "a-" * 500
        for cell in template["summary"]["cells"]:
            cell["description"] = "a-" * 250
    parts: list[bytes] = []
    size = len(b'{"reports":[]}')
    index = 0
    while True:
        index += 1
        template["commitSha"] = f"{index:040x}"
        template["commitTimestamp"] = BASE_MS + index
        encoded = json.dumps(template, separators=(",", ":")).encode()
        if size + len(encoded) + 1 > limit:
            break
        parts.append(encoded)
        size += len(encoded) + 1
    return b'{"reports":[' + b",".join(parts) + b"]}"


# ---------------------------------------------------------------- the server's memory


def rss_bytes(pid: int) -> tuple[int, int]:
    """(current, peak) resident set of ``pid``."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) * 1024
    return fields["VmRSS"], fields["VmHWM"]


def reset_peak(pid: int) -> None:
    """Start a new peak-RSS measurement (needs the same user or root)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def mib(size: int) -> str:
    return f"{size / 1024 / 1024:.0f} MiB"


# ---------------------------------------------------------------- phases


@dataclass
class Rate:
    name: str
    count: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.count / self.seconds


def sequential(client: httpx.Client, path: str, bodies: Sequence[bytes], key: str) -> float:
    headers = {**JSON_HEADERS, **key_headers(key)}
    started = time.perf_counter()
    for body in bodies:
        response = client.post(path, content=body, headers=headers)
        taken = response.status_code == 200 and (path != "/v1/logs" or response.json() == {})
        if not taken:
            raise RuntimeError(f"{path}: {response.status_code} {response.text[:300]}")
    return time.perf_counter() - started


@dataclass
class Backfill:
    reports: int
    batch_seconds: float
    singles_seconds: float
    batch_peak_rss: int
    singles_peak_rss: int
    baseline_rss: int


@dataclass
class Hostile:
    name: str
    body_bytes: int
    reports: int
    status: int
    seconds: float
    idle_healthz_ms: dict[str, float] = field(default_factory=dict)
    loaded_healthz_ms: dict[str, float] = field(default_factory=dict)
    rss_before: int = 0
    peak_rss: int = 0


def healthz_latencies(url: str, stop: threading.Event, out: list[float], pause: float) -> None:
    with httpx.Client(base_url=url, timeout=60) as client:
        client.get("/healthz")
        while not stop.is_set():
            started = time.perf_counter()
            client.get("/healthz").raise_for_status()
            out.append((time.perf_counter() - started) * 1000)
            time.sleep(pause)


def summary_ms(values: Sequence[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "count": len(ordered),
        "p50": round(statistics.median(ordered), 2),
        "p99": round(ordered[max(0, int(len(ordered) * 0.99) - 1)], 2),
        "max": round(ordered[-1], 2),
    }


def hostile(
    url: str, pid: int, key: str, body: bytes, name: str, *, pause: float = 0.02
) -> Hostile:
    idle: list[float] = []
    stop = threading.Event()
    sampler = threading.Thread(target=healthz_latencies, args=(url, stop, idle, pause))
    sampler.start()
    time.sleep(3)
    stop.set()
    sampler.join()

    loaded: list[float] = []
    stop = threading.Event()
    rss_before, _ = rss_bytes(pid)
    reset_peak(pid)
    sampler = threading.Thread(target=healthz_latencies, args=(url, stop, loaded, pause))
    sampler.start()
    started = time.perf_counter()
    with httpx.Client(base_url=url, timeout=1800) as client:
        response = client.post(
            "/api/v1/reports/batch", content=body, headers={**JSON_HEADERS, **key_headers(key)}
        )
    seconds = time.perf_counter() - started
    stop.set()
    sampler.join()
    _, peak = rss_bytes(pid)
    accepted = response.json().get("accepted", 0) if response.status_code == 200 else 0
    return Hostile(
        name=name,
        body_bytes=len(body),
        reports=accepted,
        status=response.status_code,
        seconds=seconds,
        idle_healthz_ms=summary_ms(idle),
        loaded_healthz_ms=summary_ms(loaded),
        rss_before=rss_before,
        peak_rss=peak,
    )


def run_protocols(service: Service, client: httpx.Client, count: int) -> dict[str, float]:
    warm_otlp, warm_api = service.integration("warm-otlp"), service.integration("warm-api")
    sequential(client, "/v1/logs", [otlp_push(i) for i in range(1, 21)], warm_otlp)
    sequential(client, "/api/v1/reports", [report_api_body(i) for i in range(1, 21)], warm_api)
    pushes = [otlp_push(i) for i in range(1, count + 1)]
    submissions = [report_api_body(i) for i in range(1, count + 1)]
    otlp_key, api_key = service.integration("otlp"), service.integration("api")
    otlp_rate = Rate("POST /v1/logs", count, sequential(client, "/v1/logs", pushes, otlp_key))
    api_rate = Rate(
        "POST /api/v1/reports", count, sequential(client, "/api/v1/reports", submissions, api_key)
    )
    print()
    print(f"{'':<24}{'reports':>8}{'seconds':>9}{'reports/s':>11}")
    for rate in (api_rate, otlp_rate):
        print(f"{rate.name:<24}{rate.count:>8}{rate.seconds:>9.2f}{rate.per_second:>11.1f}")
    print(f"OTLP / report API throughput: {otlp_rate.per_second / api_rate.per_second:.2f}")
    return {
        "report_api_per_second": api_rate.per_second,
        "otlp_per_second": otlp_rate.per_second,
        "ratio": otlp_rate.per_second / api_rate.per_second,
    }


def run_backfill(
    service: Service, client: httpx.Client, pid: int, count: int, singles_count: int
) -> Backfill:
    body = batch_body(count)
    baseline, _ = rss_bytes(pid)
    reset_peak(pid)
    started = time.perf_counter()
    response = client.post(
        "/api/v1/reports/batch",
        content=body,
        headers={**JSON_HEADERS, **key_headers(service.integration("batch"))},
        timeout=1800,
    )
    batch_seconds = time.perf_counter() - started
    if response.status_code != 200 or response.json()["accepted"] != count:
        raise RuntimeError(f"batch: {response.status_code} {response.text[:300]}")
    _, batch_peak = rss_bytes(pid)
    reset_peak(pid)
    singles = [report_api_body(i + 1) for i in range(count)]
    singles_seconds = sequential(client, "/api/v1/reports", singles, service.integration("singles"))
    _, singles_peak = rss_bytes(pid)
    print()
    print(f"backfill of {count} reports ({mib(len(body))}), server RSS before {mib(baseline)}:")
    print(f"  one batch : {batch_seconds:8.2f} s, peak RSS {mib(batch_peak)}")
    print(
        f"  one by one: {singles_seconds:8.2f} s (from {singles_count} timed), "
        f"peak RSS {mib(singles_peak)}"
    )
    print(
        f"  batch / singles: time {batch_seconds / singles_seconds:.3f}, "
        f"peak RSS {batch_peak / singles_peak:.2f}; batch peak / chart limit "
        f"{batch_peak / CHART_MEMORY_LIMIT:.2f}"
    )
    return Backfill(count, batch_seconds, singles_seconds, batch_peak, singles_peak, baseline)


def run_hostile(service: Service, pid: int) -> list[Hostile]:
    results = []
    for name, dashes in (("32 MiB of reports", False), ("32 MiB of 'a-' messages", True)):
        key = service.integration(f"hostile-{int(dashes)}")
        body = hostile_batch(MAX_BATCH_BYTES, dashes=dashes)
        result = hostile(service.server.url, pid, key, body, name)
        results.append(result)
        print()
        print(
            f"{name}: {mib(result.body_bytes)}, {result.reports} reports, "
            f"status {result.status}, {result.seconds:.1f} s"
        )
        print(f"  /healthz idle   ms: {result.idle_healthz_ms}")
        print(f"  /healthz loaded ms: {result.loaded_healthz_ms}")
        ratio = result.loaded_healthz_ms["p99"] / result.idle_healthz_ms["p99"]
        print(
            f"  loaded / idle p99: {ratio:.1f}; "
            f"max under load {result.loaded_healthz_ms['max']:.0f} ms (target < 100)"
        )
        print(
            f"  server RSS {mib(result.rss_before)} before, peak {mib(result.peak_rss)}; "
            f"peak / chart limit {result.peak_rss / CHART_MEMORY_LIMIT:.2f}"
        )
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.otlp", description=(__doc__ or "").split("\n")[0]
    )
    parser.add_argument("--pushes", type=int, default=300, help="reports per protocol (300)")
    parser.add_argument("--batch", type=int, default=10_000, help="reports in the backfill")
    parser.add_argument(
        "--singles", type=int, default=1000, help="of those, timed one by one and scaled (1000)"
    )
    parser.add_argument("--skip-protocols", action="store_true", help="skip OTLP vs report API")
    parser.add_argument("--skip-backfill", action="store_true", help="skip the backfill")
    parser.add_argument("--skip-hostile", action="store_true", help="skip the 32 MiB bodies")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)

    figures: dict[str, Any] = {}
    with environment() as (postgres, _database, service, _workdir):
        pid = service.server.process.pid
        info = machine(postgres)
        figures["machine"] = info
        print(f"machine: {json.dumps(info)}")
        if info["cpu_busy_before_start"] > 0.1:
            print("warning: something else is using the CPUs; absolute figures will be low")
        client = service.client()
        try:
            if not args.skip_protocols:
                figures["protocols"] = run_protocols(service, client, args.pushes)
            if not args.skip_backfill:
                figures["backfill"] = asdict(
                    run_backfill(service, client, pid, args.batch, min(args.singles, args.batch))
                )
        finally:
            client.close()
        if not args.skip_hostile:
            figures["hostile"] = [asdict(result) for result in run_hostile(service, pid)]
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
