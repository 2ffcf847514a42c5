"""The delivery policy as a pure function: ledger rows in, findings out (no database).

`Show` builds the rows the store would deliver (`obligations.VersionFacts`) for a small show;
each test of the table states one rule of the gate and the variants a vendor would try.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from provenance.errors import ProvenanceError
from provenance.obligations import (
    ApprovalRow,
    ClaimRow,
    Judge,
    LedgerFacts,
    SignalRow,
    ToolFacts,
    VersionFacts,
    copy_relation_of,
)
from provenance.origins import Evidence, Origin
from provenance.policy import (
    DEFAULT_POLICY,
    RULES,
    Policy,
    Severity,
    Verdict,
    evaluate,
    load_policy,
)
from provenance.resolution import FileFacts, SequenceFacts, pick_by_context

AI = Origin.TRAINED_ALGORITHMIC_MEDIA
HUMAN = Origin.DIGITAL_CREATION
CAPTURE = Origin.DIGITAL_CAPTURE
VETTED = ToolFacts("Runway Gen-4", True, trains_on_inputs="no", secured="yes")
RISKY = ToolFacts("FreeGen", True, trains_on_inputs="unknown", secured="no")
TOOLS = {1: VETTED, 2: RISKY}


@dataclass
class Show:
    """Versions by id, with the rows the store would deliver about them."""

    versions: dict[int, VersionFacts] = field(default_factory=dict)
    consented: frozenset[str] = frozenset()
    _events: int = 0

    def add(
        self,
        version_id: int,
        name: str,
        origin: Origin | None = HUMAN,
        tool: int | None = None,
        number: int = 1,
        asset: int | None = None,
        members: int = 3,
        contains: tuple[int, ...] = (),
        likeness: tuple[str, ...] = (),
    ) -> VersionFacts:
        recorded_at = self._event()
        claims = ()
        if origin is not None:
            claims = (ClaimRow(origin, tool_id=tool, event_id=recorded_at, said="artist"),)
        version = VersionFacts(
            id=version_id,
            asset_id=asset if asset is not None else version_id,
            name=name,
            number=number,
            latest=number,
            digest=f"xxh3-128:{version_id:032x}",
            members=members,
            claims=claims,
            contains=contains,
            linked_at=tuple((parent, recorded_at) for parent in contains),
            recorded_at=recorded_at,
            likeness=likeness,
        )
        self.versions[version_id] = version
        return version

    def _event(self) -> int:
        self._events += 1
        return self._events

    def update(self, version_id: int, **changes: object) -> None:
        self.versions[version_id] = replace(self.versions[version_id], **changes)  # type: ignore[arg-type]

    def claim(self, version_id: int, origin: Origin, resolves: bool = False, **kw: object) -> None:
        claim = ClaimRow(origin, resolves=resolves, event_id=self._event(), **kw)  # type: ignore[arg-type]
        self.update(version_id, claims=(*self.versions[version_id].claims, claim))

    def approve(self, version_id: int, ref: str = "NFX-1", covers_tool_risk: bool = False) -> None:
        version = self.versions[version_id]
        row = ApprovalRow(ref, version.digest, covers_tool_risk, "jane (studio)")
        self.update(version_id, approvals=(*version.approvals, row))

    def supersede(self, old: int, new: int, origin: Origin | None, tool: int | None = None) -> None:
        """`new` is the next version of `old`'s asset."""
        before = self.versions[old]
        self.add(new, before.name, origin, tool, number=before.number + 1, asset=before.asset_id)
        latest = before.number + 1
        for version_id, version in list(self.versions.items()):
            if version.asset_id == before.asset_id:
                newer = tuple(
                    v.id
                    for v in self.versions.values()
                    if v.asset_id == before.asset_id and v.number > version.number
                )
                self.update(version_id, latest=latest, newer=newer)

    def share(self, version_id: int, other: int, count: int) -> None:
        """`count` of `version_id`'s members are bytes `other` (another asset) holds."""
        version = self.versions[version_id]
        self.update(version_id, shared=(*version.shared, (other, count)))

    @property
    def ledger(self) -> LedgerFacts:
        return LedgerFacts(self.versions, TOOLS, self.consented)

    def deliver(self, *version_ids: int, policy=DEFAULT_POLICY) -> Verdict:  # type: ignore[no-untyped-def]
        files = [
            FileFacts(f"d/{v}.{frame}.exr", f"xxh3-128:{v}{frame}", version=v, frame=frame)
            for v in version_ids
            for frame in range(1001, 1004)
        ]
        return evaluate(files, (), policy, self.ledger)

    def rules(self, *version_ids: int) -> list[str]:
        return sorted(f.rule for f in self.deliver(*version_ids).findings)


