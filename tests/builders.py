"""Builders for real files on disk: image frames made with Pillow, sequences, plain bytes."""

from __future__ import annotations

import contextlib
import errno
import os
import random
import subprocess
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from PIL import Image

IN_CI = os.environ.get("CI") == "true"


def require(condition: bool, reason: str) -> None:
    """Skip on a developer's machine that lacks something; in CI a missing part is a failure."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI must run this test: {reason}")
    pytest.skip(reason)


def write_bytes(path: Path, size: int, seed: int | str = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(random.Random(f"{seed}:{path.name!r}").randbytes(size))
    return path


def write_image(path: Path, seed: int | str = 0, size: tuple[int, int] = (64, 36)) -> Path:
    """A small real image (PNG, JPEG, TIFF... by extension) with noise from the seed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(f"{seed}:{path.name!r}")
    image = Image.frombytes("RGB", size, rng.randbytes(size[0] * size[1] * 3))
    image.save(path)
    return path


def write_sequence(
    folder: Path,
    name: str,
    frames: Iterable[int],
    padding: int = 4,
    ext: str = "tif",
    seed: str = "",
) -> list[Path]:
    """name.1001.tif ... made with Pillow; returns the paths in frame order."""
    paths = []
    for frame in frames:
        path = folder / f"{name}.{frame:0{padding}d}.{ext}"
        write_image(path, seed=f"{seed}{name}{frame}")
        paths.append(path)
    return paths


def age(paths: Iterable[Path], seconds: float = 60) -> None:
    """Move mtimes into the past so that the stat cache trusts them (outside the racy window)."""
    for path in paths:
        st = path.stat()
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns - int(seconds * 1e9)))


def write_exr(path: Path, seed: int | str = 0, size: tuple[int, int] = (64, 36)) -> Path:
    """A real scanline OpenEXR frame (half-float RGB noise from the seed), made with openexr."""
    import numpy as np
    import OpenEXR

    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(zlib.crc32(f"{seed}:{path.name!r}".encode()))
    pixels = rng.random((size[1], size[0], 3), dtype=np.float32).astype(np.float16)
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    with OpenEXR.File(header, {"RGB": pixels}) as image:
        image.write(str(path))
    return path


def write_exr_sequence(
    folder: Path, name: str, frames: Iterable[int], seed: str = ""
) -> list[Path]:
    return [
        write_exr(folder / f"{name}.{frame:04d}.exr", seed=f"{seed}{frame}") for frame in frames
    ]


def write_otio_cut(
    path: Path, base: str, prefix: str, frames: int, used: tuple[int, int], suffix: str = ".tif"
) -> Path:
    """An OTIO cut of one clip: the image sequence `base` + `prefix` + frame + `suffix` (`frames`
    frames from 1001, padded to 4), of which it uses `used` (the first frame's offset, how many)."""
    import opentimelineio as otio

    def span(start: int, count: int) -> otio.opentime.TimeRange:
        return otio.opentime.TimeRange(
            otio.opentime.RationalTime(start, 24), otio.opentime.RationalTime(count, 24)
        )

    reference = otio.schema.ImageSequenceReference(
        target_url_base=base,
        name_prefix=prefix,
        name_suffix=suffix,
        start_frame=1001,
        frame_zero_padding=4,
        rate=24,
        available_range=span(0, frames),
    )
    clip = otio.schema.Clip(name="sh010", media_reference=reference, source_range=span(*used))
    path.parent.mkdir(parents=True, exist_ok=True)
    otio.adapters.write_to_file(
        otio.schema.Timeline(tracks=[otio.schema.Track(children=[clip])]), str(path)
    )
    return path


def write_notes(folder: Path, count: int) -> list[Path]:
    """`count` tiny text files, each an asset of its own (named with letters, not numbers, so
    that none is taken for a frame of a sequence)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        name = "".join(chr(ord("a") + index // 26**place % 26) for place in (2, 1, 0))
        path = folder / f"note_{name}.txt"
        path.write_text(f"note {name}\n", encoding="utf-8")
        paths.append(path)
    return paths


@contextlib.contextmanager
def tmpfs(folder: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` (`2m`) mounted on `folder` for the test: a small disk that fills. Needs
    root (CI runs as root); elsewhere the test is skipped, in CI it fails."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    require(mounted.returncode == 0, f"cannot mount a tmpfs (root needed): {mounted.stderr}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True, check=False)


def fill(folder: Path, name: str = "filler.bin") -> Path:
    """Write random bytes into `folder` until its disk is full."""
    path = folder / name
    chunk = random.Random(name).randbytes(4096)
    with open(path, "wb", buffering=0) as stream:
        try:
            while True:
                stream.write(chunk)
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
    return path


def write_dpx(
    path: Path,
    seed: int | str = 0,
    size: tuple[int, int] = (64, 36),
    bits: int = 10,
    big_endian: bool = True,
) -> Path:
    """A real DPX frame (SMPTE 268M, one RGB image element): 10 bits in method A filled 32-bit
    words (the common camera and scan layout), or 8 or 16 bits a sample; noise from the seed."""
    import struct

    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    width, height = size
    rng = np.random.default_rng(zlib.crc32(f"{seed}:{path.name!r}".encode()))
    order = ">" if big_endian else "<"
    if bits == 10:
        samples = rng.integers(0, 1024, size=(height, width, 3), dtype=np.uint32)
        words = (samples[..., 0] << 22) | (samples[..., 1] << 12) | (samples[..., 2] << 2)
        body = words.astype(order + "u4").tobytes()
        packing = 1
    elif bits == 16:
        body = rng.integers(0, 65536, size=(height, width, 3)).astype(order + "u2").tobytes()
        packing = 0
    else:
        body = rng.integers(0, 256, size=(height, width, 3)).astype(np.uint8).tobytes()
        packing = 0
    header = bytearray(2048)
    header[0:4] = b"SDPX" if big_endian else b"XPDS"
    struct.pack_into(order + "I", header, 4, len(header))
    header[8:16] = b"V2.0\0\0\0\0"
    struct.pack_into(order + "I", header, 16, len(header) + len(body))
    struct.pack_into(order + "HH", header, 768, 0, 1)
    struct.pack_into(order + "II", header, 772, width, height)
    header[800] = 50  # RGB
    header[801] = header[802] = 2  # linear
    header[803] = bits
    struct.pack_into(order + "HHI", header, 804, packing, 0, len(header))
    path.write_bytes(bytes(header) + body)
    return path
