from __future__ import annotations

import pytest

from clef_pro_api.services.errors import InvalidParameter
from clef_pro_api.services.paging import decode_cursor, encode_cursor


@pytest.mark.parametrize("position", [1763900000000, "2026-11-23T21:00:00+00:00"])
def test_a_cursor_round_trips_its_position_and_row(position: int | str) -> None:
    cursor = encode_cursor(position, "row-1")
    assert decode_cursor(cursor, type(position)) == (position, "row-1")


@pytest.mark.parametrize(
    "cursor", ["not-a-cursor", encode_cursor("text", "row"), encode_cursor(1, "row")[:-3], ""]
)
def test_forged_or_foreign_cursors_are_refused_naming_the_parameter(cursor: str) -> None:
    with pytest.raises(InvalidParameter) as refused:
        decode_cursor(cursor, int)
    assert refused.value.name == "cursor"


def test_a_cursor_keeps_a_long_text_position() -> None:
    # Integrations page by display name, which may be 200 characters long.
    name = "N" * 200
    assert decode_cursor(encode_cursor(name, "acme"), str) == (name, "acme")


@pytest.mark.parametrize(
    "position",
    [2**63, -(2**63) - 1, "a\x00b", "x" * 1001],
    ids=["2**63", "-2**63-1", "nul", "long"],
)
def test_a_position_no_database_can_compare_is_refused(position: int | str) -> None:
    with pytest.raises(InvalidParameter):
        decode_cursor(encode_cursor(position, "row"), type(position))


def test_a_row_id_with_a_nul_is_refused() -> None:
    with pytest.raises(InvalidParameter):
        decode_cursor(encode_cursor(5, "row\x00"), int)
