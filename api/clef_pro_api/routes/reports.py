"""The contract's write side: ``POST /api/v1/reports`` and ``/reports/batch``."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from fastapi import APIRouter
from sqlalchemy.orm import Session

from clef_pro.domain.report import Report, ReportBatch
from clef_pro_api import metrics, schemas
from clef_pro_api.deps import CIKeyDep, OutboxWakerDep, SessionDep
from clef_pro_api.services import ingest

router = APIRouter(prefix="/api/v1/reports", tags=["reports (CLI contract)"])


def _ingest(
    session: Session,
    integration_id: str,
    reports: Sequence[Report],
    kind: str,
    wake_sender: Callable[[], None],
) -> ingest.IngestResult:
    started = time.perf_counter()
    result = ingest.ingest(session, integration_id, reports)
    session.commit()
    metrics.INGEST_SECONDS.labels(kind).observe(time.perf_counter() - started)
    for event in result.events:
        metrics.ALERT_EVENTS.labels(event.event.value).inc()
    for notification in result.notifications:
        metrics.NOTIFICATIONS_QUEUED.labels(notification.channel_type).inc()
    if result.notifications:
        wake_sender()
    return result


@router.post("", response_model=schemas.ReportAccepted)
def submit_report(
    report: Report, caller: CIKeyDep, session: SessionDep, wake_sender: OutboxWakerDep
) -> schemas.ReportAccepted:
    """Store one commit's report. Resubmitting a commit replaces its report
    idempotently: same id, same alert state, no second notification."""
    result = _ingest(session, caller.integration_id, [report], "single", wake_sender)
    row = result.reports[0]
    return schemas.ReportAccepted(id=row.id, commit_sha=row.commit_sha)


@router.post("/batch", response_model=schemas.BatchAccepted)
def submit_batch(
    batch: ReportBatch, caller: CIKeyDep, session: SessionDep, wake_sender: OutboxWakerDep
) -> schemas.BatchAccepted:
    """Backfill after a gap, oldest first, all or nothing. Only the last
    report (the HEAD of the batch) moves alerts and the matrix."""
    result = _ingest(session, caller.integration_id, batch.reports, "batch", wake_sender)
    return schemas.BatchAccepted(
        accepted=len(result.reports), report_ids=[row.id for row in result.reports]
    )
