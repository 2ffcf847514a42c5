"""provenance: which assets of a show are camera, human, ML-assisted or generative AI, by which tool, made from what.

The public API for pipeline code and DCC publish hooks::

    from provenance import Ledger

    with Ledger.open() as ledger:
        report = ledger.ingest(["comp/sh010_comp_v003.####.exr"], origin="human", tool="Nuke@15.1",
                               contains=["plates/sh010_plate.####.exr"])
"""

from typing import TYPE_CHECKING, Any

from provenance.errors import (
    AmbiguousTarget,
    BadPattern,
    BadScene,
    LedgerNotFound,
    LedgerReadOnly,
    LineageCycle,
    NotALedger,
    ProvenanceError,
    SceneRefused,
    SchemaMismatch,
    TargetNotFound,
    ToolConflict,
    UnknownOrigin,
    UnknownTool,
)
from provenance.origins import Evidence, Origin, OriginCategory, parse_origin
from provenance.records import (
    AssetCard,
    AssetRef,
    ClaimInfo,
    HistoryEntry,
    IngestReport,
    LineageLink,
    LineageNode,
    SignalInfo,
    SkippedFile,
    ToolInfo,
)

if TYPE_CHECKING:
    from provenance.ledger import Ledger

__all__ = [
    "AmbiguousTarget",
    "AssetCard",
    "AssetRef",
    "BadPattern",
    "BadScene",
    "ClaimInfo",
    "Evidence",
    "HistoryEntry",
    "IngestReport",
    "Ledger",
    "LedgerNotFound",
    "LedgerReadOnly",
    "LineageCycle",
    "LineageLink",
    "LineageNode",
    "NotALedger",
    "Origin",
    "OriginCategory",
    "ProvenanceError",
    "SceneRefused",
    "SchemaMismatch",
    "SignalInfo",
    "SkippedFile",
    "TargetNotFound",
    "ToolConflict",
    "ToolInfo",
    "UnknownOrigin",
    "UnknownTool",
    "__version__",
    "parse_origin",
]


__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # The ledger (SQLAlchemy, alembic) loads on first use, so that hashing worker processes,
    # which import only `provenance.fingerprint`, start in milliseconds rather than half a second.
    if name == "Ledger":
        from provenance.ledger import Ledger

        return Ledger
    raise AttributeError(f"module 'provenance' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), "Ledger"})
