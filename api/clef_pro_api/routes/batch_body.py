"""The body of ``POST /api/v1/reports/batch``, taken one report at a time.

A batch may be as large as the body limit (32 MiB: some 15,000 reports).
Parsed and validated as one model it would exist whole three times over (the
bytes, the parser's tree, the models), past a replica's memory limit, and
every garbage collection while the models pile up walks all of them with the
GIL held: seconds in which the event loop answers nothing, ``/healthz``
included. So, in a worker thread:

1. one pass of msgspec over the bytes checks the JSON syntax of the whole
   body and yields each report's raw JSON as a zero-copy view of the body;
2. each report is validated and screened on its own by the one ``Report``
   model (the GIL can change hands between reports, and within one, as its
   screening runs), then kept as a compact
   :class:`~clef_pro_api.services.ingest.HistoryReport` (its stored body as
   JSON bytes) until storage, except the last, the HEAD, kept as a model.

What is refused is refused as one ``pydantic`` pass over the whole body would
refuse it: the same ``422`` entries, located at ``reports[i]``; a small body
that fails is read again that way so that its errors are exactly those. A
large one lists at most :data:`MOST_ERRORS` entries: past them, the rest of
a hostile body is not worth the work.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, NoReturn

import msgspec
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from clef_pro.domain.report import Report, ReportBatch
from clef_pro_api.errors import json_syntax_error
from clef_pro_api.routes.bodies import SURROGATE_RETRY_LIMIT, parse_json, validation_errors
from clef_pro_api.services.ingest import HistoryReport

#: The most ``422`` entries a large refused batch lists.
MOST_ERRORS: Final = 100

#: Bodies up to this size that are refused are parsed again whole, so that
#: their errors are exactly those of one pass (the same limit as the one
#: under which a lone surrogate escape is read again to name its field).
EXACT_ERRORS_LIMIT: Final = SURROGATE_RETRY_LIMIT

_BYTE: Final = re.compile(r"\(byte (\d+)\)")
#: A high surrogate escape not followed by a low one: JSON allows it, msgspec
#: refuses it without saying where.
_LONE_SURROGATE: Final = re.compile(
    rb"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})|\\u[dD][c-fC-F]"
)


class _Envelope(msgspec.Struct, forbid_unknown_fields=True):
    """``ReportBatch`` with each report left as raw JSON."""

    reports: list[msgspec.Raw]


@dataclass(frozen=True, slots=True)
class ParsedBatch:
    #: Every report but the last, oldest first.
    history: list[HistoryReport]
    #: The last report: the only one that may become HEAD.
    head: Report

    @classmethod
    def of(cls, batch: ReportBatch) -> ParsedBatch:
        *history, head = batch.reports
        return cls([HistoryReport.of(report) for report in history], head)


def parse_batch(body: bytes | bytearray, *, context: Mapping[str, Any]) -> ParsedBatch:
    """Parse, validate and screen a batch body; ``422`` as :func:`parse_json` would.

    Call it in a worker thread: it is CPU work proportional to the body.
    """
    try:
        raws = msgspec.json.decode(body, type=_Envelope).reports
    except msgspec.DecodeError as exc:  # not JSON, or (ValidationError) not a batch
        if len(body) <= EXACT_ERRORS_LIMIT:
            return ParsedBatch.of(parse_json(ReportBatch, body, context=context))
        if isinstance(exc, msgspec.ValidationError):
            _refuse_envelope(body)
        _refuse_syntax(body, str(exc))
    if not raws:
        _refuse_envelope(body)

    validation_context = dict(context)
    history: list[HistoryReport] = []
    head: Report | None = None
    errors: list[dict[str, Any]] = []
    last = len(raws) - 1
    for index, raw in enumerate(raws):
        try:
            report = Report.model_validate_json(bytes(raw), context=validation_context)
        except ValidationError as exc:
            errors.extend(validation_errors(exc, at=("reports", index)))
            if len(errors) >= MOST_ERRORS:
                break
            continue
        if errors:
            continue  # refused already: only the errors still matter
        if index == last:
            head = report
        else:
            history.append(HistoryReport.of(report))
    del raws  # the views into ``body``: the caller may release it now
    if errors:
        if len(body) <= EXACT_ERRORS_LIMIT:
            parse_json(ReportBatch, body, context=context)
        raise RequestValidationError(errors[:MOST_ERRORS])
    assert head is not None
    return ParsedBatch(history, head)


def _refuse_syntax(body: bytes | bytearray, message: str) -> NoReturn:
    """A ``422`` saying where a large body stops being JSON."""
    found = _BYTE.search(message)
    if found is not None:
        offset = int(found[1])
    else:
        # "Input data was truncated": the end of the body, or a lone surrogate.
        surrogate = _LONE_SURROGATE.search(body)
        offset = surrogate.start() if surrogate is not None else len(body)
    line = body.count(b"\n", 0, offset) + 1
    column = offset - (body.rfind(b"\n", 0, offset) + 1) + 1
    raise RequestValidationError([json_syntax_error(line, column)])


def _refuse_envelope(body: bytes | bytearray) -> NoReturn:
    """The ``422`` of a body whose envelope (``{"reports": [...]}``) is wrong,
    from ``ReportBatch`` itself, over a stand-in without the reports' content."""
    try:
        top = msgspec.json.decode(body, type=dict[str, msgspec.Raw])
    except msgspec.ValidationError:
        stand_in: Any = None  # not an object
    else:
        stand_in = dict.fromkeys(top, 0)
        reports = top.get("reports")
        if reports is not None and memoryview(reports)[:1].tobytes() == b"[":
            emptiness = msgspec.json.decode(reports, type=list[msgspec.Raw])
            stand_in["reports"] = [{}] if emptiness else []
            del emptiness
        del top, reports
    try:
        ReportBatch.model_validate_json(json.dumps(stand_in))
    except ValidationError as exc:
        errors = [
            error
            for error in validation_errors(exc)
            # The stand-in of a non-empty list of reports is not a report.
            if error["loc"][:2] != ("body", "reports") or len(error["loc"]) == 2
        ]
        raise RequestValidationError(errors) from None
    raise AssertionError("a batch envelope msgspec refused was accepted")
