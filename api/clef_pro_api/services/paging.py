"""Opaque keyset cursors: (sort position, row id) of a page's last row.

Keyset paging keeps deep pages as cheap as the first; the cursor is only
base64 of JSON, so every decoder checks what it got and refuses anything this
API did not hand out, naming the ``cursor`` parameter.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime

from clef_pro.domain.screening import find_control_character
from clef_pro_api.services.errors import InvalidParameter

_NOT_OURS = "is not one this API returned"
#: Positions are 64-bit integers in both databases; a larger one would fail
#: in the driver (a 500), not compare.
_POSITION_RANGE = range(-(2**63), 2**63)
#: Row ids are UUIDs this API made; a NUL or control character in one would
#: fail on PostgreSQL and be looked up on SQLite.
_LONGEST_ROW_ID = 64


def encode_cursor(position: int | str, row_id: str) -> str:
    raw = json.dumps([position, row_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, position_type: type[int] | type[str]) -> tuple[int | str, str]:
    """The (position, row id) of ``cursor``; ``position`` is of ``position_type``."""
    try:
        position, row_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError, binascii.Error):
        raise InvalidParameter("cursor", _NOT_OURS) from None
    if type(position) is not position_type or not _storable_text(row_id, _LONGEST_ROW_ID):
        raise InvalidParameter("cursor", _NOT_OURS)
    if isinstance(position, int) and position not in _POSITION_RANGE:
        raise InvalidParameter("cursor", _NOT_OURS)
    if isinstance(position, str) and not _storable_text(position, _LONGEST_ROW_ID):
        raise InvalidParameter("cursor", _NOT_OURS)
    return position, row_id


def _storable_text(value: object, longest: int) -> bool:
    return (
        isinstance(value, str) and len(value) <= longest and find_control_character(value) is None
    )


def decode_micros_cursor(cursor: str) -> tuple[datetime, str]:
    """A cursor whose position is a moment in epoch microseconds."""
    position, row_id = decode_cursor(cursor, int)
    try:
        moment = datetime.fromtimestamp(int(position) / 1_000_000, UTC)
    except (OverflowError, ValueError, OSError):
        raise InvalidParameter("cursor", _NOT_OURS) from None
    return moment, row_id


def decode_time_cursor(cursor: str) -> tuple[datetime, str]:
    """A cursor whose position is a moment (an aware ISO 8601 time)."""
    position, row_id = decode_cursor(cursor, str)
    try:
        moment = datetime.fromisoformat(str(position))
    except ValueError:
        raise InvalidParameter("cursor", _NOT_OURS) from None
    if moment.tzinfo is None:
        raise InvalidParameter("cursor", _NOT_OURS)
    return moment, row_id
