"""Keep secret-shaped data out: refuse it at the report API, redact it at OTLP.

Clef Pro promises that it never holds file paths, key names, recipients, key
identifiers, SOPS metadata or environment variables. The CLI composes its
text locally, so a bug or a hostile client could still put such data in any
string of a report. Every string passes through :func:`find_secret_shape`
before a report is accepted; at the OTLP door, where refusing would fail the
user's CI, :func:`redact` cuts the shapes out instead.

The engine is small and pure: :mod:`.normalise` folds the disguises away
(Unicode compatibility forms, look-alike letters, invisible characters,
percent-encoding), :mod:`.rules` holds one linear-time RE2 pattern per shape,
each behind a cheap literal or length guard, and :mod:`.engine` runs them.
Findings name a *kind* of data, never the matched text: an error that echoed
the value would leak it into logs and HTTP responses.
"""

from clef_pro.domain.screening.controls import find_control_character, strip_control_characters
from clef_pro.domain.screening.engine import REDACTED, find_secret_shape, redact

__all__ = [
    "REDACTED",
    "find_control_character",
    "find_secret_shape",
    "redact",
    "strip_control_characters",
]
