"""Tests of provenance.store, the ledger's storage: retrying conflicting units of work
(engine), what an event commits to (rows), folder seals, the PostgreSQL roles, and two
processes writing at once (concurrency)."""
