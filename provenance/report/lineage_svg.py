"""Lineage pictures: from a delivered asset back to each generated element in it, laid out by
Graphviz's `dot` program (the `graphviz` package of Debian, Ubuntu and Homebrew) as SVG.

All the pictures of a report are laid out by one `dot` process (it reads one graph after
another and writes one SVG each), so a report of 2,000 shots starts it once. Without `dot` on
the PATH there are no pictures; the report then lists each path as text.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Mapping

from provenance.origins import OriginCategory
from provenance.report.model import LineageGraph

__all__ = ["dot_source", "render_svgs"]


DOT_TIMEOUT_S = 300

CATEGORY_COLOURS = {
    OriginCategory.CAPTURE: "#d7ecff",
    OriginCategory.HUMAN: "#e4f5dc",
    OriginCategory.ML_ASSISTED: "#fff2c6",
    OriginCategory.AI: "#ffd5d0",
    OriginCategory.AI_COMPOSITE: "#ffe0cc",
    OriginCategory.PROCEDURAL: "#e9e0f7",
    OriginCategory.UNKNOWN: "#e8e8e8",
}


def dot_program() -> str | None:
    return shutil.which("dot")


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def dot_source(key: str, graph: LineageGraph) -> str:
    """One graph in the DOT language; every id in its SVG starts with `key` (ids stay unique
    when many pictures share a page)."""
    lines = [
        f"digraph {_quoted(key)} {{",
        f"  graph [id={_quoted(key)}, rankdir=LR, bgcolor=transparent, nodesep=0.25, "
        "ranksep=0.35, pad=0.1];",
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10, '
        'margin="0.12,0.05", penwidth=1];',
        '  edge [fontname="Helvetica", fontsize=9, color="#555555", arrowsize=0.7];',
    ]
    for number, (node_id, label, origin, generated) in enumerate(graph.nodes):
        colour = CATEGORY_COLOURS[origin.category]
        border = ', color="#c0392b", penwidth=2' if generated else ""
        lines.append(
            f"  {_quoted(node_id)} [id={_quoted(f'{key}_n{number}')}, "
            f"label={_quoted(label)}, fillcolor={_quoted(colour)}{border}];"
        )
    for number, (child, parent, relation) in enumerate(graph.edges):
        # Drawn from the element to the delivered asset: material flows that way.
        lines.append(
            f"  {_quoted(parent)} -> {_quoted(child)} [id={_quoted(f'{key}_e{number}')}, "
            f"label={_quoted(relation)}];"
        )
    lines.append("}")
    return "\n".join(lines)


_PROLOGUE = re.compile(r"\A.*?(?=<svg)", re.S)
_COMMENT = re.compile(r"<!--.*?-->\n?", re.S)


def render_svgs(graphs: Mapping[str, LineageGraph]) -> tuple[dict[str, str], str | None]:
    """key -> inline SVG of each graph, laid out by one `dot` run; (empty, why) when `dot`
    cannot run."""
    if not graphs:
        return {}, None
    program = dot_program()
    if program is None:
        return {}, (
            "Graphviz's `dot` program is not installed: install Graphviz (`apt-get install "
            "graphviz`, `brew install graphviz`) for lineage pictures"
        )
    keys = list(graphs)
    source = "\n".join(dot_source(key, graphs[key]) for key in keys)
    try:
        done = subprocess.run(
            [program, "-Tsvg"],
            input=source.encode("utf-8"),
            capture_output=True,
            timeout=DOT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {}, f"Graphviz's `dot` failed ({exc})"
    if done.returncode != 0:
        return {}, f"Graphviz's `dot` failed: {done.stderr.decode(errors='replace')[:300]}"
    pictures = done.stdout.decode("utf-8", "replace").split("<?xml")[1:]
    if len(pictures) != len(keys):
        return {}, f"Graphviz's `dot` drew {len(pictures)} pictures for {len(keys)} graphs"
    return {
        key: _COMMENT.sub("", _PROLOGUE.sub("", picture)).strip()
        for key, picture in zip(keys, pictures, strict=True)
    }, None
