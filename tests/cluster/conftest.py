"""Fixtures of the cluster tests: one real node with Clef Pro installed, per session.

Why a session: bringing the node up and installing the release takes minutes,
and the tests follow one release through its life (install, use, upgrade,
uninstall), as a platform team would.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.cluster import Cluster, build_cluster_parts, installed_cluster


def pytest_collection_finish(session: pytest.Session) -> None:
    """Build the node's parts before the first test, outside any test's timeout."""
    if session.config.option.collectonly:
        return
    if any(item.get_closest_marker("cluster") for item in session.items):
        build_cluster_parts()


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with installed_cluster(tmp_path_factory.mktemp("cluster")) as running:
        yield running
