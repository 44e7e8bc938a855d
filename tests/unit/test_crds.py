"""The CRDs and their docs are generated from one definition, and are structural."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from clef_pro_operator.crdgen import crd, generated_files
from clef_pro_operator.resources import KINDS, Kind

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("path", sorted(generated_files(REPO)), ids=lambda p: p.name)
def test_generated_files_in_the_repository_are_current(path: Path) -> None:
    assert path.read_text() == generated_files(REPO)[path], (
        "stale: run `python -m clef_pro_operator.crdgen`"
    )


def _walk(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    found = []
    if isinstance(node, dict):
        found.append((path, node))
        for key, child in node.items():
            found += _walk(child, f"{path}.{key}")
    elif isinstance(node, list):
        for index, child in enumerate(node):
            found += _walk(child, f"{path}[{index}]")
    return found


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.kind)
def test_schemas_are_structural(kind: Kind) -> None:
    schema = crd(kind)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    for path, node in _walk(schema):
        assert "$ref" not in node, path
        assert "anyOf" not in node, path
        assert "title" not in node, path
        if "properties" in node and not path.endswith(".properties"):
            assert node.get("type") == "object", path
            assert "additionalProperties" not in node, path


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.kind)
def test_every_kind_has_status_printer_columns_and_the_clef_category(kind: Kind) -> None:
    version = crd(kind)["spec"]["versions"][0]
    assert version["subresources"] == {"status": {}}
    assert version["additionalPrinterColumns"][0]["name"] == "Ready"
    assert crd(kind)["spec"]["names"]["categories"] == ["clef"]


def test_the_crd_files_parse_as_the_generator_built_them() -> None:
    for kind in KINDS:
        path = REPO / "crds" / f"pro.clef.sh_{kind.plural}.yaml"
        assert yaml.safe_load(path.read_text()) == crd(kind)
