"""Canonical policy scopes.

The CLI sends a scope as ``{"namespace": ..., "environment": ...}`` (either key
may be missing) while the product spec writes ``"namespace/environment"``. An
alert's identity includes its scope, so both forms must collapse to one string,
or the same violation sent by two CLI versions would open two alerts.

Canonical form: ``namespace/environment``, with ``*`` for a missing part, and
``*`` alone for a result that applies to the whole integration.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Final

WILDCARD: Final = "*"

#: Namespace and environment names: what a Clef manifest allows, and no path separators.
NAME_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"
_NAME = re.compile(NAME_PATTERN)
#: Scopes kept by :meth:`Scope.of` and :meth:`Scope.parse` (each a few hundred bytes).
_KEPT: Final = 4096


@dataclass(frozen=True, slots=True)
class Scope:
    """Where a policy result applies; ``None`` parts mean 'every'."""

    namespace: str | None = None
    environment: str | None = None

    def __post_init__(self) -> None:
        for part in (self.namespace, self.environment):
            if part is not None and not _NAME.match(part):
                raise ValueError(
                    "scope parts must be namespace or environment names "
                    "(letters, digits, '.', '_' or '-', at most 128)"
                )

    @property
    def canonical(self) -> str:
        if self.namespace is None and self.environment is None:
            return WILDCARD
        return f"{self.namespace or WILDCARD}/{self.environment or WILDCARD}"

    @classmethod
    @functools.lru_cache(maxsize=_KEPT)
    def of(cls, namespace: str | None, environment: str | None) -> Scope:
        """``Scope(namespace, environment)``, kept: a repository has a few
        scopes, which every report repeats (each result's scope is read on
        validation, storing and alerting; a batch has thousands of reports)."""
        return cls(namespace, environment)

    @classmethod
    @functools.lru_cache(maxsize=_KEPT)
    def parse(cls, text: str) -> Scope:
        """Read the spec's string form (``ns/env``, ``ns``, ``*/env`` or ``*``);
        kept as :meth:`of` is."""
        if text in ("", WILDCARD):
            return cls()
        namespace, sep, environment = text.partition("/")
        if sep and "/" in environment:
            raise ValueError("scope must be 'namespace/environment'")
        return cls(
            namespace=None if namespace == WILDCARD else namespace,
            environment=None if (not sep or environment == WILDCARD) else environment,
        )

    def is_covered_by(self, namespaces: Collection[str], environments: Collection[str]) -> bool:
        """Whether a report whose summary lists these names evaluated this scope.

        A report filtered to other namespaces must not resolve anything outside
        them, so an alert may only be resolved by the *absence* of its result
        when every named part of its scope is in the report's summary. A part
        that is missing ('every namespace') is covered by any report.
        """
        if self.namespace is not None and self.namespace not in namespaces:
            return False
        return self.environment is None or self.environment in environments
