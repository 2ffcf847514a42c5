"""The origin vocabulary and how claims add up (pure, no database)."""

from __future__ import annotations

import pytest

from provenance.errors import UnknownOrigin
from provenance.origins import ALIASES, ClaimFacts, Origin, parse_origin, summarize_claims


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("capture", Origin.DIGITAL_CAPTURE),
        ("human", Origin.DIGITAL_CREATION),
        ("ml-assisted", Origin.ALGORITHMICALLY_ENHANCED),
        ("ai", Origin.TRAINED_ALGORITHMIC_MEDIA),
        ("AI-Composite", Origin.COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA),
        ("unknown", Origin.UNKNOWN),
        ("trainedAlgorithmicMedia", Origin.TRAINED_ALGORITHMIC_MEDIA),
        ("compositeSynthetic", Origin.COMPOSITE_SYNTHETIC),
        ("http://cv.iptc.org/newscodes/digitalsourcetype/humanEdits", Origin.HUMAN_EDITS),
        ("https://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture", Origin.DIGITAL_CAPTURE),
        (
            "http://c2pa.org/digitalsourcetype/trainedAlgorithmicData",
            Origin.TRAINED_ALGORITHMIC_DATA,
        ),
        ("minorHumanEdits", Origin.MINOR_HUMAN_EDITS),
    ],
)
def test_aliases_codes_and_uris_parse(text: str, expected: Origin) -> None:
    assert parse_origin(text) is expected


def test_unknown_origin_names_close_matches_and_the_choices() -> None:
    with pytest.raises(UnknownOrigin) as caught:
        parse_origin("captur")
    message = str(caught.value)
    assert "capture" in message and "Did you mean" in message
    assert all(alias in message for alias in ALIASES)


def test_generative_codes_are_exactly_the_generated_ones() -> None:
    generative = {o for o in Origin if o.generative}
    assert generative == {
        Origin.TRAINED_ALGORITHMIC_MEDIA,
        Origin.COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA,
        Origin.COMPOSITE_SYNTHETIC,
        Origin.TRAINED_ALGORITHMIC_DATA,
    }
    # ML-assisted tools (roto, denoise) and procedural media are not generative AI.
    assert not Origin.ALGORITHMICALLY_ENHANCED.generative
    assert not Origin.ALGORITHMIC_MEDIA.generative


def test_every_code_has_a_uri_but_unknown() -> None:
    for origin in Origin:
        if origin is Origin.UNKNOWN:
            assert origin.uri is None
        else:
            assert origin.uri is not None and origin.uri.endswith("/" + origin.value)
            assert parse_origin(origin.uri) is origin


def facts(*origins: str, resolving: int | None = None) -> list[ClaimFacts]:
    return [ClaimFacts(parse_origin(o), resolves=i == resolving) for i, o in enumerate(origins)]


def test_no_claims_is_unknown() -> None:
    summary = summarize_claims([])
    assert (summary.origin, summary.disputed, summary.generative) == (Origin.UNKNOWN, False, False)


def test_agreeing_claims_give_their_origin() -> None:
    summary = summarize_claims(facts("human", "humanEdits"))
    assert summary.origin is Origin.HUMAN_EDITS
    assert not summary.disputed


def test_a_later_human_claim_never_hides_an_ai_claim() -> None:
    summary = summarize_claims(facts("ai", "human"))
    assert summary.disputed
    assert summary.origin is Origin.TRAINED_ALGORITHMIC_MEDIA
    assert summary.generative


def test_a_resolving_claim_supersedes_everything_before_it() -> None:
    summary = summarize_claims(facts("ai", "human", "human", resolving=2))
    assert (summary.origin, summary.disputed, summary.generative) == (
        Origin.DIGITAL_CREATION,
        False,
        False,
    )
    # ...but not what comes after it.
    later = summarize_claims(facts("ai", "human", "human", "ai", resolving=2))
    assert later.disputed and later.generative


@pytest.mark.parametrize(
    ("claims", "disputed", "differs", "reported"),
    [
        # Any generative side: a dispute the gate blocks on.
        (("ai", "human"), True, False, Origin.TRAINED_ALGORITHMIC_MEDIA),
        (("capture", "ai-composite"), True, False, Origin.COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA),
        (("ai", "ai-composite"), True, False, Origin.TRAINED_ALGORITHMIC_MEDIA),
        (("ml-assisted", "trainedAlgorithmicData"), True, False, Origin.TRAINED_ALGORITHMIC_DATA),
        # "unknown" leaves open whether generated material is involved: also a dispute.
        (("human", "unknown"), True, False, Origin.UNKNOWN),
        # Non-generative, known origins only: they differ, a warning.
        (("capture", "human"), False, True, Origin.DIGITAL_CREATION),
        (("human", "digitalCapture"), False, True, Origin.DIGITAL_CREATION),
        (("human", "softwareImage"), False, True, Origin.SOFTWARE_IMAGE),
        (("human", "algorithmicMedia"), False, True, Origin.ALGORITHMIC_MEDIA),
        (("capture", "ml-assisted"), False, True, Origin.ALGORITHMICALLY_ENHANCED),
        # Agreement in kind is neither.
        (("human", "humanEdits", "digitalArt"), False, False, Origin.DIGITAL_ART),
    ],
)
def test_only_a_disagreement_about_generated_material_is_a_dispute(
    claims: tuple[str, ...], disputed: bool, differs: bool, reported: Origin
) -> None:
    summary = summarize_claims(facts(*claims))
    assert (summary.disputed, summary.differs, summary.origin) == (disputed, differs, reported)
    assert summary.generative == any(parse_origin(c).generative for c in claims)


def test_a_td_settles_a_difference_as_a_dispute() -> None:
    summary = summarize_claims(facts("capture", "human", "capture", resolving=2))
    assert (summary.disputed, summary.differs, summary.origin) == (
        False,
        False,
        Origin.DIGITAL_CAPTURE,
    )