def blocking(verdict: Verdict) -> list[str]:
    return sorted(f.rule for f in verdict.findings if f.blocks)


# -- origins ----------------------------------------------------------------------------------


def test_a_clean_human_asset_has_no_findings() -> None:
    show = Show()
    show.add(1, "comp")
    verdict = show.deliver(1)
    assert verdict.findings == [] and verdict.clean and not verdict.blocked
    assert (verdict.files, verdict.assets) == (3, 1)


def test_unknown_and_disputed_origins_block() -> None:
    show = Show()
    show.add(1, "title", origin=None)
    show.add(2, "matte")
    show.claim(2, Origin.ALGORITHMICALLY_ENHANCED)
    assert show.rules(1) == ["origin-unknown"]
    # Non-generative claims that differ only warn; one side generative (or unknown) blocks.
    assert show.rules(2) == ["origin-differs"] and not show.deliver(2).blocked
    show.claim(2, Origin.UNKNOWN)
    assert show.rules(2) == ["origin-disputed"]
    show.claim(2, HUMAN, resolves=True)
    assert show.rules(2) == []


# -- generated material and approvals (item 7) -------------------------------------------------


def test_generated_material_inside_a_comp_is_reported_once_for_all_its_frames() -> None:
    show = Show()
    show.add(1, "elements/sky", AI, tool=1)
    show.add(2, "comp", contains=(1,))
    verdict = show.deliver(2)
    (finding,) = verdict.findings
    assert finding.rule == "genai-unapproved" and len(finding.files) == 3
    assert "contains elements/sky v1" in finding.message
    assert finding.details["sources"] == [
        {
            "asset": "elements/sky",
            "version": 1,
            "origin": "ai",
            "tools": ["Runway Gen-4"],
            "via": "contains elements/sky v1",
        }
    ]


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_an_element_approval_covers_every_asset_that_contains_exactly_that_version(
    depth: int,
) -> None:
    show = Show()
    show.add(1, "elements/sky", AI, tool=1)
    for level in range(depth):
        show.add(2 + level, f"comp{level}", contains=(1 + level,))
    top = 1 + depth
    assert show.rules(top) == ["genai-unapproved"]
    show.approve(1)
    assert show.rules(top) == []
    # The sky re-rendered to v2, the comp chain re-rendered from it: blocks again.
    show.supersede(1, 10, AI, tool=1)
    show.add(20, "comp-from-v2", contains=(10,))
    assert show.rules(20) == ["genai-unapproved"]


def test_an_approval_of_the_delivered_version_covers_everything_inside_it() -> None:
    show = Show()
    show.add(1, "elements/sky", AI, tool=1)
    show.add(2, "precomp", contains=(1,))
    show.add(3, "comp", contains=(2,))
    show.approve(3)
    assert show.rules(3) == []
    # An approval of something in between covers neither what ships nor the element.
    show.add(4, "comp-b", contains=(2,))
    show.approve(2)
    assert show.rules(4) == ["genai-unapproved"]


def test_an_approval_covers_only_the_bytes_it_was_given_for() -> None:
    show = Show()
    show.add(1, "elements/sky", AI, tool=1)
    show.update(1, approvals=(ApprovalRow("NFX-1", "xxh3-128:" + "f" * 32),))
    assert show.rules(1) == ["genai-unapproved"]


def test_tool_risk_needs_an_approval_that_accepts_it() -> None:
    show = Show()
    show.add(1, "elements/crowd", AI, tool=2)
    show.add(2, "comp", contains=(1,))
    assert show.rules(2) == ["genai-tool-risk", "genai-unapproved"]
    show.approve(2)
    assert show.rules(2) == ["genai-tool-risk"]
    show.approve(1, covers_tool_risk=True)  # the element's approval accepts its tool
    assert show.rules(2) == []


def test_likeness_propagates_and_needs_consent() -> None:
    show = Show()
    show.add(1, "double", AI, tool=1, likeness=("Ana Torres",))
    show.add(2, "comp", contains=(1,))
    show.approve(1)
    assert show.rules(2) == ["likeness-no-consent"]
    show.consented = frozenset({"ana torres"})
    assert show.rules(2) == []


