"""The canonical JSON of a stored body is the one its digest was always of:
byte for byte what ``json.dumps`` with sorted keys, no spaces and UTF-8 wrote
when the digests already stored were made. A digest that changed would turn
every resubmitted commit into a changed report."""

from __future__ import annotations

import json
from typing import Any, Final

from hypothesis import given
from hypothesis import strategies as st

from clef_pro.domain.report import Report, canonical_json, content_digest
from tests.support.contract import example

#: Any text but lone surrogates, which neither writer can encode as UTF-8.
text: Final = st.text(st.characters(exclude_categories=["Cs"]))
#: Every kind of value a stored body holds; any text (controls, quotes,
#: backslashes, non-BMP characters), integers of any size.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | text,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(text, children, max_size=5),
    max_leaves=30,
)


def as_json_dumps_wrote_it(body: Any) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@given(json_values)
def test_canonical_json_is_what_json_dumps_wrote(body: Any) -> None:
    assert canonical_json(body) == as_json_dumps_wrote_it(body)


def test_the_spec_example_keeps_the_digest_it_had() -> None:
    body = Report.model_validate(example("report-spec.json")).stored_body(keep_ci_context=True)
    assert content_digest(body) == (
        "ed7ca25d719a66a9ef28164c87d3902a0b3593e663681593d800bb45a6abb70d"
    )


def test_no_report_field_is_a_float() -> None:
    # Floats are the one kind of value the two writers would write differently.
    schema = json.dumps(Report.model_json_schema())
    assert '"number"' not in schema
