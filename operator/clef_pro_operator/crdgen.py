"""Generate the CRDs and their reference docs from :mod:`clef_pro_operator.resources`.

Kubernetes wants *structural* OpenAPI schemas: every node typed, no ``$ref``,
no ``anyOf`` with types inside, no ``additionalProperties`` beside
``properties``. Pydantic emits JSON Schema, so this module inlines references,
turns ``X | None`` into an optional ``X`` and drops what Kubernetes does not
accept. The output is deterministic so a test can compare it with the files in
``crds/`` and ``docs/crds.md``::

    python -m clef_pro_operator.crdgen          # rewrite crds/ and docs/crds.md
    python -m clef_pro_operator.crdgen --check  # exit 1 if they are stale
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

from clef_pro_operator.resources import API_VERSION, CATEGORY, GROUP, KINDS, VERSION, Kind

_KEEP = {
    "type",
    "description",
    "properties",
    "required",
    "items",
    "enum",
    "pattern",
    "format",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "additionalProperties",
    "default",
    "x-kubernetes-validations",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-preserve-unknown-fields",
}
_BOUNDS = {"maxLength": "maxLength", "minLength": "minLength"}


def structural(
    node: dict[str, Any], defs: dict[str, Any], *, keep_defaults: bool
) -> dict[str, Any]:
    """One pydantic JSON Schema node as a Kubernetes structural schema node."""
    if "$ref" in node:
        target = defs[node["$ref"].rsplit("/", 1)[-1]]
        merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return structural(merged, defs, keep_defaults=keep_defaults)
    if "anyOf" in node:
        options = [option for option in node["anyOf"] if option.get("type") != "null"]
        if len(options) != 1:
            raise ValueError(f"unions are not structural: {node}")
        merged = {**options[0], **{k: v for k, v in node.items() if k != "anyOf"}}
        merged.pop("default", None)  # the default of an optional field is "absent"
        return structural(merged, defs, keep_defaults=keep_defaults)
    if "const" in node:
        node = {**node, "enum": [node["const"]]}
    if "enum" in node and "type" not in node:
        node = {**node, "type": "string"}

    out: dict[str, Any] = {}
    for key, value in node.items():
        if key not in _KEEP or (key == "default" and not keep_defaults):
            continue
        if key == "properties":
            out[key] = {
                name: structural(child, defs, keep_defaults=keep_defaults)
                for name, child in value.items()
            }
        elif key == "items" or (key == "additionalProperties" and isinstance(value, dict)):
            out[key] = structural(value, defs, keep_defaults=keep_defaults)
        elif key == "additionalProperties":
            continue  # `false` is not structural; the API server prunes unknown fields
        elif key == "maxLength" and node.get("type") == "array":
            out["maxItems"] = value
        elif key == "minLength" and node.get("type") == "array":
            out["minItems"] = value
        elif key == "maxLength" and node.get("type") == "object":
            out["maxProperties"] = value
        else:
            out[key] = value
    if (
        out.get("type") == "object"
        and "properties" not in out
        and "additionalProperties" not in out
    ):
        out["properties"] = {}
    if "required" in out:
        out["required"] = sorted(out["required"])
    return out


def _schema_of(model: type[Any], *, keep_defaults: bool) -> dict[str, Any]:
    raw = model.model_json_schema(by_alias=True, mode="validation")
    return structural(raw, raw.get("$defs", {}), keep_defaults=keep_defaults)


def crd(kind: Kind) -> dict[str, Any]:
    root: dict[str, Any] = {
        "type": "object",
        "description": kind.description,
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": _schema_of(kind.spec, keep_defaults=True),
            "status": _schema_of(kind.status, keep_defaults=False),
        },
        "required": ["spec"],
    }
    if kind.root_rules:
        root["x-kubernetes-validations"] = list(kind.root_rules)
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{kind.plural}.{GROUP}",
            "labels": {"app.kubernetes.io/part-of": "clef-pro"},
        },
        "spec": {
            "group": GROUP,
            "names": {
                "kind": kind.kind,
                "listKind": f"{kind.kind}List",
                "plural": kind.plural,
                "singular": kind.kind.lower(),
                "shortNames": list(kind.short_names),
                "categories": [CATEGORY],
            },
            "scope": "Namespaced",
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": root},
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": list(kind.printer_columns),
                }
            ],
        },
    }


HEADER = (
    "# Generated from operator/clef_pro_operator/resources.py by\n"
    "# `python -m clef_pro_operator.crdgen`. Do not edit by hand.\n"
)


def render_crd(kind: Kind) -> str:
    return HEADER + yaml.safe_dump(crd(kind), sort_keys=False, width=100)


def crd_filename(kind: Kind) -> str:
    return f"{GROUP}_{kind.plural}.yaml"


# ------------------------------------------------------------------ docs


def _type_of(node: dict[str, Any]) -> str:
    kind = node.get("type", "object")
    if kind == "array":
        return f"[]{_type_of(node.get('items', {}))}"
    if kind == "object" and "additionalProperties" in node:
        return f"map[string]{_type_of(node['additionalProperties'])}"
    if "enum" in node:
        return " \\| ".join(f"`{value}`" for value in node["enum"])
    return str(kind)


def _constraints(node: dict[str, Any]) -> str:
    parts = []
    for key, label in (
        ("pattern", "pattern"),
        ("minLength", "min length"),
        ("maxLength", "max length"),
        ("minimum", "min"),
        ("maximum", "max"),
        ("minItems", "min items"),
        ("maxItems", "max items"),
        ("format", "format"),
    ):
        if key in node:
            parts.append(f"{label} `{node[key]}`")
    parts += [f"rule: {rule['message']}" for rule in node.get("x-kubernetes-validations", [])]
    return "; ".join(parts)


def _rows(node: dict[str, Any], prefix: str) -> list[str]:
    rows = []
    required = set(node.get("required", []))
    for name, child in node.get("properties", {}).items():
        path = f"{prefix}.{name}"
        default = (
            f"`{yaml.safe_dump(child['default'], default_flow_style=True).strip()}`"
            if "default" in child
            else ""
        )
        description = " ".join(child.get("description", "").split())
        rows.append(
            f"| `{path}` | {_type_of(child)} | {'yes' if name in required else ''} | {default} "
            f"| {description} {_constraints(child)} |".replace("  ", " ")
        )
        target = child.get("items", child) if child.get("type") == "array" else child
        if target.get("properties"):
            rows += _rows(target, f"{path}[]" if child.get("type") == "array" else path)
    return rows


def render_docs() -> str:
    lines = [
        "# Custom resources reference",
        "",
        f"Group `{GROUP}`, version `{VERSION}` (`apiVersion: {API_VERSION}`), all namespaced, "
        f"all in the `{CATEGORY}` category (`kubectl get {CATEGORY}`).",
        "Generated from `operator/clef_pro_operator/resources.py` by "
        "`python -m clef_pro_operator.crdgen`; do not edit by hand.",
    ]
    for kind in KINDS:
        schema = crd(kind)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        lines += [
            "",
            f"## {kind.kind}",
            "",
            kind.description,
            "",
            f"Short names: {', '.join(f'`{n}`' for n in kind.short_names)}. "
            f"Columns: {', '.join(c['name'] for c in kind.printer_columns)}.",
        ]
        for rule in schema.get("x-kubernetes-validations", []):
            lines.append(f"Rule: {rule['message']}.")
        for part in ("spec", "status"):
            lines += [
                "",
                f"### {part}",
                "",
                "| field | type | required | default | description |",
                "|---|---|---|---|---|",
                *_rows(schema["properties"][part], part),
            ]
            rules = schema["properties"][part].get("x-kubernetes-validations", [])
            lines += ["", *[f"- Rule: {rule['message']}." for rule in rules]] if rules else []
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ files


def generated_files(repo: Path) -> dict[Path, str]:
    files = {repo / "crds" / crd_filename(kind): render_crd(kind) for kind in KINDS}
    files[repo / "docs" / "crds.md"] = render_docs()
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repo", type=Path, default=Path(__file__).resolve().parents[2])
    parser.add_argument("--check", action="store_true", help="fail if the files are stale")
    args = parser.parse_args(argv)
    stale = []
    for path, text in generated_files(args.repo).items():
        current = path.read_text() if path.exists() else None
        if current == text:
            continue
        stale.append(path)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    if args.check and stale:
        print("stale generated files (run python -m clef_pro_operator.crdgen):", file=sys.stderr)
        for path in stale:
            print(f"  {path}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
