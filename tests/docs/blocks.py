"""The blocks a page of docs/ marks to be run (`<!-- run: NAME -->` before a fenced block), as
the tests that run them read them: shared by test_docs_run (the admin page, on PostgreSQL) and
test_docs_delivery (the delivery and auditor pages, on SQLite)."""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["MARKED", "marked", "shell_words", "split_steps"]

MARKED = re.compile(r"^( *)<!-- run: ([\w-]+) -->\n\1```(sh|text|toml)\n(.*?)^\1```", re.S | re.M)


def marked(page: Path) -> dict[str, tuple[str, str]]:
    """Every block the page marks, by name: its fence kind (`sh`: commands only; `text`: `$ `
    commands with their output; `toml`: a file) and its body, unindented."""
    return {
        name: (kind, "".join(line.removeprefix(indent) for line in body.splitlines(keepends=True)))
        for indent, name, kind, body in MARKED.findall(page.read_text(encoding="utf-8"))
    }


def split_steps(name: str, body: str) -> list[tuple[str, list[str]]]:
    """The `$ ` commands of a `text` block, each with the lines the page shows under it."""
    found: list[tuple[str, list[str]]] = []
    for line in body.splitlines():
        if line.startswith("$ "):
            found.append((line[2:], []))
        else:
            assert found, f"block {name} shows output before any command"
            found[-1][1].append(line)
    return found


def shell_words(line: str) -> str:
    """The line as a shell runs it: a comment is `#` after a space (a `#` inside a word, as in
    name.####.exr, is the word's)."""
    return re.sub(r"(^|\s+)#\s.*$", "", line).strip()
