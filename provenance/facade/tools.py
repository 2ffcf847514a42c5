"""The tool registry: register a tool, change what is recorded about it, look tools up."""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from provenance.errors import ProvenanceError, ToolConflict, UnknownTool
from provenance.origins import Origin
from provenance.records import ToolInfo
from provenance.store import queries
from provenance.store.engine import read_session, write_session
from provenance.store.events import unit_of_work_event
from provenance.store.models import Tool, Tristate

if TYPE_CHECKING:
    from provenance.ledger import Ledger

__all__ = [
    "add_tool",
    "insert_tool",
    "list_tools",
    "registered_tool",
    "set_tool",
    "split_tool",
    "unknown_tool_message",
]


def split_tool(text: str) -> tuple[str, str | None]:
    """`Nuke@15.1` -> ("Nuke", "15.1"); a name without `@` has no version."""
    name, sep, version = text.rpartition("@")
    if not sep or not name.strip():
        return text.strip(), None
    return name.strip(), version.strip() or None


def add_tool(
    ledger: Ledger,
    name: str,
    vendor: str | None,
    generative: bool,
    trains_on_inputs: str,
    secured: str,
) -> ToolInfo:
    trains = _tristate("trains_on_inputs", trains_on_inputs)
    sec = _tristate("secured", secured)
    name, _version = split_tool(name)
    with write_session(ledger.engine) as session:
        existing = session.execute(select(Tool).where(Tool.key == name.casefold())).scalar()
        wanted = (vendor, generative, trains.value, sec.value)
        if existing is not None:
            have = (
                existing.vendor,
                existing.generative,
                existing.trains_on_inputs,
                existing.secured,
            )
            if have != wanted:
                raise ToolConflict(
                    f"{existing.name!r} is already registered ({_describe_tool(existing)}). "
                    f"To change what is recorded, run `provenance tools set {existing.name!r} ...`."
                )
            return queries.tool_info(existing)
        return queries.tool_info(insert_tool(session, name, vendor, generative, trains, sec))


def set_tool(
    ledger: Ledger,
    name: str,
    vendor: str | None,
    generative: bool | None,
    trains_on_inputs: str | None,
    secured: str | None,
) -> ToolInfo:
    with write_session(ledger.engine) as session:
        tool = _find_tool(session, split_tool(name)[0])
        changes: dict[str, object] = {}
        if vendor is not None:
            changes["vendor"] = vendor
        if generative is not None:
            changes["generative"] = generative
        if trains_on_inputs is not None:
            changes["trains_on_inputs"] = _tristate("trains_on_inputs", trains_on_inputs).value
        if secured is not None:
            changes["secured"] = _tristate("secured", secured).value
        if changes:
            payload = {"tool": tool.name, "changes": changes}
            with unit_of_work_event(session, "tool.set", payload) as unit:
                session.execute(update(Tool).where(Tool.id == tool.id).values(**changes))
                unit.changed("tools", tool.id)
            session.refresh(tool)
        return queries.tool_info(tool)


def list_tools(ledger: Ledger) -> list[ToolInfo]:
    with read_session(ledger.engine) as session:
        return [
            queries.tool_info(t) for t in session.execute(select(Tool).order_by(Tool.key)).scalars()
        ]


def registered_tool(ledger: Ledger, name: str) -> ToolInfo:
    with read_session(ledger.engine) as session:
        return queries.tool_info(_find_tool(session, split_tool(name)[0]))


def _tristate(name: str, value: str) -> Tristate:
    try:
        return Tristate(value.lower())
    except ValueError:
        raise ProvenanceError(f"{name} is yes, no or unknown, not {value!r}.") from None


def insert_tool(
    session: Session,
    name: str,
    vendor: str | None,
    generative: bool,
    trains: Tristate,
    secured: Tristate,
) -> Tool:
    payload = {
        "tool": name,
        "vendor": vendor,
        "generative": generative,
        "trains_on_inputs": trains.value,
        "secured": secured.value,
    }
    with unit_of_work_event(session, "tool.add", payload) as unit:
        tool_id = session.execute(
            insert(Tool)
            .values(
                name=name,
                key=name.casefold(),
                vendor=vendor,
                generative=generative,
                trains_on_inputs=trains.value,
                secured=secured.value,
                created_at=unit.at,
                event_id=unit.event_id,
            )
            .returning(Tool.id)
        ).scalar_one()
    return session.execute(select(Tool).where(Tool.id == tool_id)).scalar_one()


def _find_tool(session: Session, name: str) -> Tool:
    tool = session.execute(select(Tool).where(Tool.key == name.casefold())).scalar()
    if tool is None:
        raise UnknownTool(unknown_tool_message(session, name, None))
    return tool


def unknown_tool_message(session: Session, name: str, origin: Origin | None) -> str:
    names = list(session.execute(select(Tool.name)).scalars())
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.4)
    close += [n for n in names if name.casefold() in n.casefold() and n not in close][:3]
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    need = (
        f" Origin {origin.alias} needs a registered generative tool." if origin is not None else ""
    )
    return (
        f"Unknown tool {name!r}.{hint}{need} Register it with "
        f'`provenance tools add "{name}" --vendor VENDOR --generative '
        "--trains-on-inputs yes|no|unknown --secured yes|no|unknown`."
    )


def _describe_tool(tool: Tool) -> str:
    kind = "generative" if tool.generative else "not generative"
    return (
        f"vendor {tool.vendor or '-'}, {kind}, trains on inputs: {tool.trains_on_inputs}, "
        f"secured: {tool.secured}"
    )