# -- identical bytes (items 3 and 4) -----------------------------------------------------------


def test_copy_relations_by_how_much_is_shared() -> None:
    assert copy_relation_of(1, 1).value == "copy"
    assert copy_relation_of(100, 100).value == "copy"
    assert copy_relation_of(100, 51).value == "derived"
    assert copy_relation_of(100, 50) is None
    assert copy_relation_of(3, 1) is None


@pytest.mark.parametrize("declared", [HUMAN, CAPTURE, Origin.ALGORITHMICALLY_ENHANCED, None])
def test_bytes_recorded_as_generated_cannot_be_redeclared_at_another_path(
    declared: Origin | None,
) -> None:
    show = Show()
    show.add(1, "elements/gen_geo.abc", AI, tool=1, members=1)
    show.add(2, "delivery/geo_v001.abc", declared, members=1)
    show.share(2, 1, 1)
    assert "origin-disputed" in show.rules(2) and "genai-unapproved" in show.rules(2)
    (disputed,) = (f for f in show.deliver(2).findings if f.rule == "origin-disputed")
    assert disputed.details["same_bytes_as"] == [
        {"asset": "elements/gen_geo.abc", "version": 1, "origin": "ai"}
    ]
    # A TD settles it, after the generated claim: the dispute is closed; the bytes still
    # carry the generated material, which needs its approval.
    show.claim(2, AI, resolves=True, tool_id=1)
    assert show.rules(2) == ["genai-unapproved"]


def test_a_settled_copy_is_disputed_again_by_a_later_generated_claim() -> None:
    show = Show()
    show.add(1, "elements/x", HUMAN, members=1)
    show.add(2, "delivery/x", HUMAN, members=1)
    show.share(2, 1, 1)
    show.claim(2, HUMAN, resolves=True)
    assert show.rules(2) == []
    show.claim(1, AI, tool_id=1)  # someone now says the bytes are generated
    assert "origin-disputed" in show.rules(2)


def test_a_derivative_carries_what_it_is_mostly_made_of() -> None:
    # The delivered sequence re-ingested as a new asset with one frame re-rendered (item 6's
    # obvious variant): two of its three frames are the approved comp's bytes.
    show = Show()
    show.add(1, "elements/sky", AI, tool=1)
    show.add(2, "comp", contains=(1,))
    show.approve(2)
    show.add(3, "delivery/comp", HUMAN)
    show.share(3, 2, 2)
    assert show.rules(3) == ["genai-unapproved"]
    (finding,) = show.deliver(3).findings
    assert "is mostly the frames of comp v1, which contains elements/sky v1" in finding.message


def test_a_few_shared_frames_are_reported_not_carried() -> None:
    show = Show()
    show.add(1, "elements/fire", AI, tool=1)
    show.add(2, "comp")
    show.share(2, 1, 1)
    verdict = show.deliver(2)
    assert [(f.rule, f.severity) for f in verdict.findings] == [("content-shared", Severity.WARN)]
    assert not verdict.blocked


def test_a_file_held_by_several_assets_answers_to_each() -> None:
    show = Show()
    show.add(1, "elements/gen_geo.abc", AI, tool=1, members=1)
    show.approve(1)
    show.add(2, "comp/double.abc", AI, tool=2, members=1, likeness=("Ana Torres",))
    file = FileFacts("d/double.abc", "xxh3-128:1", holders=(1, 2))
    verdict = evaluate([file], (), DEFAULT_POLICY, show.ledger)
    assert blocking(verdict) == ["genai-tool-risk", "genai-unapproved", "likeness-no-consent"]
    assert {f.asset for f in verdict.findings} == {"comp/double.abc"}
    show.approve(2, covers_tool_risk=True)
    show.consented = frozenset({"ana torres"})
    assert evaluate([file], (), DEFAULT_POLICY, show.ledger).findings == []


def test_holders_that_disagree_about_generated_material_are_ambiguous() -> None:
    show = Show()
    show.add(1, "ref/matte_from_vendor.exr", HUMAN, members=1)
    show.add(2, "ref/matte_gen.exr", AI, tool=1, members=1)
    file = FileFacts("d/matte.exr", "xxh3-128:1", holders=(1, 2))
    (finding,) = evaluate([file], (), DEFAULT_POLICY, show.ledger).findings
    assert finding.rule == "content-ambiguous"
    assert [h["asset"] for h in finding.details["holders"]] == [
        "ref/matte_from_vendor.exr",
        "ref/matte_gen.exr",
    ]


