"""End-to-end workflows on real files and real ledgers (SQLite and PostgreSQL), through the
Python API and the command: ingest, the whole loop, the sweep and the finalizer on deliveries
(and what a killed or failing one leaves), deliverables, farm jobs, a show that moves, never
seen deliveries, and strong digests."""
