"""Both CLI generations against ``clef-pro serve`` on the embedded default (SQLite),
as real processes: the same scenarios as on Postgres (tests/api/test_otlp.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from clef_pro_api.settings import Settings
from tests.api import test_otlp as scenarios
from tests.support.otlp import gzipped
from tests.support.server import ServerProcess, start_server
from tests.support.service import ADMIN_TOKEN, ServiceClient

pytestmark = pytest.mark.server


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[tuple[ServiceClient, Settings]]:
    env = {
        "CLEF_PRO_DATA_DIR": str(tmp_path),
        "CLEF_PRO_ADMIN_TOKEN": ADMIN_TOKEN,
        "CLEF_PRO_LOG_LEVEL": "warning",
    }
    server: ServerProcess = start_server(env, tmp_path / "server.log")
    try:
        with server.client() as http:
            yield ServiceClient(http), Settings(data_dir=tmp_path, admin_token=ADMIN_TOKEN)
    finally:
        server.stop()


@pytest.mark.parametrize(
    "name", ["report-push", "report-push-backfilled-detached", "lint-push", "drift-push"]
)
def test_each_otlp_example_is_taken_on_sqlite(
    embedded: tuple[ServiceClient, Settings], name: str
) -> None:
    scenarios.test_each_otlp_example_is_taken_whole(embedded[0], name)


def test_otlp_gap_fill_on_sqlite(embedded: tuple[ServiceClient, Settings]) -> None:
    scenarios.test_an_otlp_gap_fill_ends_with_the_checkpoint_on_head(embedded[0])


def test_report_api_gap_fill_on_sqlite(embedded: tuple[ServiceClient, Settings]) -> None:
    scenarios.test_a_report_api_gap_fill_ends_with_the_checkpoint_on_head(embedded[0])


def test_protocol_switch_on_sqlite(embedded: tuple[ServiceClient, Settings]) -> None:
    scenarios.test_a_repository_that_switches_protocol_keeps_its_history_and_alerts(embedded[0])


def test_protobuf_gzip_and_collector_bodies_on_sqlite(
    embedded: tuple[ServiceClient, Settings],
) -> None:
    service, _settings = embedded
    scenarios.test_protobuf_and_gzip_bodies_are_taken(service)
    (key,) = service.put_integration("collected")
    response = scenarios.push_ok(
        service,
        key,
        gzipped(scenarios.collector_request().SerializeToString()),
        content_type=scenarios.PROTOBUF,
        headers={"Content-Encoding": "gzip"},
    )
    assert response.headers["content-type"] == scenarios.PROTOBUF


def test_idempotent_pushes_on_sqlite(embedded: tuple[ServiceClient, Settings]) -> None:
    scenarios.test_a_report_push_is_idempotent_per_commit(*embedded)


def test_the_database_search_on_sqlite(embedded: tuple[ServiceClient, Settings]) -> None:
    scenarios.test_no_path_file_name_key_name_or_recipient_reaches_any_column(*embedded)


def test_the_detached_backfill_batch_on_sqlite(embedded: tuple[ServiceClient, Settings]) -> None:
    from tests.api.test_report_api_compat import (  # noqa: PLC0415 - scenario reuse
        test_the_detached_backfill_batch_takes_its_heads_branch,
        test_x_api_key_is_accepted_on_every_ci_endpoint,
    )

    test_the_detached_backfill_batch_takes_its_heads_branch(embedded[0])
    test_x_api_key_is_accepted_on_every_ci_endpoint(embedded[0])
