"""An old commit found by prefix reads a range of the (integration, commit)
index: every sha with the prefix, and no other, lies in [prefix, upper)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clef_pro_api.services.views import prefix_upper_bound

HEX = "0123456789abcdef"
shas = st.text(alphabet=HEX, min_size=7, max_size=64)
prefixes = st.text(alphabet=HEX, min_size=1, max_size=12)


@pytest.mark.parametrize(
    ("prefix", "upper"),
    [("abc1", "abc2"), ("abc9", "abca"), ("abcf", "abcg"), ("0", "1"), ("f", "g")],
)
def test_the_upper_bound_raises_the_last_digit(prefix: str, upper: str) -> None:
    assert prefix_upper_bound(prefix) == upper


@pytest.mark.parametrize("prefix", ["", "ABC1", "abc%", "abc_", "xyz1", "ab c"])
def test_what_no_stored_sha_starts_with_has_no_range(prefix: str) -> None:
    assert prefix_upper_bound(prefix) is None


@given(prefix=prefixes, sha=shas)
def test_a_sha_is_in_the_range_exactly_when_it_starts_with_the_prefix(
    prefix: str, sha: str
) -> None:
    upper = prefix_upper_bound(prefix)
    assert upper is not None
    assert (prefix <= sha < upper) == sha.startswith(prefix)


@given(prefix=prefixes, sha=shas)
def test_a_sha_that_extends_the_prefix_is_always_in_its_range(prefix: str, sha: str) -> None:
    extended = (prefix + sha)[:64]
    upper = prefix_upper_bound(prefix)
    assert upper is not None
    assert prefix <= extended < upper
