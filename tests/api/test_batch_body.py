"""Large batches, taken one report at a time: stored exactly as the same reports
one by one, refused whole with errors that say where, on a real Postgres.

Bodies here are over 1 MiB, the size up to which a refused batch is read again
whole for its errors, so what they prove is the piecewise path's own doing.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import create_engine, select

from clef_pro_api.routes.batch_body import MOST_ERRORS
from clef_pro_api.settings import Settings
from clef_pro_api.storage import models
from tests.api.test_contract import stored_reports
from tests.support.contract import spec_report
from tests.support.service import ServiceClient, key_headers

#: Reports of about 2 KB: 800 of them make a body of about 1.6 MiB.
COUNT = 800


def reports(count: int = COUNT) -> list[dict[str, Any]]:
    return [spec_report(f"{index:040x}", timestamp=index) for index in range(1, count + 1)]


def post(service: ServiceClient, key: str, body: bytes) -> Any:
    return service.http.post(
        "/api/v1/reports/batch",
        content=body,
        headers={**key_headers(key), "Content-Type": "application/json"},
    )


def encoded(batch: list[dict[str, Any]]) -> bytes:
    body = json.dumps({"reports": batch}, indent=1).encode()
    assert len(body) > 1 << 20
    return body


def large(value: Any) -> bytes:
    body = json.dumps(value).encode()
    assert len(body) > 1 << 20
    return body


def stored_bodies(settings: Settings, integration_id: str) -> dict[str, tuple[str, str, Any]]:
    """Each stored report of an integration by commit: its branch, digest and body."""
    engine = create_engine(settings.resolved_database_url)
    with engine.connect() as connection:
        rows = connection.execute(
            select(
                models.Report.commit_sha,
                models.Report.branch,
                models.Report.digest,
                models.Report.body,
            ).where(models.Report.integration_id == integration_id)
        ).all()
    engine.dispose()
    return {sha: (branch, digest, body) for sha, branch, digest, body in rows}


def test_a_large_batch_stores_what_the_same_reports_one_by_one_store(
    service: ServiceClient, settings: Settings
) -> None:
    (batched,) = service.put_integration("batched", collection={"ciContext": True})
    (single,) = service.put_integration("single", collection={"ciContext": True})
    batch = reports()
    for report in batch[:-1]:
        report["branch"] = ""  # backfilled from a detached HEAD
    batch[10]["ci"] = batch[10].pop("ciContext")  # the other name of the same object
    response = post(service, batched, encoded(batch))
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == COUNT
    taken = stored_bodies(settings, "batched")
    assert len(taken) == COUNT
    assert {branch for branch, _digest, _body in taken.values()} == {"main"}

    # The same reports one by one, on the branch the batch gave them.
    sample = [batch[0], batch[10], batch[-2], batch[-1]]
    for report in sample:
        service.submit_ok(single, {**report, "branch": "main"})
    one_by_one = stored_bodies(settings, "single")
    for report in sample:
        assert one_by_one[report["commitSha"]] == taken[report["commitSha"]]
    # So one of them sent again to the batch's integration is a replay.
    again = service.submit_ok(batched, {**batch[10], "branch": "main"})
    assert again["id"] == response.json()["reportIds"][10]


def test_a_large_batch_with_a_bad_report_late_in_it_stores_nothing(
    service: ServiceClient, settings: Settings
) -> None:
    (key,) = service.put_integration("payments")
    batch = reports()
    batch[-3]["policyResults"][0]["message"] = "see /etc/clef/secrets/prod.enc.yaml"
    response = post(service, key, encoded(batch))
    assert response.status_code == 422
    assert [entry["field"] for entry in response.json()["detail"]] == [
        f"reports[{COUNT - 3}].policyResults[0].message"
    ]
    assert stored_reports(settings) == 0


def test_a_large_batch_of_bad_reports_lists_a_bounded_number_of_errors(
    service: ServiceClient, settings: Settings
) -> None:
    (key,) = service.put_integration("payments")
    batch = reports()
    for report in batch:
        report["branch"] = "has space"
    response = post(service, key, encoded(batch))
    assert response.status_code == 422
    fields = [entry["field"] for entry in response.json()["detail"]]
    assert fields == [f"reports[{index}].branch" for index in range(MOST_ERRORS)]
    assert stored_reports(settings) == 0


def test_a_large_body_that_is_not_json_says_where_it_breaks(service: ServiceClient) -> None:
    (key,) = service.put_integration("payments")
    body = encoded(reports())
    lines = body.count(b"\n")
    cases = {
        # A stray character on the last line but one.
        body[: body.rindex(b"\n")] + b"\n oops\n}": (lines + 1, 2),
        # Cut short: the end of the body.
        body[:-3]: (lines, 2),
        # A lone surrogate escape in the first report's message.
        body.replace(b'"message": "', b'"message": "\\ud800', 1): None,
    }
    for broken, position in cases.items():
        response = post(service, key, broken)
        assert response.status_code == 422, response.text
        (entry,) = response.json()["detail"]
        assert entry["field"] == "body"
        assert entry["msg"].startswith("body is not valid JSON at line ")
        if position is not None:
            assert (
                entry["msg"] == f"body is not valid JSON at line {position[0]} column {position[1]}"
            )


def test_a_large_batch_with_a_wrong_envelope_is_a_422_naming_it(
    service: ServiceClient, settings: Settings
) -> None:
    (key,) = service.put_integration("payments")
    batch = reports()
    unknown = post(service, key, large({"reports": batch, "/srv/secrets.enc.yaml": 1}))
    assert unknown.status_code == 422
    (entry,) = unknown.json()["detail"]
    assert entry["field"] == "body"
    assert "/srv/secrets.enc.yaml" not in unknown.text
    not_a_list = post(service, key, large({"reports": {"a": batch}}))
    assert [entry["field"] for entry in not_a_list.json()["detail"]] == ["reports"]
    not_an_object = post(service, key, large(batch))
    assert not_an_object.status_code == 422
    assert [entry["field"] for entry in not_an_object.json()["detail"]] == ["body"]
    missing = post(service, key, large({"report": batch}))
    assert sorted(entry["field"] for entry in missing.json()["detail"]) == ["body", "reports"]
    assert stored_reports(settings) == 0