def test_context_picks_the_asset_a_sequence_is() -> None:
    # Frame 0 is held by several assets (None); frames 1 and 2 resolve to version 7.
    assert pick_by_context([None, 7, 7], [range(0, 3)]) == {0: 7, 1: 7, 2: 7}
    # No majority, no context; a single file has none either.
    assert pick_by_context([5, 7, None], [range(0, 3)]) == {}
    assert pick_by_context([None], [range(0, 1)]) == {}


def test_material_of_undeclared_origin_inside_blocks_at_any_depth() -> None:
    show = Show()
    show.add(1, "elements/plate_from_client", origin=None)
    show.add(2, "precomp", contains=(1,))
    show.add(3, "comp", contains=(2,))
    (finding,) = show.deliver(3).findings
    assert finding.rule == "input-origin-unknown" and finding.blocks
    assert finding.details["inputs"][0]["via"] == (
        "contains precomp v1, which contains elements/plate_from_client v1"
    )
    show.claim(1, CAPTURE)
    assert show.rules(3) == []


# -- lineage pinned to versions (item 2) --------------------------------------------------------


def test_a_stale_parent_warns_and_blocks_when_its_newer_version_is_unapproved_ai() -> None:
    show = Show()
    show.add(1, "elements/sky", HUMAN)
    show.add(2, "comp", contains=(1,))
    assert show.rules(2) == []
    show.supersede(1, 3, HUMAN)
    verdict = show.deliver(2)
    assert [(f.rule, f.severity) for f in verdict.findings] == [("lineage-stale", Severity.WARN)]
    assert verdict.findings[0].details["recorded_version"] == 1
    assert verdict.findings[0].details["latest_version"] == 2
    show.supersede(3, 4, AI, tool=1)
    assert show.rules(2) == ["lineage-stale-genai"]
    show.approve(4)  # the newer version approved: only the warning remains
    assert show.rules(2) == ["lineage-stale"]


def test_a_newer_version_that_existed_when_the_edge_was_recorded_only_warns() -> None:
    # The generated sky was recorded (v2), then the artist's sky put back on disk and the comp
    # recorded from its scene, pinned to v1: the comp was made knowing v2, and not from it.
    show = Show()
    show.add(1, "elements/sky", HUMAN)
    show.supersede(1, 2, AI, tool=1)
    show.add(3, "comp", contains=(1,))
    assert show.rules(3) == ["lineage-stale"]


def test_a_stale_parent_deep_in_the_chain_is_found() -> None:
    show = Show()
    show.add(1, "elements/sky", HUMAN)
    show.add(2, "precomp", contains=(1,))
    show.add(3, "comp", contains=(2,))
    show.supersede(1, 4, AI, tool=1)
    (finding,) = show.deliver(3).findings
    assert finding.rule == "lineage-stale-genai" and "through precomp v1" in finding.message
    show.approve(3)  # the studio approved what ships, with whatever is in it
    assert show.rules(3) == ["lineage-stale"]


# -- files --------------------------------------------------------------------------------------


def test_untracked_changed_missing_unreadable() -> None:
    show = Show()
    show.add(1, "comp")
    files = [
        FileFacts("c.exr", "xxh3-128:3"),
        FileFacts("d.exr", "xxh3-128:4", version=1, frame=1002, changed=True),
        FileFacts("f.exr", None, problem="missing"),
        FileFacts("g.exr", None, problem="unreadable: Permission denied"),
    ]
    verdict = evaluate(files, (), DEFAULT_POLICY, show.ledger)
    assert sorted(f.rule for f in verdict.findings) == [
        "changed",
        "missing-file",
        "unreadable",
        "untracked",
    ]
    changed = next(f for f in verdict.findings if f.rule == "changed")
    # The fix leads to a new version of the recorded asset, never to a file of its own.
    assert "provenance ingest 'comp'" in changed.fix and "keeps its lineage" in changed.fix


def test_missing_frames_inside_a_named_range() -> None:
    show = Show()
    show.add(1, "comp")
    files = [FileFacts("d/1.exr", "xxh3-128:1", version=1)]
    verdict = evaluate(
        files, (SequenceFacts("d/x.####.exr", (1004, 1005, 1007)),), DEFAULT_POLICY, show.ledger
    )
    assert [f.rule for f in verdict.findings] == ["frames-missing"]
    assert "1004-1005,1007" in verdict.findings[0].message


