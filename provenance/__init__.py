"""provenance: which assets of a show are camera, human, ML-assisted or generative AI, by which tool, made from what.

The public API for pipeline code and DCC publish hooks::

    from provenance import Ledger

    with Ledger.open() as ledger:
        report = ledger.ingest(["comp/sh010_comp_v003.####.exr"], origin="human", tool="Nuke@15.1",
                               contains=["plates/sh010_plate.####.exr"])
"""

from provenance.errors import (
    AmbiguousTarget,
    BadPattern,
    IngestIncomplete,
    LedgerNotFound,
    LedgerReadOnly,
    LineageCycle,
    NotALedger,
    ProvenanceError,
    SchemaMismatch,
    TargetNotFound,
    ToolConflict,
    UnknownOrigin,
    UnknownTool,
)
from provenance.ledger import Ledger
from provenance.origins import Evidence, Origin, OriginCategory, parse_origin
from provenance.records import (
    AssetCard,
    AssetRef,
    ClaimInfo,
    HistoryEntry,
    IngestReport,
    LineageLink,
    LineageNode,
    SkippedFile,
    ToolInfo,
)

__version__ = "0.1.0"

__all__ = [
    "AmbiguousTarget",
    "AssetCard",
    "AssetRef",
    "BadPattern",
    "ClaimInfo",
    "Evidence",
    "HistoryEntry",
    "IngestIncomplete",
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
    "SchemaMismatch",
    "SkippedFile",
    "TargetNotFound",
    "ToolConflict",
    "ToolInfo",
    "UnknownOrigin",
    "UnknownTool",
    "__version__",
    "parse_origin",
]
