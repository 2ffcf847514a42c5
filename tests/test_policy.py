"""The delivery policy as a pure function: facts in, findings out (no database)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from provenance.errors import ProvenanceError
from provenance.origins import Origin
from provenance.policy import (
    DEFAULT_POLICY,
    RULES,
    AssetFacts,
    FileFacts,
    GenerativeSource,
    Policy,
    SequenceFacts,
    Severity,
    ToolFacts,
    evaluate,
    load_policy,
)

VETTED = ToolFacts("Runway Gen-4", True, trains_on_inputs="no", secured="yes")
RISKY = ToolFacts("FreeGen", True, trains_on_inputs="unknown", secured="no")


def asset(
    name: str = "comp/sh010.####.exr",
    origin: Origin = Origin.DIGITAL_CREATION,
    sources: tuple[GenerativeSource, ...] = (),
    approvals: tuple[str, ...] = (),
    covers: bool = False,
    disputed: bool = False,
    claimed: tuple[Origin, ...] | None = None,
    likeness: tuple[str, ...] = (),
    consented: frozenset[str] = frozenset(),
) -> AssetFacts:
    return AssetFacts(
        name=name,
        version=1,
        digest="xxh3-128:" + "a" * 32,
        origin=origin,
        disputed=disputed,
        claimed=claimed
        if claimed is not None
        else ((origin,) if origin is not Origin.UNKNOWN else ()),
        generative_sources=sources,
        approvals=approvals,
        approval_covers_tool_risk=covers,
        likeness=likeness,
        consented=consented,
    )


def rules(findings_of: list[FileFacts], sequences: tuple[SequenceFacts, ...] = ()) -> list[str]:
    return [f.rule for f in evaluate(findings_of, sequences, DEFAULT_POLICY).findings]


def frames(facts: AssetFacts, count: int = 3) -> list[FileFacts]:
    return [
        FileFacts(f"d/sh010.{1001 + i}.exr", f"xxh3-128:{i:032x}", facts, 1001 + i)
        for i in range(count)
    ]


def test_a_clean_human_asset_has_no_findings() -> None:
    verdict = evaluate(frames(asset()), (), DEFAULT_POLICY)
    assert verdict.findings == [] and verdict.clean and not verdict.blocked
    assert (verdict.files, verdict.assets) == (3, 1)


def test_findings_about_an_asset_are_reported_once_for_all_its_frames() -> None:
    sky = GenerativeSource("elements/sky.####.exr", 1, Origin.TRAINED_ALGORITHMIC_MEDIA, (VETTED,))
    verdict = evaluate(frames(asset(sources=(sky,)), count=50), (), DEFAULT_POLICY)
    assert [f.rule for f in verdict.findings] == ["genai-unapproved"]
    finding = verdict.findings[0]
    assert len(finding.files) == 50 and finding.blocks
    assert "contains elements/sky.####.exr" in finding.message
    assert "provenance approve" in finding.fix


def test_an_approval_bound_to_the_asset_clears_genai_but_not_tool_risk() -> None:
    risky = GenerativeSource("sky", 1, Origin.TRAINED_ALGORITHMIC_MEDIA, (RISKY,))
    assert rules(frames(asset(sources=(risky,)))) == ["genai-tool-risk", "genai-unapproved"]
    approved = asset(sources=(risky,), approvals=("NFX-1",))
    assert rules(frames(approved)) == ["genai-tool-risk"]
    covered = asset(sources=(risky,), approvals=("NFX-1",), covers=True)
    assert rules(frames(covered)) == []


def test_origin_unknown_disputed_untracked_changed_ambiguous() -> None:
    files = [
        FileFacts("a.exr", "xxh3-128:1", asset(name="a", origin=Origin.UNKNOWN)),
        FileFacts(
            "b.exr",
            "xxh3-128:2",
            asset(
                name="b",
                origin=Origin.TRAINED_ALGORITHMIC_MEDIA,
                disputed=True,
                claimed=(Origin.TRAINED_ALGORITHMIC_MEDIA, Origin.DIGITAL_CREATION),
                approvals=("x",),
            ),
        ),
        FileFacts("c.exr", "xxh3-128:3"),
        FileFacts("d.exr", "xxh3-128:4", asset(name="d"), recorded_digest="xxh3-128:5"),
        FileFacts(
            "e.exr",
            "xxh3-128:6",
            ambiguous=(
                ("plate", Origin.DIGITAL_CAPTURE),
                ("sky", Origin.TRAINED_ALGORITHMIC_MEDIA),
            ),
        ),
        FileFacts("f.exr", None, problem="missing"),
        FileFacts("g.exr", None, problem="unreadable: Permission denied"),
    ]
    assert sorted(rules(files)) == sorted(
        [
            "origin-unknown",
            "origin-disputed",
            "untracked",
            "changed",
            "content-ambiguous",
            "missing-file",
            "unreadable",
        ]
    )
    ambiguous = next(
        f for f in evaluate(files, (), DEFAULT_POLICY).findings if f.rule == "content-ambiguous"
    )
    assert "plate (capture)" in ambiguous.message and "sky (ai)" in ambiguous.message


def test_likeness_needs_consent() -> None:
    assert rules(frames(asset(likeness=("Ada Lovelace",)))) == ["likeness-no-consent"]
    consented = asset(likeness=("Ada Lovelace",), consented=frozenset({"ada lovelace"}))
    assert rules(frames(consented)) == []


def test_missing_frames_inside_a_named_range() -> None:
    found = rules(frames(asset()), (SequenceFacts("d/sh010.####.exr", (1004, 1005, 1007)),))
    assert found == ["frames-missing"]
    verdict = evaluate(
        frames(asset()), (SequenceFacts("d/x.####.exr", (1004, 1005, 1007)),), DEFAULT_POLICY
    )
    assert "1004-1005,1007" in verdict.findings[0].message


def test_every_rule_names_its_guideline() -> None:
    assert all(rule.guideline and rule.title for rule in RULES.values())
    assert "principle 4" in RULES["genai-unapproved"].guideline
    assert "principle 5" in RULES["likeness-no-consent"].guideline


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
    facts = asset(
        origin=Origin.DIGITAL_CREATION,
        disputed=True,
        claimed=(Origin.DIGITAL_CREATION, Origin.DIGITAL_CAPTURE),
    )
    verdict = evaluate(frames(facts), (SequenceFacts("s", (2,)),), policy)
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


def test_material_of_unknown_origin_inside_a_delivered_asset_blocks_and_names_the_input() -> None:
    comp = replace(asset(), unknown_inputs=(("elements/sky.####.exr", 2),))
    verdict = evaluate(frames(comp), (), DEFAULT_POLICY)
    assert [f.rule for f in verdict.findings] == ["input-origin-unknown"]
    finding = verdict.findings[0]
    assert finding.blocks and "elements/sky.####.exr v2" in finding.message
    assert "provenance tag elements/sky.####.exr --origin" in finding.fix
    relaxed = Policy(
        "relaxed", {**DEFAULT_POLICY.severities, "input-origin-unknown": Severity.WARN}
    )
    assert [f.severity for f in evaluate(frames(comp), (), relaxed).findings] == [Severity.WARN]
