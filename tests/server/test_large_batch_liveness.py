"""The largest batch the body limit allows (32 MiB) neither stalls the server
nor takes it past the chart's memory limit: ``/healthz`` keeps answering while
``clef-pro serve`` (on Postgres) takes it, and it is stored whole.

Loosely asserted on purpose (answers keep coming, none anywhere near the
liveness probe's patience; the batch adds well under half the memory limit);
the figures against the 100 ms target are measured by ``bench/otlp.py``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.support.contract import spec_report
from tests.support.server import ServerProcess
from tests.support.service import ServiceClient, key_headers

pytestmark = [pytest.mark.server, pytest.mark.postgres]

#: The batch body limit (``max_batch_bytes``) and the chart's memory limit.
BODY_LIMIT = 32 * 1024 * 1024
CHART_MEMORY_LIMIT = 512 * 1024 * 1024
#: Far below the chart's liveness probe (3 failures of a 5 s timeout), far
#: above what an answered ``/healthz`` takes on a busy machine.
SLOWEST_ANSWER_S = 2.0


def batch_of_the_limit() -> tuple[bytes, int]:
    """As many spec-form reports as fit in the body limit."""
    template = json.dumps(spec_report("{sha}", timestamp=1), separators=(",", ":"))
    template = template.replace('"commitTimestamp":1', '"commitTimestamp":{timestamp}')
    parts: list[str] = []
    size = len('{"reports":[]}')
    while True:
        index = len(parts) + 1
        report = template.replace("{sha}", f"{index:040x}").replace("{timestamp}", str(index))
        if size + len(report) + 1 > BODY_LIMIT:
            return ('{"reports":[' + ",".join(parts) + "]}").encode(), len(parts)
        parts.append(report)
        size += len(report) + 1


def memory(pid: int) -> tuple[int, int]:
    """(current, peak) resident set of ``pid``, in bytes."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return int(fields["VmRSS"].split()[0]) * 1024, int(fields["VmHWM"].split()[0]) * 1024


def test_a_batch_of_the_body_limit_keeps_healthz_answering_within_the_memory_limit(
    start_service: Callable[..., ServerProcess],
) -> None:
    server = start_service()
    body, count = batch_of_the_limit()
    with server.client() as http:
        (key,) = ServiceClient(http).put_integration("payments")
    before, _peak = memory(server.process.pid)
    Path(f"/proc/{server.process.pid}/clear_refs").write_text("5")  # a new peak from here

    answers: list[tuple[float, float, int]] = []  # (started, seconds, status)
    done = threading.Event()

    def probe() -> None:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            while not done.is_set():
                started = time.monotonic()
                status = client.get("/healthz").status_code
                answers.append((started, time.monotonic() - started, status))
                time.sleep(0.05)

    prober = threading.Thread(target=probe)
    with httpx.Client(base_url=server.url, timeout=600) as client:
        prober.start()
        started = time.monotonic()
        try:
            response = client.post(
                "/api/v1/reports/batch",
                content=body,
                headers={**key_headers(key), "Content-Type": "application/json"},
            )
        finally:
            finished = time.monotonic()
            done.set()
            prober.join()
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == count
    _rss, peak = memory(server.process.pid)
    assert peak < CHART_MEMORY_LIMIT
    assert peak - before < CHART_MEMORY_LIMIT // 2, (before, peak)

    during = [(seconds, status) for at, seconds, status in answers if started <= at < finished]
    assert len(during) >= 5, (finished - started, answers)
    assert {status for _seconds, status in during} == {200}
    assert max(seconds for seconds, _status in during) < SLOWEST_ANSWER_S, during
