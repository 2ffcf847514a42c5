"""guarded writes: the roles append events and refresh the caches only through definer functions

On PostgreSQL, the members of provenance_artist, provenance_td and provenance_auditor no longer
write `events`, `locations` or `folder_seals` themselves. The library goes through functions
that run as the ledger's owner (SECURITY DEFINER):

- `provenance_append_event` appends one event under the chain's lock, computing `prev_hash`
  and `hash` itself exactly as `provenance/store/events.py` does, with the logged-in role as its
  actor and a time inside the appending transaction; the kinds of event only a TD's commands
  write (approvals, consents, resolutions, tool changes, finalizes, checkpoint keys) are refused
  to a role that is not a TD;
- `provenance_record_locations`, `provenance_write_seals`, `provenance_drop_seals` refresh the
  stat cache and the folder seals a batch at a time (arrays, one call a batch), refusing a file
  row whose size is not its content's and clamping every recording time to the server's clock;
- `provenance_analyze` refreshes the planner's statistics of the ledger's own tables.

`asset_versions.status` goes: a version's status (standard, temporary, approved) is derived
from its claims and approvals whenever it is read, so there is nothing left to forge. The
downgrade puts the column back, computed from the claims and approvals.

SQLite keeps its plain statements (a SQLite ledger is protected by its file's permissions).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-10 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

AUDITOR, ARTIST, TD = "provenance_auditor", "provenance_artist", "provenance_td"
WRITE_LOCK_KEY = 0x70726F76656E616E
"""The advisory lock writers take (provenance/store/engine.py): the chain's lock."""

TD_KINDS = (
    "init",
    "approve",
    "consent",
    "claim.resolve",
    "tool.set",
    "finalize",
    "finalize.manifest",
    "roots.move",
    "roots.map",
    "roots.unmap",
    "key.trust",
    "key.retire",
    "key.rotate",
)
"""Events only a TD (or the owner) may append: those of the commands the artist role may not run."""

GENERATIVE_CODES = (
    "trainedAlgorithmicMedia",
    "compositeWithTrainedAlgorithmicMedia",
    "compositeSynthetic",
    "trainedAlgorithmicData",
)
"""The generative origins (provenance/origins.py) as of this revision: for the downgrade."""

FUNCTIONS = (
    "provenance_append_event(bigint, text, text, timestamptz, text)",
    "provenance_record_locations(integer[], bytea[], text[], integer[], bytea[], bigint[], "
    "bigint[], bigint[], bigint[], bigint[], bigint[])",
    "provenance_write_seals(integer[], bytea[], text[], bigint[], text[], integer[], bigint[], "
    "bytea[], text[], bigint[])",
    "provenance_drop_seals(integer[], bytea[])",
    "provenance_analyze(text[])",
)

# The grants `provenance db roles` gave before this revision that the functions replace.
OLD_GRANTS = (
    f"INSERT ON events TO {ARTIST}",
    f"INSERT, UPDATE ON locations TO {ARTIST}",
    f"INSERT, DELETE ON folder_seals TO {ARTIST}",
)


