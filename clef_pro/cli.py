"""``clef-pro``: one command line for every part of Clef Pro.

This is the composition root, the only module that may import both the
service and the operator; each subcommand imports its part lazily so that
``clef-pro serve`` never loads Kubernetes libraries and vice versa.
"""

from __future__ import annotations

import importlib

import click

#: subcommand -> "module:attribute" of the click command that implements it.
COMMANDS = {
    "serve": "clef_pro_api.cli:serve",
    "migrate": "clef_pro_api.cli:migrate",
    "integrations": "clef_pro_api.manage:integrations",
    "keys": "clef_pro_api.manage:keys",
    "operator": "clef_pro_operator.cli:operator",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, attribute = target.split(":")
        command: click.Command = getattr(importlib.import_module(module), attribute)
        return command


@click.group(cls=LazyGroup, invoke_without_command=True)
@click.version_option(package_name="clef-pro")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Clef Pro: reports, matrix, drift and alerts for Clef secrets governance."""
    # Bare ``clef-pro`` is someone asking what there is: answer, and succeed.
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())
