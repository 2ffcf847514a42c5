"""The work of the `Ledger` facade's calls, one module per workflow (docs/architecture.md).

Each function takes the ledger and opens the call's one unit of work; `provenance.ledger.Ledger`
is the API, and the only importer of these modules.
"""

__all__: list[str] = []
