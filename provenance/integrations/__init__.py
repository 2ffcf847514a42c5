"""Hooks into publish frameworks: each calls the Ledger API and nothing else."""

__all__: list[str] = []
