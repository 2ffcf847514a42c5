"""Alembic revisions of the ledger schema, shipped inside the package as `provenance.migrations`."""
