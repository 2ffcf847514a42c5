"""The ledger's storage: SQLAlchemy models, engines and sessions, and the queries the facade needs."""

__all__: list[str] = []
