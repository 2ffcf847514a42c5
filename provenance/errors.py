"""The exception root of the library: every error a user can act on, each naming its fix."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from provenance.audit.verification import AuditReport

__all__ = [
    "AmbiguousTarget",
    "AuditFailed",
    "BadPattern",
    "BadScene",
    "CheckpointKeyMissing",
    "KeyNotTrusted",
    "LedgerNotFound",
    "LedgerReadOnly",
    "LineageCycle",
    "NotALedger",
    "ProvenanceError",
    "SceneRefused",
    "SchemaMismatch",
    "TargetNotFound",
    "ToolConflict",
    "UnknownOrigin",
    "UnknownTool",
]


class ProvenanceError(Exception):
    """Root of every error the library raises on purpose.

    The message is written for the person at the terminal or in the DCC: it says what went
    wrong and what to do about it. The CLI prints it and exits 1.
    """

    exit_code = 1


class LedgerNotFound(ProvenanceError):
    """No ledger where one was looked for."""


class NotALedger(ProvenanceError):
    """The database exists but is not a provenance ledger (or is damaged)."""


class SchemaMismatch(ProvenanceError):
    """The ledger was written by an older or newer version of the code."""


class LedgerReadOnly(ProvenanceError):
    """The ledger cannot be written (read-only file, folder or role)."""


class TargetNotFound(ProvenanceError):
    """A path, pattern or digest that names nothing in the ledger or on disk."""


class AmbiguousTarget(ProvenanceError):
    """A digest prefix or name that matches more than one thing."""


class UnknownOrigin(ProvenanceError):
    """An origin that is neither an alias nor an IPTC digital source type."""


class UnknownTool(ProvenanceError):
    """A tool that is not in the registry where a registered one is needed."""


class ToolConflict(ProvenanceError):
    """A tool registration that contradicts the registry."""


class LineageCycle(ProvenanceError):
    """A lineage edge that would make an asset its own ancestor."""


class BadPattern(ProvenanceError):
    """A frame-sequence pattern that cannot be parsed or matches no file."""


class BadScene(ProvenanceError):
    """A scene file that cannot be read (not a scene, unreadable, or its reader is missing)."""


class SceneRefused(ProvenanceError):
    """A scene that does not fit the render it is given for, or whose inputs cannot all be named."""

    exit_code = 3


class CheckpointKeyMissing(ProvenanceError):
    """The ledger trusts checkpoint keys, and none of their private halves is where it was looked for."""


class KeyNotTrusted(ProvenanceError):
    """A checkpoint key the ledger does not trust was given to sign with."""


class AuditFailed(ProvenanceError):
    """The event log does not verify: history was edited, removed or rewritten.

    `report` is the audit that failed: its `problems` say what does not verify (sentences, and
    differing rows as data that the CLI words). The message only counts them."""

    exit_code = 3

    def __init__(self, report: AuditReport) -> None:
        found = len(report.problems)
        super().__init__(
            f"The ledger's history does not verify ({found} problem{'' if found == 1 else 's'}), "
            "so nothing can be finalized or checkpointed. Run `provenance audit verify` for the "
            "full report, and restore the ledger from a backup checked against your checkpoints."
        )
        self.report = report