def test_a_perceptual_match_is_settled_by_a_later_resolving_claim() -> None:
    show = Show()
    show.add(1, "matte")
    show.update(1, signals=(SignalRow(50, "looks like elements/sky v1"),))
    assert show.rules(1) == ["near-ai-copy"]
    show.claim(1, HUMAN, resolves=True)  # event 2 < 50: not settled yet
    assert show.rules(1) == ["near-ai-copy"]
    show.update(1, claims=(*show.versions[1].claims, ClaimRow(HUMAN, True, event_id=60)))
    assert show.rules(1) == []


def test_metadata_too_large_to_read_is_a_warning_naming_the_limit() -> None:
    unread = "a PNG iTXt chunk of 20.0 MiB (limits: 8 MiB a text chunk, EXIF value or XMP packet)"
    show = Show()
    show.add(1, "matte", HUMAN)
    show.update(
        1, signals=(SignalRow(50, "metadata too large", near_ai=False, metadata_unread=unread),)
    )
    (finding,) = show.deliver(1).findings
    assert (finding.rule, finding.severity) == ("metadata-unread", Severity.WARN)
    assert "20.0 MiB" in finding.message and "8 MiB" in finding.message
    assert finding.details == {"unread": [unread]}
    show.update(1, claims=(*show.versions[1].claims, ClaimRow(HUMAN, True, event_id=60)))
    assert show.rules(1) == []  # a TD who looked settles it
    # A file the ledger does not hold says the same at sweep.
    files = [FileFacts("in/x.png", "xxh3-128:9", metadata_unread=(unread,))]
    verdict = evaluate(files, (), DEFAULT_POLICY, show.ledger)
    assert sorted((f.rule, f.severity.value) for f in verdict.findings) == [
        ("metadata-unread", "warn"),
        ("untracked", "block"),
    ]


def test_evidence_from_the_files_is_named_in_a_dispute() -> None:
    show = Show()
    show.add(1, "matte")
    show.claim(1, AI, evidence=Evidence.EMBEDDED.value, said="ComfyUI graph")
    findings = {f.rule: f for f in show.deliver(1).findings}
    # (A live generative claim makes it generated material until a TD settles it.)
    assert sorted(findings) == ["genai-unapproved", "origin-disputed"]
    assert "ComfyUI graph" in findings["origin-disputed"].message


def test_judge_reaches_through_cycles_without_looping() -> None:
    show = Show()
    show.add(1, "a", AI, tool=1, contains=(2,))
    show.add(2, "b", contains=(1,))
    assert [s.version.id for s in Judge(show.ledger).sources(2)] == [1]


# -- the policy itself ---------------------------------------------------------------------------


def test_every_rule_names_its_guideline() -> None:
    assert all(rule.guideline and rule.title for rule in RULES.values())
    assert "principle 4" in RULES["genai-unapproved"].guideline
    assert "principle 5" in RULES["likeness-no-consent"].guideline
    assert RULES["lineage-stale"].default is Severity.WARN
    assert RULES["lineage-stale-genai"].default is Severity.BLOCK