def upgrade() -> None:
    with op.batch_alter_table("asset_versions") as batch_op:
        batch_op.drop_constraint(op.f("ck_asset_versions_status_valid"), type_="check")
        batch_op.drop_column("status")
    if op.get_bind().dialect.name != "postgresql":
        return
    schema = op.get_bind().exec_driver_sql("SELECT quote_ident(current_schema())").scalar()
    settings = f"LANGUAGE plpgsql SECURITY DEFINER SET search_path = {schema}, pg_temp"
    kinds = ", ".join(f"'{kind}'" for kind in TD_KINDS)
    op.execute(
        f"""
        CREATE FUNCTION provenance_append_event(
            p_id bigint, p_kind text, p_host text, p_at timestamptz, p_payload text
        ) RETURNS text {settings} AS $$
        DECLARE
            last_id bigint;
            last_hash text;
            issued bigint;
            owner name;
            at_text text;
            canonical text;
            digest text;
        BEGIN
            PERFORM pg_advisory_xact_lock({WRITE_LOCK_KEY});
            SELECT tableowner INTO owner FROM pg_tables
                WHERE schemaname = current_schema() AND tablename = 'events';
            IF p_kind IN ({kinds}) AND NOT pg_has_role(session_user, owner, 'USAGE')
                AND NOT (EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{TD}')
                         AND pg_has_role(session_user, '{TD}', 'USAGE')) THEN
                RAISE EXCEPTION 'provenance: only a TD may append a % event (role %)',
                    p_kind, session_user USING ERRCODE = 'insufficient_privilege';
            END IF;
            SELECT id, hash INTO last_id, last_hash FROM events ORDER BY id DESC LIMIT 1;
            EXECUTE format('SELECT last_value FROM %s', pg_get_serial_sequence('events', 'id'))
                INTO issued;
            IF p_id IS NULL OR p_id <= coalesce(last_id, 0) OR p_id > issued THEN
                RAISE EXCEPTION 'provenance: event id % was not reserved for the next event', p_id
                    USING ERRCODE = 'check_violation';
            END IF;
            IF p_at IS NULL OR p_at < transaction_timestamp() OR p_at > clock_timestamp() THEN
                RAISE EXCEPTION 'provenance: an event''s time is the time of its transaction'
                    USING ERRCODE = 'check_violation';
            END IF;
            IF p_kind IS NULL OR p_host IS NULL OR p_payload IS NULL
                OR json_typeof(p_payload::json) <> 'object' THEN
                RAISE EXCEPTION 'provenance: an event has a kind, a host and a JSON object payload'
                    USING ERRCODE = 'check_violation';
            END IF;
            -- The canonical form of provenance/store/events.py: compact JSON, keys sorted,
            -- the time in Python's isoformat (no fraction when there are no microseconds).
            at_text := to_char(p_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
                || CASE WHEN date_part('microseconds', p_at)::bigint % 1000000 = 0 THEN ''
                        ELSE to_char(p_at AT TIME ZONE 'UTC', '.US') END
                || '+00:00';
            last_hash := coalesce(last_hash, 'sha256:' || repeat('0', 64));
            canonical := '{{"actor":' || to_json(session_user::text)::text
                || ',"at":' || to_json(at_text)::text
                || ',"host":' || to_json(p_host)::text
                || ',"kind":' || to_json(p_kind)::text
                || ',"payload":' || to_json(p_payload)::text
                || ',"prev":' || to_json(last_hash)::text || '}}';
            digest := 'sha256:' || encode(sha256(convert_to(canonical, 'UTF8')), 'hex');
            INSERT INTO events (id, kind, actor, host, at, payload, prev_hash, hash)
                VALUES (p_id, p_kind, session_user, p_host, p_at, p_payload, last_hash, digest);
            RETURN digest;
        END $$
        """
    )
    now_ns = "(extract(epoch FROM clock_timestamp()) * 1000000000)::bigint"
    op.execute(
        f"""
        CREATE FUNCTION provenance_record_locations(
            p_root_ids integer[], p_paths bytea[], p_kinds text[], p_content_ids integer[],
            p_link_targets bytea[], p_sizes bigint[], p_mtimes bigint[], p_ctimes bigint[],
            p_inodes bigint[], p_devices bigint[], p_recorded bigint[]
        ) RETURNS void {settings} AS $$
        BEGIN
            IF EXISTS (
                SELECT 1 FROM unnest(p_kinds, p_content_ids, p_sizes) AS r(kind, content_id, size)
                LEFT JOIN contents c ON c.id = r.content_id
                WHERE NOT ((r.kind = 'file' AND c.size IS NOT DISTINCT FROM r.size)
                           OR (r.kind = 'symlink' AND r.content_id IS NULL))
            ) THEN
                RAISE EXCEPTION 'provenance: a file seen on disk has the size of its content'
                    USING ERRCODE = 'check_violation';
            END IF;
            INSERT INTO locations (root_id, path, kind, content_id, link_target, size, mtime_ns,
                                   ctime_ns, inode, device, recorded_ns)
            SELECT r.root_id, r.path, r.kind, r.content_id, r.link_target, r.size, r.mtime_ns,
                   r.ctime_ns, r.inode, r.device, least(r.recorded_ns, {now_ns})
            FROM unnest(p_root_ids, p_paths, p_kinds, p_content_ids, p_link_targets, p_sizes,
                        p_mtimes, p_ctimes, p_inodes, p_devices, p_recorded)
                AS r(root_id, path, kind, content_id, link_target, size, mtime_ns, ctime_ns,
                     inode, device, recorded_ns)
            ON CONFLICT (root_id, path) DO UPDATE SET
                kind = excluded.kind, content_id = excluded.content_id,
                link_target = excluded.link_target, size = excluded.size,
                mtime_ns = excluded.mtime_ns, ctime_ns = excluded.ctime_ns,
                inode = excluded.inode, device = excluded.device,
                recorded_ns = excluded.recorded_ns;
        END $$
        """
    )
    op.execute(
        f"""
        CREATE FUNCTION provenance_write_seals(
            p_root_ids integer[], p_folders bytea[], p_listings text[], p_recorded bigint[],
            p_intents text[], p_file_counts integer[], p_byte_counts bigint[], p_refs bytea[],
            p_holes text[], p_copied bigint[]
        ) RETURNS void {settings} AS $$
        BEGIN
            INSERT INTO folder_seals (root_id, folder, listing, recorded_ns, intent, file_count,
                                      byte_count, refs, holes, copied_as_of)
            SELECT s.root_id, s.folder, s.listing, least(s.recorded_ns, {now_ns}), s.intent,
                   s.file_count, s.byte_count, s.refs, s.holes,
                   least(s.copied_as_of, (SELECT coalesce(max(id), 0) FROM asset_versions))
            FROM unnest(p_root_ids, p_folders, p_listings, p_recorded, p_intents, p_file_counts,
                        p_byte_counts, p_refs, p_holes, p_copied)
                AS s(root_id, folder, listing, recorded_ns, intent, file_count, byte_count, refs,
                     holes, copied_as_of);
        END $$
        """
    )
    op.execute(
        f"""
        CREATE FUNCTION provenance_drop_seals(p_root_ids integer[], p_folders bytea[])
        RETURNS void {settings} AS $$
        BEGIN
            DELETE FROM folder_seals s
            USING unnest(p_root_ids, p_folders) AS k(root_id, folder)
            WHERE s.root_id = k.root_id AND s.folder = k.folder;
        END $$
        """
    )
    op.execute(
        f"""
        CREATE FUNCTION provenance_analyze(p_tables text[]) RETURNS void {settings} AS $$
        DECLARE
            wanted text;
        BEGIN
            FOREACH wanted IN ARRAY p_tables LOOP
                IF EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = current_schema()
                           AND tablename = wanted AND tableowner = current_user) THEN
                    EXECUTE format('ANALYZE %I', wanted);
                END IF;
            END LOOP;
        END $$
        """
    )
    for function in FUNCTIONS:
        # Functions are executable by everyone unless revoked: only the groups may call these.
        op.execute(f"REVOKE ALL ON FUNCTION {function} FROM PUBLIC")
    if _roles_exist():
        for grant in OLD_GRANTS:
            op.execute(f"REVOKE {grant.replace(' TO ', ' FROM ')}")
        for function in FUNCTIONS:
            op.execute(f"GRANT EXECUTE ON FUNCTION {function} TO {ARTIST}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for function in FUNCTIONS:
            op.execute(f"DROP FUNCTION IF EXISTS {function}")
        if _roles_exist():
            for grant in OLD_GRANTS:
                op.execute(f"GRANT {grant}")
    with op.batch_alter_table("asset_versions") as batch_op:
        batch_op.add_column(sa.Column("status", sa.String(length=16), nullable=True))
    codes = ", ".join(f"'{code}'" for code in GENERATIVE_CODES)
    # What provenance computed before this revision: generated (any claim since the last
    # resolving one is generative) is temporary, approved once an approval names its bytes.
    op.execute(
        f"""
        UPDATE asset_versions SET status = CASE
            WHEN EXISTS (
                SELECT 1 FROM claims c WHERE c.version_id = asset_versions.id
                AND c.origin IN ({codes})
                AND c.id >= coalesce((SELECT max(r.id) FROM claims r
                                      WHERE r.version_id = asset_versions.id AND r.resolves), 0)
            ) THEN CASE
                WHEN EXISTS (SELECT 1 FROM approvals a WHERE a.version_id = asset_versions.id
                             AND a.digest = asset_versions.digest) THEN 'approved'
                ELSE 'temporary' END
            ELSE 'standard' END
        """
    )
    with op.batch_alter_table("asset_versions") as batch_op:
        batch_op.alter_column("status", existing_type=sa.String(length=16), nullable=False)
        batch_op.create_check_constraint(
            op.f("ck_asset_versions_status_valid"),
            "status IN ('standard', 'temporary', 'approved')",
        )
    if op.get_bind().dialect.name == "postgresql" and _roles_exist():
        op.execute(f"GRANT UPDATE (status) ON asset_versions TO {ARTIST}")


def _roles_exist() -> bool:
    found = op.get_bind().exec_driver_sql(
        f"SELECT count(*) FROM pg_roles WHERE rolname IN ('{AUDITOR}', '{ARTIST}', '{TD}')"
    )
    return bool(found.scalar() == 3)
