"""Fixtures for tests that need a real Kubernetes control plane.

Why here and not via ``pytest_plugins``: pytest only honours that in the
top-level conftest, so the envtest fixtures are imported into this package's
namespace instead, which scopes them to ``tests/k8s``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.envtest import ControlPlane, build_binaries, control_plane, k8s_namespace

__all__ = ["clef_crds", "control_plane", "k8s_namespace", "operator_account"]

CRDS = Path(__file__).resolve().parents[2] / "crds"
#: Where the operator's ServiceAccount lives in the operator and ownership tests.
OPERATOR_NAMESPACE = "clef-pro-system"
OPERATOR_ACCOUNT = "clef-pro-operator"


@pytest.fixture(scope="session")
def operator_account(control_plane: ControlPlane) -> str:
    """The operator's ServiceAccount as ``namespace:name``, created once."""
    control_plane.kubectl("create", "namespace", OPERATOR_NAMESPACE)
    control_plane.kubectl("create", "serviceaccount", OPERATOR_ACCOUNT, "-n", OPERATOR_NAMESPACE)
    return f"{OPERATOR_NAMESPACE}:{OPERATOR_ACCOUNT}"


@pytest.fixture(scope="session")
def clef_crds(control_plane: ControlPlane) -> ControlPlane:
    """Clef Pro's CRDs, installed once for the session from ``crds/``.

    ``--force-conflicts``: a Helm release installed by the chart tests may own
    the same CRDs; the content is identical, only the field manager differs.
    """
    control_plane.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CRDS))
    control_plane.kubectl("wait", "--for=condition=Established", "--timeout=60s", "-f", str(CRDS))
    return control_plane


def pytest_collection_finish(session: pytest.Session) -> None:
    """Build the binaries before the first test, outside any per-test timeout.

    A cold build takes minutes; done in the session fixture it would count
    against the first test's timeout. Skipped when no selected test uses k8s.
    """
    if session.config.option.collectonly:
        return
    if any(item.get_closest_marker("k8s") for item in session.items):
        build_binaries()
