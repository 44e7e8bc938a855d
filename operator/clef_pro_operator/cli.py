"""``clef-pro operator``: run the Kopf operator."""

from __future__ import annotations

import logging

import click
import kopf

from clef_pro_operator import handlers  # noqa: F401 - importing registers the handlers


@click.command()
@click.option(
    "-n", "--namespace", "namespaces", multiple=True, help="Watch this namespace (repeatable)."
)
@click.option("-A", "--all-namespaces", is_flag=True, help="Watch every namespace.")
@click.option(
    "--peering",
    "peering_name",
    default=None,
    help="Kopf peering shared by replicas so only one is active (needs Kopf's peering CRDs).",
)
@click.option(
    "--liveness",
    "liveness_endpoint",
    default="http://0.0.0.0:8081/healthz",
    show_default=True,
    help="Where the liveness probe is served; it fails when the operator stops making progress.",
)
@click.option("-v", "--verbose", is_flag=True, help="Log handler details.")
def operator(
    namespaces: tuple[str, ...],
    all_namespaces: bool,
    peering_name: str | None,
    liveness_endpoint: str,
    verbose: bool,
) -> None:
    """Reconcile Integration, Policy and NotificationChannel resources."""
    if not namespaces and not all_namespaces:
        raise click.UsageError("say which namespaces to watch: --namespace NS (repeatable) or -A")
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    kopf.run(
        clusterwide=all_namespaces,
        namespaces=namespaces,
        standalone=peering_name is None,
        peering_name=peering_name,
        liveness_endpoint=liveness_endpoint or None,
    )
