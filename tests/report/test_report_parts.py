"""The report's pure parts: thumbnails of every frame format (and placeholders for the ones that
do not decode), the lineage pictures laid out by Graphviz, and the page's escaping."""

from __future__ import annotations

import datetime as dt
import io
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from provenance.origins import Origin
from provenance.policy import Finding, Severity
from provenance.report.delivery import lineage_graph
from provenance.report.html import delivery_page
from provenance.report.lineage_svg import dot_source, render_svgs
from provenance.report.model import (
    Checkpoint,
    DeliveryReport,
    Frame,
    LineageGraph,
    PolicyInfo,
    ReportRow,
)
from provenance.report.thumbnails import Thumbnail, thumbnail

from ..builders import require, write_dpx, write_exr, write_image


def pixels(thumb: Thumbnail) -> np.ndarray:
    assert thumb.jpeg is not None, thumb.problem
    with Image.open(io.BytesIO(thumb.jpeg)) as image:
        return np.asarray(image.convert("RGB"), dtype=np.int16)


def constant_exr(path: Path, value: float) -> Path:
    import OpenEXR

    plane = np.full((54, 96, 3), value, dtype=np.float16)
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    with OpenEXR.File(header, {"RGB": plane}) as image:
        image.write(str(path))
    return path


def test_exr_is_tone_mapped_for_display(tmp_path: Path) -> None:
    # Scene-linear 18% grey shows as sRGB's 46% (118); black stays black; highlights far
    # above 1.0 roll off into white instead of wrapping or turning a colour.
    assert (
        abs(int(pixels(thumbnail(bytes(constant_exr(tmp_path / "g.exr", 0.18)))).mean()) - 118) <= 2
    )
    assert pixels(thumbnail(bytes(constant_exr(tmp_path / "k.exr", 0.0)))).max() <= 2
    assert pixels(thumbnail(bytes(constant_exr(tmp_path / "w.exr", 40.0)))).min() >= 250
    big = thumbnail(bytes(write_exr(tmp_path / "big.exr", size=(1920, 1080))))
    assert (big.width, big.height) == (192, 108)


@pytest.mark.parametrize(("bits", "big_endian"), [(10, True), (10, False), (16, True), (8, False)])
def test_dpx_frames(tmp_path: Path, bits: int, big_endian: bool) -> None:
    path = write_dpx(tmp_path / "f.dpx", size=(80, 40), bits=bits, big_endian=big_endian)
    thumb = thumbnail(bytes(path))
    assert (thumb.width, thumb.height) == (80, 40) and not thumb.problem


def test_dpx_ten_bit_values(tmp_path: Path) -> None:
    """A 10-bit method-A word holds R, G, B from the top: 1023, 512, 0 show as 255, 128, 0."""
    path = write_dpx(tmp_path / "f.dpx", size=(16, 8))
    body = bytearray(path.read_bytes())
    word = struct.pack(">I", (1023 << 22) | (512 << 12) | (0 << 2))
    body[2048:] = word * (16 * 8)
    path.write_bytes(bytes(body))
    mean = pixels(thumbnail(bytes(path))).reshape(-1, 3).mean(axis=0)
    assert abs(mean[0] - 255) <= 3 and abs(mean[1] - 128) <= 3 and mean[2] <= 3


@pytest.mark.parametrize("name", ["f.png", "f.jpg", "f.tif", "f.webp"])
def test_pillow_frames(tmp_path: Path, name: str) -> None:
    thumb = thumbnail(bytes(write_image(tmp_path / name, size=(640, 360))))
    assert (thumb.width, thumb.height) == (192, 108)


def test_sixteen_bit_png(tmp_path: Path) -> None:
    path = tmp_path / "deep.png"
    Image.fromarray(np.full((36, 64), 40000, dtype=np.uint16)).save(path)
    assert abs(int(pixels(thumbnail(bytes(path))).mean()) - round(40000 / 65535 * 255)) <= 2


@pytest.mark.parametrize(
    ("name", "body", "problem"),
    [
        ("cut.exr", b"v/1\x01" + b"\x00" * 40, "cannot be decoded"),
        ("cut.dpx", b"SDPX" + b"\x00" * 100, "cannot be decoded"),
        ("text.tif", b"not a picture at all", "not an image"),
        ("zero.png", b"", "not an image"),
        ("rle.dpx", None, "run-length"),
    ],
)
def test_frames_that_do_not_decode_say_why(
    tmp_path: Path, name: str, body: bytes | None, problem: str
) -> None:
    path = tmp_path / name
    if body is None:
        write_dpx(path)
        data = bytearray(path.read_bytes())
        struct.pack_into(">H", data, 806, 1)  # encoding: run-length
        body = bytes(data)
    path.write_bytes(body)
    thumb = thumbnail(bytes(path))
    assert thumb.jpeg is None and problem in thumb.problem


