"""OpenTimelineIO cuts (`.otio`) as scenes: the media an editorial cut uses.

The cut is read by the delivery reader (`provenance.deliveries`), so a cut means the same thing
as a scene and as a delivery: each clip's image sequence over the frames its source range uses,
and each external reference's file, read where the `Placer` places it (a cut conformed on
Windows names `P:/show/...`). Media the cut names that is not on disk is an input all the same
(the lineage side reports it missing). A cut names no outputs.
"""

from __future__ import annotations

import os

from provenance.deliveries import DeliveryKind, read_delivery
from provenance.scan import looks_like_pattern
from provenance.scenes import Placer, SceneInput, SceneKind, SceneRead

__all__ = ["read_otio"]


def read_otio(path: bytes, placer: Placer) -> SceneRead:
    """The media of an OTIO cut (see the module's docstring)."""
    delivery = read_delivery(path, localize=placer.here_or_as_spelled)
    assert delivery.kind is DeliveryKind.OTIO
    read = SceneRead(SceneKind.OTIO, path)
    for pattern, (start, stop) in zip(delivery.asset_patterns, delivery.asset_spans, strict=True):
        frames = [f.frame for f in delivery.files[start:stop] if f.frame is not None]
        used = (min(frames), max(frames)) if frames else None
        read.inputs.append(SceneInput(pattern, "clip", "media_reference", used))
    for missing in delivery.missing:
        known = looks_like_pattern(os.fsdecode(missing))
        read.inputs.append(
            SceneInput(missing, "clip", "media_reference" if known else "target_url")
        )
    return read
