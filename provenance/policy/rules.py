"""The rule table of the delivery policy: each rule's id, title, the guideline it enforces, and
its default severity.

Pure: no database, no terminal. Which severities are in force is `provenance.policy.policies`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["RULES", "Rule", "Severity"]


class Severity(str, enum.Enum):
    BLOCK = "block"
    WARN = "warn"
    OFF = "off"


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    guideline: str
    """The guideline the rule enforces, in the guideline's own terms."""
    default: Severity = Severity.BLOCK


_NETFLIX = "Netflix, Using Generative AI in Content Production (2025)"

RULES: dict[str, Rule] = {
    rule.id: rule
    for rule in (
        Rule(
            "missing-file",
            "Named file does not exist",
            "A delivery must hold every file its pull list, path list or timeline names.",
        ),
        Rule(
            "unreadable",
            "File cannot be read",
            "A file that cannot be read cannot be fingerprinted, so the ledger cannot vouch for it.",
        ),
        Rule(
            "untracked",
            "File not in the ledger",
            "Every delivered file must be one the ledger can vouch for: its origin is unknown "
            f"until it is recorded ({_NETFLIX}: disclose any GenAI use).",
        ),
        Rule(
            "changed",
            "File changed since it was recorded",
            "Claims and approvals are bound to exact bytes; changed bytes carry none of them.",
        ),
        Rule(
            "origin-unknown",
            "Origin not declared",
            f"{_NETFLIX}: partners disclose any intended GenAI use; an undeclared origin "
            "cannot be shown to be free of it.",
        ),
        Rule(
            "origin-disputed",
            "Origin claims disagree",
            "A disagreement about whether material is generated must be settled by a person "
            "(a resolving claim with its reason) before delivery.",
        ),
        Rule(
            "origin-differs",
            "Origin claims differ, none generative",
            "Claims that disagree only among non-generative origins (capture, human, "
            "ml-assisted, procedural) say nothing about generated material; they are "
            "recorded and shown, and a TD may settle them.",
            Severity.WARN,
        ),
        Rule(
            "content-ambiguous",
            "Identical content recorded with different origins",
            "The same bytes are recorded under assets that disagree about whether they are "
            "generated; which one the delivered file is must be settled by a person.",
        ),
        Rule(
            "input-origin-unknown",
            "Contains material of undeclared origin",
            f"{_NETFLIX}: partners disclose any intended GenAI use; the gate cannot vouch for "
            "material read into a delivered asset (a plate, an element a script reads) whose "
            "origin nobody has declared.",
        ),
        Rule(
            "lineage-stale",
            "Made from a parent version that is no longer the latest",
            "Lineage is pinned to versions: an asset recorded as made from an older version of "
            "a parent may be out of date, or may use the newer version without saying so.",
            Severity.WARN,
        ),
        Rule(
            "lineage-stale-genai",
            "Made from a parent whose newer version is unapproved generated material",
            f"{_NETFLIX}, principle 4: a child rendered after its parent changed cannot be "
            "assumed to use the parent's old bytes; when the newer version is, or contains, "
            "generated material that no approval covers, it may be in the delivery.",
        ),
        Rule(
            "content-shared",
            "A few frames are the bytes of generated material",
            "Identical bytes are one content whatever the path: frames of a delivered asset "
            "that a generated asset holds too are reported (black frames and slates are "
            "shared; a generated frame spliced in is not).",
            Severity.WARN,
        ),
        Rule(
            "genai-unapproved",
            "Generative AI material without written approval",
            f"{_NETFLIX}, principle 4: generated material is temporary and not part of the "
            "final deliverables; written approval is required when GenAI output is in final "
            "deliverables (principle 1: it must not replicate unowned or copyrighted material).",
        ),
        Rule(
            "genai-tool-risk",
            "Generative tool not vetted",
            f"{_NETFLIX}, principles 2 and 3: tools must not store, reuse or train on "
            "production inputs or outputs, and should run in an enterprise-secured environment; "
            "a 'no' or 'unsure' needs escalation and written approval.",
        ),
        Rule(
            "likeness-no-consent",
            "Performer likeness without consent",
            f"{_NETFLIX}, principle 5: no replacing or generating talent performances or "
            "union-covered work without consent (SAG-AFTRA 2023: informed, specific consent "
            "for digital replicas).",
        ),
        Rule(
            "embedded-ai",
            "File says it holds generated material",
            f"{_NETFLIX}: partners disclose any GenAI use. The file carries its own record of "
            "generation (a C2PA manifest, XMP DigitalSourceType or a generator's metadata) "
            "that the ledger does not hold.",
        ),
        Rule(
            "credentials-unreadable",
            "Content credentials cannot be read",
            f"{_NETFLIX}: partners disclose any GenAI use. The file carries content "
            "credentials (C2PA) that cannot be checked here: a remote manifest reading never "
            "fetches, a prerelease format, a signature algorithm the reader does not support. "
            "What they say about generation is unknown.",
            Severity.WARN,
        ),
        Rule(
            "metadata-unread",
            "Metadata too large to read",
            f"{_NETFLIX}: partners disclose any GenAI use. The file holds metadata (an XMP "
            "packet, a text chunk, an EXIF value) larger than the reader's limits, so it was "
            "not read: what it says about generation (an XMP DigitalSourceType, a generator's "
            "parameters) is unknown.",
            Severity.WARN,
        ),
        Rule(
            "near-ai-copy",
            "Looks like known generated material",
            f"{_NETFLIX}, principle 4: generated material is temporary and not part of the "
            "final deliverables; a re-encoded, resized, cropped, mirrored, letterboxed or "
            "overlaid copy of it is the same material under another name.",
        ),
        Rule(
            "no-print",
            "Image has no perceptual print",
            "A delivered image the ledger does not hold could not be compared with known "
            "generated material (it is blank, or cannot be decoded): said, never skipped.",
            Severity.WARN,
        ),
        Rule(
            "approval-bytes-differ",
            "Delivered bytes are not the approved bytes",
            "Claims and approvals are bound to exact bytes. With `finalize --strong`, a "
            "delivered version that an approval covers by a collision-resistant digest "
            "(`approve --strong`) must have the bytes that digest describes: xxh3-128 alone "
            "does not resist a second file crafted to share it.",
        ),
        Rule(
            "frames-missing",
            "Frames missing from a delivered sequence",
            "A sequence must be delivered whole: frames missing inside its range are reported.",
        ),
    )
}
