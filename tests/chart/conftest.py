"""Fixtures of the chart tests: the helm binary built under hack/envtest."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.chart import helm_binary
from tests.support.envtest import build_binaries


def pytest_collection_finish(session: pytest.Session) -> None:
    """Build helm (with the control plane binaries) before the first test.

    A cold build takes minutes; done in a fixture it would count against the
    first test's timeout. A no-op when the cache is warm or no helm test runs.
    """
    if session.config.option.collectonly:
        return
    if any(item.get_closest_marker("helm") for item in session.items):
        build_binaries()


@pytest.fixture(scope="session")
def helm() -> Path:
    return helm_binary()
