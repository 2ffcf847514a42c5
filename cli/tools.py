"""`provenance tools add|set|list|show`: the registry of tools and what the guidelines ask of them."""

from __future__ import annotations

import click
from provenance.cli import Context, json_option, pass_context
from provenance.cli.render import echo, emit_json, tool_json, tool_text

from provenance import schemas

__all__ = ["tools"]


TRISTATE = click.Choice(["yes", "no", "unknown"])


@click.group()
def tools() -> None:
    """Register tools: generative or not, trains on inputs, runs in a secured environment."""


@tools.command("add")
@click.argument("name")
@click.option("--vendor", help="Who makes it.")
@click.option(
    "--generative/--not-generative",
    default=False,
    show_default=True,
    help="Does it generate material with a trained model? (ML roto, denoise, tracking: no.)",
)
@click.option(
    "--trains-on-inputs",
    type=TRISTATE,
    default="unknown",
    show_default=True,
    help="Does it store, reuse or train on what you give it?",
)
@click.option(
    "--secured",
    type=TRISTATE,
    default="unknown",
    show_default=True,
    help="Does it run in an enterprise-secured environment?",
)
@json_option
@pass_context
def add(
    obj: Context,
    name: str,
    vendor: str | None,
    generative: bool,
    trains_on_inputs: str,
    secured: str,
    as_json: bool,
) -> None:
    """Register a tool. Registering it again with the same facts changes nothing."""
    with obj.open() as ledger:
        tool = ledger.add_tool(name, vendor, generative, trains_on_inputs, secured)
    _render(tool, as_json)


@tools.command("set")
@click.argument("name")
@click.option("--vendor", help="Who makes it.")
@click.option(
    "--generative/--not-generative",
    default=None,
    help="Does it generate material with a trained model?",
)
@click.option(
    "--trains-on-inputs", type=TRISTATE, help="Does it store, reuse or train on what you give it?"
)
@click.option("--secured", type=TRISTATE, help="Does it run in an enterprise-secured environment?")
@json_option
@pass_context
def set_(
    obj: Context,
    name: str,
    vendor: str | None,
    generative: bool | None,
    trains_on_inputs: str | None,
    secured: str | None,
    as_json: bool,
) -> None:
    """Change what is recorded about a registered tool (recorded as an event)."""
    with obj.open() as ledger:
        tool = ledger.set_tool(name, vendor, generative, trains_on_inputs, secured)
    _render(tool, as_json)


@tools.command("list")
@json_option
@pass_context
def list_(obj: Context, as_json: bool) -> None:
    """Every registered tool."""
    with obj.open() as ledger:
        registered = ledger.tools()
    if as_json:
        emit_json(schemas.TOOLS, {"tools": [tool_json(t) for t in registered]})
        return
    if not registered:
        echo('No tools registered. Add one with `provenance tools add "NAME" --generative`.')
    for tool in registered:
        kind = "generative" if tool.generative else "not generative"
        echo(
            f"{tool.name:<28} {tool.vendor or '-':<16} {kind:<15} "
            f"trains-on-inputs={tool.trains_on_inputs:<8} secured={tool.secured}"
        )


@tools.command("show")
@click.argument("name")
@json_option
@pass_context
def show(obj: Context, name: str, as_json: bool) -> None:
    """One tool's record."""
    with obj.open() as ledger:
        tool = ledger.tool(name)
    _render(tool, as_json)


def _render(tool: object, as_json: bool) -> None:
    from provenance.records import ToolInfo

    assert isinstance(tool, ToolInfo)
    if as_json:
        emit_json(schemas.TOOL, tool_json(tool))
        return
    for line in tool_text(tool):
        echo(line)
