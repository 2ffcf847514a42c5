"""The name of every JSON document provenance writes or prints: the value of its "schema" key.

One constant per document, and one document per name: a document whose shape changes gets a new
version (`Rows.1` -> `Rows.2`), never the old name. Scripts and auditors key on these names
(docs/delivery.md and docs/auditor.md list the fields of each); tests/project/test_architecture.py
checks that no other module spells one out.
"""

from __future__ import annotations

__all__ = [
    "APPROVAL",
    "ASSET_CARD",
    "AUDIT_REPORT",
    "CHECKPOINT",
    "CHECKPOINT_WRITTEN",
    "CONSENT",
    "CONSENTS",
    "DELIVERABLES",
    "DELIVERY_MANIFEST",
    "DELIVERY_REPORT",
    "DISCLOSURE",
    "EVENT",
    "FARM_JOB",
    "FARM_PLAN",
    "FARM_SHARD",
    "FINALIZE_REPORT",
    "HISTORY",
    "INGEST_REPORT",
    "KEY_CHANGE",
    "KEY_CHANGE_REPORT",
    "LEDGER",
    "LINEAGE",
    "MANIFEST_WRITE",
    "MHL_EXPORT",
    "POLICY",
    "REPRINT",
    "ROLES",
    "ROOTS",
    "ROOT_CHANGE",
    "ROWS_DIGESTED",
    "ROWS_INLINE",
    "SCENE_INPUTS",
    "SCHEMA_STATE",
    "SWEEP_REPORT",
    "TOOL",
    "TOOLS",
    "TRUSTED_KEYS",
    "VERIFY_REPORT",
]


# -- written by the library: files beside a delivery, event payloads, signed bodies, farm jobs

DELIVERY_MANIFEST = "DeliveryManifest.1"
"""provenance-manifest.json beside a finalized delivery."""
CHECKPOINT = "Checkpoint.1"
"""A signed checkpoint file."""
EVENT = "Event.1"
"""One event of `audit export` (JSON Lines)."""
ROWS_INLINE = "Rows.1"
"""The rows an event wrote, listed in its payload (up to INLINE_ROWS a table)."""
ROWS_DIGESTED = "Rows.2"
"""Rows.1 where a table is committed to by count and digest (past INLINE_ROWS). Named apart so
that a version of provenance that reads only Rows.1 says it cannot read such an event instead of
misreading it."""
KEY_CHANGE = "KeyChange.1"
"""The body a trusted key signs to add, retire or rotate a checkpoint key (inside the event)."""
FARM_PLAN = "FarmPlan.1"
"""plan.json of a farm job: the tree and its shards."""
FARM_SHARD = "FarmShard.1"
"""What one farm shard read (shards/shard-NNNN.json), and `farm shard --json`."""

# -- printed by the CLI with --json

APPROVAL = "Approval.1"
ASSET_CARD = "AssetCard.1"
AUDIT_REPORT = "AuditReport.1"
CHECKPOINT_WRITTEN = "CheckpointWritten.1"
CONSENT = "Consent.1"
CONSENTS = "Consents.1"
DELIVERABLES = "Deliverables.1"
DELIVERY_REPORT = "DeliveryReport.1"
DISCLOSURE = "Disclosure.2"
FARM_JOB = "FarmJob.1"
FINALIZE_REPORT = "FinalizeReport.1"
"""`finalize --json`: the shape of SweepReport.1, with `finalized`, `name`, `manifest` and
`event` filled in when the delivery was marked final."""
HISTORY = "History.1"
"""`history --json`: `target`, `read_as` and `events`, each with `event`, `kind`, `actor`,
`host`, `at`, `hash`, `what` (the sentence the text prints) and `changes` (what the event did,
as data: each `{"kind": "version" | "claim" | "lineage" | "approval" | "likeness" |
"delivery", ...}`)."""
INGEST_REPORT = "IngestReport.1"
KEY_CHANGE_REPORT = "KeyChangeReport.1"
"""`audit keys add|retire|rotate --json`: what changed, and the event that recorded it."""
LEDGER = "Ledger.1"
LINEAGE = "Lineage.1"
MANIFEST_WRITE = "ManifestWrite.1"
MHL_EXPORT = "MhlExport.1"
POLICY = "Policy.1"
REPRINT = "Reprint.1"
ROLES = "Roles.1"
ROOTS = "Roots.1"
ROOT_CHANGE = "RootChange.1"
SCENE_INPUTS = "SceneInputs.1"
SCHEMA_STATE = "SchemaState.1"
SWEEP_REPORT = "SweepReport.1"
"""`sweep --json`: every finding about a delivery; nothing recorded."""
TOOL = "Tool.1"
TOOLS = "Tools.1"
TRUSTED_KEYS = "TrustedKeys.1"
VERIFY_REPORT = "VerifyReport.1"
