"""Which files go to the detectors: decided by name and first bytes, without loading them."""

from __future__ import annotations

import os
from pathlib import Path

from provenance.detect.sniff import READABLE_TYPES, could_carry, worth_reading
from provenance.fingerprint import NOTHING_TO_READ, hash_chunk

from ..builders import write_bytes, write_exr, write_image


def test_only_types_a_reader_parses_are_worth_reading() -> None:
    assert worth_reading(b"/show/comp/sh010.1001.exr", set())
    assert worth_reading(b"/show/refs/IMG_0001.JPG", set())
    assert worth_reading(b"/show/edit/cut_v003.mov", set())
    assert not worth_reading(b"/show/fx/sim.0001.bgeo.sc", set())
    assert not worth_reading(b"/show/comp/sh010_comp.nk", set())
    assert not worth_reading(b"/show/plates/plate.c2pa", {b"/show/plates/plate.c2pa"})


def test_a_sidecar_makes_any_file_worth_reading() -> None:
    assert worth_reading(b"/show/plates/plate.ari", {b"/show/plates/plate.c2pa"})
    assert worth_reading(b"/show/plates/plate.ari", {b"/show/plates/plate.ari.c2pa"})


def test_a_file_is_read_only_when_its_bytes_start_as_a_readable_type(tmp_path: Path) -> None:
    assert could_carry(os.fsencode(write_image(tmp_path / "a.png")))
    assert could_carry(os.fsencode(write_image(tmp_path / "b.jpg")))
    assert could_carry(os.fsencode(write_image(tmp_path / "c.tif")))
    assert could_carry(os.fsencode(write_exr(tmp_path / "d.exr")))
    assert not could_carry(os.fsencode(write_bytes(tmp_path / "e.exr", 4096, seed=1)))
    assert not could_carry(os.fsencode(write_bytes(tmp_path / "f.mov", 4096, seed=2)))
    assert not could_carry(os.fsencode(tmp_path / "missing.png"))


def test_a_sidecar_makes_unreadable_bytes_worth_a_look(tmp_path: Path) -> None:
    frame = write_bytes(tmp_path / "plate.1001.ari", 4096, seed=3)
    (tmp_path / "plate.1001.c2pa").write_bytes(b"manifest")
    assert could_carry(bytes(frame))


def test_every_type_a_reader_reads_is_worth_reading() -> None:
    # The list is kept by hand so that sniffing loads no reader; it must not fall behind them.
    # (Types the C2PA library names only by MIME type map to extensions through the system's
    # MIME database, which differs between machines: its own extension names are compared.)
    from provenance.detect import c2pa, metadata, perceptual, plugins

    pillow = perceptual._pillow_formats()[1]
    tagged = {os.fsencode(extension) for extension in metadata.EXTENSIONS}
    signed = {b"." + os.fsencode(name) for name in c2pa._supported_formats() if "/" not in name}
    assert (pillow | tagged | signed | {b".exr"}) <= READABLE_TYPES
    assert pillow <= plugins.image_extensions() <= READABLE_TYPES


def test_a_bigtiff_is_read_and_a_type_without_a_mark_is_left_to_the_readers(
    tmp_path: Path,
) -> None:
    big = tmp_path / "matte.tif"
    big.write_bytes(b"II+\x00" + bytes(60))
    assert could_carry(os.fsencode(big))
    fits = tmp_path / "star.fits"
    fits.write_bytes(b"SIMPLE  =                    T" + bytes(50))
    assert could_carry(os.fsencode(fits))


def test_the_hashing_sniffs_the_first_bytes_it_just_read(tmp_path: Path) -> None:
    # The workers sniff from their read buffer: a short file after a PNG must be judged by its
    # own bytes, not by what the buffer still holds of the PNG.
    image = write_image(tmp_path / "a.png")
    stub = tmp_path / "b.png"
    stub.write_bytes(image.read_bytes()[:3])
    noise = write_bytes(tmp_path / "c.exr", 4096, seed=1)
    paths = [os.fsencode(path) for path in (image, stub, noise)]
    results = hash_chunk(paths, frozenset(paths))
    assert results[0].detection not in (None, NOTHING_TO_READ)
    assert [result.detection for result in results[1:]] == [NOTHING_TO_READ, NOTHING_TO_READ]