def test_a_policy_file_changes_severities(tmp_path: Path) -> None:
    path = tmp_path / "studio.toml"
    path.write_text(
        'name = "studio-x"\n[rules]\norigin-disputed = "warn"\nframes-missing = "off"\n'
    )
    policy = load_policy(path)
    assert policy.name == "studio-x"
    assert policy.severity("origin-disputed") is Severity.WARN
    assert policy.severity("genai-unapproved") is Severity.BLOCK
    assert policy.digest != DEFAULT_POLICY.digest
    show = Show()
    show.add(1, "matte")
    show.claim(1, AI, tool_id=1)
    show.approve(1)
    files = [FileFacts("d/1.exr", "xxh3-128:1", version=1)]
    verdict = evaluate(files, (SequenceFacts("s", (2,)),), policy, show.ledger)
    assert [(f.rule, f.severity) for f in verdict.findings] == [("origin-disputed", Severity.WARN)]
    assert not verdict.blocked and not verdict.clean


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[rules]\nnot-a-rule = 'warn'\n", "not a rule"),
        ("[rules]\nuntracked = 'maybe'\n", "block, warn or off"),
        ("this is = = not toml", "not valid TOML"),
        ("extends = 'other'\n", "only built-in policy"),
    ],
)
def test_bad_policy_files_name_the_fix(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "p.toml"
    path.write_text(text)
    with pytest.raises(ProvenanceError, match=message):
        load_policy(path)
    with pytest.raises(ProvenanceError, match="does not exist"):
        load_policy(tmp_path / "nope.toml")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('name = ["a"]\n', "name must be a string, not a list"),
        ("name = 5\n", "name must be a string, not a number"),
        ('name = ""\n', "name = '' is empty"),
        ('name = "  "\n', "is empty"),
        ('name = "x\\ny"\n', "do not print"),
        ('name = "netflix-2025"\n[rules]\ngenai-unapproved = "off"\n', "reserved"),
        ('name = "Netflix_2025"\n', "reserved"),
        ('name = "\uff4eetflix 2025"\n', "reserved"),  # a fullwidth letter
        ("[rules]\ngenai-unapproved = 0\n", "quoted string"),
        ("[rules]\ngenai-unapproved = false\n", "quoted string"),
        ("[rules]\ngenai-unapproved = ['off']\n", "quoted string"),
        ("extends = 3\n", "extends = a number"),
        ("extends = ['netflix-2025']\n", "extends = a list"),
        ('genai-unapproved = "off"\n', "Rules go under \\[rules\\]"),
        ("[rules]\n[rules.genai-unapproved]\nx = 1\n", "quoted string"),
        ("rules = 3\n", "must be a table"),
    ],
)
def test_policy_files_of_the_wrong_type_or_a_reserved_name_are_refused(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "p.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ProvenanceError, match=message):
        load_policy(path)


def test_a_file_named_like_the_built_in_policy_needs_a_name_of_its_own(tmp_path: Path) -> None:
    path = tmp_path / "netflix-2025.toml"
    path.write_text('[rules]\ngenai-unapproved = "off"\n')
    with pytest.raises(ProvenanceError, match=r"named for the file, 'netflix-2025'.*reserved"):
        load_policy(path)
    path.write_text('name = "studio-x"\n[rules]\ngenai-unapproved = "off"\n')
    assert load_policy(str(path)).name == "studio-x"  # a str path, as a hook gives it


def test_a_custom_policy_says_so_and_what_it_changed(tmp_path: Path) -> None:
    path = tmp_path / "lenient.toml"
    path.write_text(
        'name = "studio-x"\n[rules]\ngenai-unapproved = "off"\nframes-missing = "warn"\n'
        'lineage-stale = "block"\n'
    )
    policy = load_policy(path)
    assert policy.custom and policy.extends == "netflix-2025" and not DEFAULT_POLICY.custom
    assert [(c.rule, c.severity.value, c.relaxed) for c in policy.changes] == [
        ("lineage-stale", "block", False),
        ("genai-unapproved", "off", True),
        ("frames-missing", "warn", True),
    ]
    assert policy.label == (
        "studio-x (custom, from netflix-2025: lineage-stale block, genai-unapproved off, "
        "frames-missing warn)"
    )
    assert policy.record_name == "studio-x (custom, from netflix-2025)"
    document = policy.document()
    assert document["custom"] is True and document["extends"] == "netflix-2025"
    assert {"rule": "genai-unapproved", "severity": "off", "built_in": "block"} in (
        document["changes"]
    )
    assert DEFAULT_POLICY.document() == {
        "name": "netflix-2025",
        "digest": DEFAULT_POLICY.digest,
        "custom": False,
        "extends": None,
        "changes": [],
    }
    # An unchanged file is still custom: it is not the built-in policy, whatever it holds.
    path.write_text('name = "same"\n')
    same = load_policy(path)
    assert same.custom and same.label == "same (custom, from netflix-2025: no rule changed)"
    assert same.digest != DEFAULT_POLICY.digest


def test_a_policy_made_in_code_cannot_pass_as_the_built_in_one() -> None:
    relaxed = {**DEFAULT_POLICY.severities, "genai-unapproved": Severity.OFF}
    with pytest.raises(ProvenanceError, match="Only the built-in policy"):
        Policy("netflix-2025", relaxed)
    with pytest.raises(ProvenanceError, match="reserved"):
        Policy("netflix-2025", relaxed, extends="netflix-2025")
    with pytest.raises(ProvenanceError, match="only one is 'netflix-2025'"):
        Policy("x", relaxed, extends="netflix-2026")
    assert Policy("x", relaxed, extends="netflix-2025").custom
