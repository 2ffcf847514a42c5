"""Tests of the schema revisions (migrations/, installed as provenance.migrations) on SQLite and
PostgreSQL, the refusals around them, and the SQLite connection settings."""
