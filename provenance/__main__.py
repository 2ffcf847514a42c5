"""`python -m provenance` works like the `provenance` command."""

# The CLI lives in cli/, installed as provenance.cli; mypy checks the library only.
from provenance.cli import main  # type: ignore[import-not-found]

main()
