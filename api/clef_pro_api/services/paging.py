"""Opaque keyset cursors: (sort position, row id) of a page's last row.

Keyset paging keeps deep pages as cheap as the first; the cursor is only
base64 of JSON, so every decoder checks what it got and refuses anything this
API did not hand out, naming the ``cursor`` parameter.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime

from clef_pro_api.services.errors import InvalidParameter

_NOT_OURS = "is not one this API returned"


def encode_cursor(position: int | str, row_id: str) -> str:
    raw = json.dumps([position, row_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, position_type: type[int] | type[str]) -> tuple[int | str, str]:
    """The (position, row id) of ``cursor``; ``position`` is of ``position_type``."""
    try:
        position, row_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError, binascii.Error):
        raise InvalidParameter("cursor", _NOT_OURS) from None
    if type(position) is not position_type or not isinstance(row_id, str):
        raise InvalidParameter("cursor", _NOT_OURS)
    return position, row_id


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
