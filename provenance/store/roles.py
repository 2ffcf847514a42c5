"""PostgreSQL group roles that enforce who may do what in the database itself, not only in Python.

- provenance_auditor: reads everything, writes nothing;
- provenance_artist: an auditor who may also ingest, tag and link;
- provenance_td: an artist who may also approve, record consent, set tools and finalize.

No role writes the event log or the caches (stat cache, folder seals) directly: the library
does, through the ledger's own functions (schema 0010), which the artist group may call.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, text

from provenance.errors import ProvenanceError

__all__ = [
    "ARTIST",
    "ARTIST_INSERT",
    "ARTIST_UPDATE",
    "AUDITOR",
    "DEFINER_FUNCTIONS",
    "TD",
    "TD_INSERT",
    "TD_UPDATE",
    "RolesReport",
    "create_roles",
]


AUDITOR, ARTIST, TD = "provenance_auditor", "provenance_artist", "provenance_td"

# What an artist's commands write: the ingest (contents, assets, versions, members), claims and
# the signals files carry, lineage, first-use tool registration, likeness marks.
ARTIST_INSERT = (
    "roots",
    "contents",
    "assets",
    "asset_versions",
    "members",
    "claims",
    "signals",
    "lineage",
    "tools",
    "likenesses",
    "perceptual_prints",
)
ARTIST_UPDATE = {"assets": ("latest_version",)}
TD_INSERT = ("approvals", "consents", "deliverables", "deliverable_files", "deliverable_manifests")
TD_UPDATE = {
    "tools": None,
    "roots": ("location", "aliases", "event_id"),  # roots move|map|unmap: a studio's setting
}

# The event log and the caches are written only through the ledger's own functions (schema
# 0010, SECURITY DEFINER): an event's hash, link, actor and time are computed by the database,
# and a stat-cache row or seal is checked and its time clamped, instead of taken from the role.
DEFINER_FUNCTIONS = (
    "provenance_append_event(bigint, text, text, timestamptz, text)",
    "provenance_record_locations(integer[], bytea[], text[], integer[], bytea[], bigint[], "
    "bigint[], bigint[], bigint[], bigint[], bigint[])",
    "provenance_write_seals(integer[], bytea[], text[], bigint[], text[], integer[], bigint[], "
    "bytea[], text[], bigint[])",
    "provenance_drop_seals(integer[], bytea[])",
    "provenance_analyze(text[])",
)
# What `db roles` granted before schema 0010, taken back when it runs again.
WITHDRAWN = (
    f"REVOKE INSERT ON events FROM {ARTIST}",
    f"REVOKE INSERT, UPDATE ON locations FROM {ARTIST}",
    f"REVOKE INSERT, DELETE ON folder_seals FROM {ARTIST}",
)


@dataclass(frozen=True)
class RolesReport:
    created: list[str]
    granted: list[str]


def create_roles(engine: Engine) -> RolesReport:
    """Create the three group roles (if missing) and grant them exactly what they need.

    Idempotent: run it again after `provenance db upgrade` so that new tables are covered.
    Log-in roles are the admin's: `CREATE ROLE alice LOGIN IN ROLE provenance_artist`.
    """
    if engine.dialect.name != "postgresql":
        raise ProvenanceError(
            "Database roles are a PostgreSQL feature; a SQLite ledger is protected by its file's "
            "permissions. Point --db at the studio's PostgreSQL ledger."
        )
    created: list[str] = []
    granted: list[str] = []
    with engine.begin() as connection:
        for role in (AUDITOR, ARTIST, TD):
            exists = connection.execute(
                text("SELECT 1 FROM pg_roles WHERE rolname = :role"), {"role": role}
            ).first()
            if exists is None:
                connection.exec_driver_sql(f"CREATE ROLE {role} NOLOGIN")
                created.append(role)
        statements = [
            f"GRANT {ARTIST} TO {TD}",
            f"GRANT {AUDITOR} TO {ARTIST}",
            f"GRANT USAGE ON SCHEMA public TO {AUDITOR}",
            f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {AUDITOR}",
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO {AUDITOR}",
            f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {ARTIST}",
        ]
        statements += WITHDRAWN
        statements += [f"GRANT INSERT ON {table} TO {ARTIST}" for table in ARTIST_INSERT]
        statements += [_update_grant(t, c, ARTIST) for t, c in ARTIST_UPDATE.items()]
        statements += [f"GRANT EXECUTE ON FUNCTION {f} TO {ARTIST}" for f in DEFINER_FUNCTIONS]
        statements += [f"GRANT INSERT ON {table} TO {TD}" for table in TD_INSERT]
        statements += [_update_grant(t, c, TD) for t, c in TD_UPDATE.items()]
        # Row-level rules for what column grants cannot say: an artist's claim never settles a
        # dispute, and an artist may register only non-generative tools (a generative tool's
        # vetting is a TD's call). Policies of one command are OR'ed, so TDs (who are artists
        # too) get theirs on top. The ledger's owner is not subject to them.
        for table, artist_check in (("claims", "NOT resolves"), ("tools", "NOT generative")):
            statements += [
                f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
                f"DROP POLICY IF EXISTS provenance_read ON {table}",
                f"CREATE POLICY provenance_read ON {table} FOR SELECT USING (true)",
                f"DROP POLICY IF EXISTS provenance_artist_insert ON {table}",
                f"CREATE POLICY provenance_artist_insert ON {table} FOR INSERT TO {ARTIST} "
                f"WITH CHECK ({artist_check})",
                f"DROP POLICY IF EXISTS provenance_td_insert ON {table}",
                f"CREATE POLICY provenance_td_insert ON {table} FOR INSERT TO {TD} WITH CHECK (true)",
                f"DROP POLICY IF EXISTS provenance_td_update ON {table}",
                f"CREATE POLICY provenance_td_update ON {table} FOR UPDATE TO {TD} USING (true)",
            ]
        for statement in statements:
            connection.exec_driver_sql(statement)
            granted.append(statement)
    return RolesReport(created, granted)


def _update_grant(table: str, columns: tuple[str, ...] | None, role: str) -> str:
    if columns is None:
        return f"GRANT UPDATE ON {table} TO {role}"
    return f"GRANT UPDATE ({', '.join(columns)}) ON {table} TO {role}"
