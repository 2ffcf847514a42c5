"""`python -m provenance`, and the `provenance` command's entry point.

The CLI (click, SQLAlchemy and the rest) is imported when `main` runs, not when this module is:
hashing workers import the main module of the process that starts them, and a main module
that imports the CLI cost each sweep or ingest about half a second before its workers ran.
"""

from __future__ import annotations

__all__ = ["main"]


def main() -> None:
    # (The CLI lives in cli/, installed as provenance.cli: `make typecheck` checks it under that
    # name; a bare `mypy` of the library alone cannot see it.)
    from provenance.cli import main as run  # type: ignore[import-not-found, unused-ignore]

    run()


if __name__ == "__main__":
    main()