def test_a_missing_frame_says_so(tmp_path: Path) -> None:
    assert thumbnail(bytes(tmp_path / "gone.exr")).problem == "file not found"


def test_a_decompression_bomb_is_not_decoded(tmp_path: Path) -> None:
    """A PNG that claims 100,000 x 100,000 pixels: refused, not decoded into 30 GB."""
    path = tmp_path / "bomb.png"
    raw = b"\x89PNG\r\n\x1a\n"
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    raw += struct.pack(">I", 13) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    raw += struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))
    path.write_bytes(raw)
    thumb = thumbnail(bytes(path))
    assert thumb.jpeg is None and thumb.problem


GRAPH = LineageGraph(
    nodes=[
        ("v0", 'comp "final"\nv3', Origin.DIGITAL_CREATION, False),
        ("v1", "sky <gen>\nv1", Origin.TRAINED_ALGORITHMIC_MEDIA, True),
    ],
    edges=[("v0", "v1", "contains")],
)


def test_dot_source_quotes_every_name() -> None:
    source = dot_source("r1", GRAPH)
    assert 'label="comp \\"final\\"\\nv3"' in source and '"r1_n0"' in source


def test_lineage_pictures_are_laid_out_by_dot_in_one_run() -> None:
    require(shutil.which("dot") is not None, "Graphviz's dot is not installed")
    svgs, problem = render_svgs({"r1": GRAPH, "r2": GRAPH})
    assert problem is None and set(svgs) == {"r1", "r2"}
    for key, svg in svgs.items():
        assert svg.startswith("<svg") and svg.endswith("</svg>")
        assert f'id="{key}_n1"' in svg and "sky &lt;gen&gt;" in svg
        assert "<!--" not in svg and "<?xml" not in svg


def test_no_dot_no_pictures(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    svgs, problem = render_svgs({"r1": GRAPH})
    assert svgs == {} and problem is not None and "Graphviz" in problem


def report_with(name: str, message: str) -> DeliveryReport:
    row = ReportRow(
        key="r0",
        name=name,
        asset=None,
        files=1,
        frames="",
        size=10,
        origin=None,
        disputed=False,
        tools=[],
        sources=[],
        findings=[Finding("untracked", Severity.BLOCK, None, (name,), message, "ingest it")],
        approvals=[],
        likeness=[],
        thumbnails=[Frame("first", b"/nowhere/x.png", None)],
        lineage=None,
    )
    return DeliveryReport(
        title="T",
        name=None,
        source="/d",
        kind="folder",
        verdict="BLOCKED",
        policy=PolicyInfo("netflix-2025", None, "built-in", {}),
        checkpoint=Checkpoint(1, "sha256:x"),
        rows=[row],
        loose=[],
        files=1,
        made_at=dt.datetime.now(dt.timezone.utc),
    )


def test_the_page_escapes_what_files_are_called() -> None:
    """A file named to inject markup or close the thumbnail block shows as text."""
    name = '</script><script>alert(1)</script><img src=x onerror="alert(2)">.png'
    page = delivery_page(report_with(name, f"{name} is not in the ledger"), {}, {})
    assert "<script>alert(1)" not in page and 'onerror="alert' not in page
    assert "&lt;/script&gt;&lt;script&gt;alert(1)" in page
    assert page.count("<script") == 2  # the thumbnails block and the page's own script


def test_lineage_graph_from_the_judge() -> None:
    from provenance.obligations import ClaimRow, Judge, LedgerFacts, VersionFacts

    sky = VersionFacts(
        2, 2, "/s/sky.####.exr", 1, 1, "d2", 5, claims=(ClaimRow(Origin.TRAINED_ALGORITHMIC_MEDIA),)
    )
    fg = VersionFacts(
        3,
        3,
        "/s/fg.####.exr",
        1,
        1,
        "d3",
        5,
        claims=(ClaimRow(Origin.DIGITAL_CREATION),),
        contains=(2,),
    )
    comp = VersionFacts(
        1,
        1,
        "/s/comp.####.exr",
        2,
        2,
        "d1",
        5,
        claims=(ClaimRow(Origin.DIGITAL_CREATION),),
        contains=(3,),
    )
    judge = Judge(LedgerFacts({1: comp, 2: sky, 3: fg}))
    graph = lineage_graph(judge.judge(1))
    assert graph is not None
    assert [(n[1], n[3]) for n in graph.nodes] == [
        ("comp.####.exr\nv2", False),
        ("fg.####.exr\nv1", False),
        ("sky.####.exr\nv1", True),
    ]
    assert graph.edges == [("v0", "v1", "contains"), ("v1", "v2", "contains")]
    assert lineage_graph(judge.judge(2)) is None  # generated itself, nothing between
