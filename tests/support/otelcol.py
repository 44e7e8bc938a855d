"""A real OpenTelemetry Collector between a client and Clef Pro.

``hack/otelcol.sh`` builds a minimal Collector (the OTLP receiver and the
otlphttp exporter) from its Go modules, cached outside the repository; this
module builds it if needed and starts it with an OTLP/HTTP receiver on a free
loopback port and the otlphttp exporter pointed at Clef Pro, the integration
key in its headers, as a user would configure it. The exporter's queue and
retries are off, so a push to the Collector answers only once Clef Pro has
answered: the tests need no polling to know that a push arrived.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.postgres import free_port
from tests.support.processes import stop_process
from tests.support.waiting import wait_for

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "hack" / "otelcol.sh"
BUILD_TIMEOUT_S = 45 * 60

# The key comes from the environment, as the Collector's docs recommend for
# credentials; ${env:...} is the Collector's own substitution syntax.
CONFIG = """\
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:{port}
exporters:
  otlphttp:
    endpoint: {clef_pro_url}
    encoding: {encoding}
    compression: gzip
    headers:
      Authorization: "Bearer ${{env:CLEF_PRO_INTEGRATION_KEY}}"
    sending_queue:
      enabled: false
    retry_on_failure:
      enabled: false
service:
  telemetry:
    logs:
      level: warn
    metrics:
      level: none
  pipelines:
    logs:
      receivers: [otlp]
      exporters: [otlphttp]
"""


def build() -> Path:
    """The binary, built first if the cache is cold."""
    subprocess.run([str(SCRIPT), "build"], check=True, timeout=BUILD_TIMEOUT_S)
    directory = subprocess.run(
        [str(SCRIPT), "bin-dir"], check=True, capture_output=True, text=True
    ).stdout.strip()
    return Path(directory) / "otelcol"


@dataclass
class Collector:
    #: Where clients send OTLP/HTTP: ``{url}/v1/logs``.
    url: str
    log: Path


@contextmanager
def running_collector(
    root: Path, *, clef_pro_url: str, key: str, encoding: str
) -> Iterator[Collector]:
    """A Collector forwarding logs to ``clef_pro_url`` in ``encoding`` (``json`` or ``proto``)."""
    binary = build()
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = root / "otelcol.yaml"
    config.write_text(CONFIG.format(port=port, clef_pro_url=clef_pro_url, encoding=encoding))
    log_path = root / "otelcol.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [str(binary), f"--config=file:{config}"],
        env={**os.environ, "CLEF_PRO_INTEGRATION_KEY": key},
        stdout=log,
        stderr=subprocess.STDOUT,
    )

    def listening() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"otelcol exited: {log_path.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            return False

    try:
        wait_for(listening, timeout=60, interval=0.1, what="the Collector's OTLP receiver")
        yield Collector(f"http://127.0.0.1:{port}", log_path)
    finally:
        stop_process(process)
        log.close()
