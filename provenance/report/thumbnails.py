"""Small JPEG thumbnails of delivered frames, for the HTML delivery report.

OpenEXR frames are tone-mapped for display (scene-linear: a soft shoulder above 0.8, then the
sRGB curve); DPX frames (8, 10 and 16 bits RGB, the common packings) are read here; JPEG, PNG,
TIFF and whatever else Pillow reads, as Pillow reads them. A frame that cannot be decoded gets
no thumbnail and a reason, which the page shows in its place.

Pure: paths in, bytes out. `make_thumbnails` spreads the work over the hashing workers.
"""

from __future__ import annotations

import functools
import io
import os
import struct
import warnings
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from provenance.fingerprint import Hasher

__all__ = ["Thumbnail", "make_thumbnails", "thumbnail"]


WIDTH = 192
HEIGHT = 108
QUALITY = 72


class Thumbnail(NamedTuple):
    """A JPEG of at most WIDTH x HEIGHT, or why there is none."""

    jpeg: bytes | None
    problem: str = ""
    width: int = 0
    height: int = 0


def thumbnail(path: bytes) -> Thumbnail:
    """The thumbnail of one frame (never raises: a frame that cannot be shown says why)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(4)
    except FileNotFoundError:
        return Thumbnail(None, "file not found")
    except OSError as exc:
        return Thumbnail(None, f"cannot be read ({exc.strerror})")
    try:
        with warnings.catch_warnings():
            # (A decoder's complaint about a damaged file is not the report's business.)
            warnings.simplefilter("ignore")
            if head == b"\x76\x2f\x31\x01":
                image = _exr_image(path)
            elif head in (b"SDPX", b"XPDS"):
                image = _dpx_image(path)
            else:
                image = _pillow_image(path)
    except _Unsupported as exc:
        return Thumbnail(None, str(exc))
    except Exception as exc:  # a hostile or broken file: any decoder error is a placeholder
        return Thumbnail(None, f"cannot be decoded ({type(exc).__name__}: {exc})"[:200])
    return _encode(image)


class _Unsupported(Exception):
    pass


def _encode(image: Any) -> Thumbnail:
    from PIL import Image

    image.thumbnail((WIDTH, HEIGHT), Image.Resampling.BILINEAR, reducing_gap=2.0)
    if image.mode != "RGB":
        image = image.convert("RGB")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=QUALITY, optimize=False)
    return Thumbnail(out.getvalue(), "", image.width, image.height)


def _pillow_image(path: bytes) -> Any:
    from PIL import Image, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = 1 << 28  # (a decompression bomb is refused, not decoded)
    try:
        image = Image.open(os.fsdecode(path))
    except UnidentifiedImageError:
        raise _Unsupported("not an image this report can preview") from None
    with image:
        image.draft("RGB", (WIDTH * 2, HEIGHT * 2))  # JPEG: decode at a fraction of the size
        if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
            return _high_bit_depth(image)
        image.load()
        if image.mode in ("RGB", "L"):
            return image.copy()
        if "A" in image.mode:
            return image.convert("RGBA").convert("RGB")
        return image.convert("RGB")


def _high_bit_depth(image: Any) -> Any:
    """A 16-bit (or 32-bit integer or float) single-channel image, scaled to 8 bits."""
    import numpy as np

    pixels = np.asarray(image)
    if pixels.dtype.kind == "f":
        return _image((np.clip(np.nan_to_num(pixels), 0.0, 1.0) * 255 + 0.5).astype(np.uint8))
    top = 65535 if int(pixels.max(initial=0)) > 255 else 255
    return _image(_scale_table(top)[np.clip(pixels, 0, top).astype(np.int64)])


def _exr_image(path: bytes) -> Any:
    import numpy as np

    try:
        import OpenEXR  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        raise _Unsupported(
            "EXR previews need the openexr package (`pip install 'provenance[exr]'`)"
        ) from None
    # One thread: the report decodes frames in one worker process a core already.
    with OpenEXR.File(os.fsdecode(path), num_threads=1) as exr:
        channels = exr.channels()
        chosen = None
        for name in ("RGBA", "RGB", "Y"):
            if name in channels:
                chosen = channels[name].pixels
                break
        if chosen is None:
            for channel in channels.values():
                pixels = channel.pixels
                if pixels.ndim == 3 and pixels.shape[2] >= 3:
                    chosen = pixels
                    break
        if chosen is None and channels:
            chosen = next(iter(channels.values())).pixels
        if chosen is None:
            raise _Unsupported("EXR frame holds no channel to show")
        pixels = np.asarray(chosen)
    if pixels.ndim == 3 and pixels.shape[2] == 4:
        pixels = pixels[:, :, :3]
    if pixels.dtype.kind not in "fu":
        raise _Unsupported(f"EXR channels of type {pixels.dtype} are not previewed")
    # Display values through a table of every half-float value: one lookup a sample.
    halves = np.ascontiguousarray(_step_down(pixels)).astype(np.float16)
    return _image(_display_table()[halves.view(np.uint16)])


def _step_down(pixels: Any) -> Any:
    """Every n-th pixel, so that the tone map works on about twice the thumbnail's size."""
    step = max(1, min(pixels.shape[0] // (HEIGHT * 2), pixels.shape[1] // (WIDTH * 2)))
    return pixels[::step, ::step]


@functools.cache
def _display_table() -> Any:
    """uint8 display value of each of the 65,536 half-float bit patterns, scene-linear in: a
    soft shoulder keeps highlights above 0.8 from clipping flat, then sRGB's curve. NaN and
    negative values show black; infinity white."""
    import numpy as np

    values = np.arange(65536, dtype=np.uint16).view(np.float16).astype(np.float64)
    values = np.nan_to_num(values, nan=0.0, posinf=65504.0, neginf=0.0)
    values = np.maximum(values, 0.0)
    knee = 0.8
    shoulder = knee + (1 - knee) * (1 - np.exp(-(values - knee) / (1 - knee)))
    values = np.where(values > knee, shoulder, values)
    encoded = np.where(
        values <= 0.0031308, values * 12.92, 1.055 * np.power(values, 1 / 2.4) - 0.055
    )
    return (np.clip(encoded, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


@functools.cache
def _scale_table(top: int) -> Any:
    """uint8 display value of each integer code 0..top (code values shown as they are)."""
    import numpy as np

    return (np.arange(top + 1, dtype=np.float64) / top * 255.0 + 0.5).astype(np.uint8)


def _image(eight: Any) -> Any:
    """8-bit pixels (height, width[, channels]) -> a Pillow image."""
    import numpy as np
    from PIL import Image

    if eight.ndim == 3 and eight.shape[2] == 1:
        eight = eight[:, :, 0]
    if eight.ndim == 2:
        return Image.fromarray(np.ascontiguousarray(eight), "L")
    return Image.fromarray(np.ascontiguousarray(eight[:, :, :3]), "RGB")


_DPX_RGB, _DPX_RGBA, _DPX_LUMA = 50, 51, 6


def _dpx_image(path: bytes) -> Any:
    """A DPX frame (SMPTE 268M): the first image element, RGB, RGBA or luma, at 8, 10 (method A
    or B filled words) or 16 bits, either byte order."""
    import numpy as np

    with open(path, "rb") as handle:
        header = handle.read(2048)
        order = ">" if header[:4] == b"SDPX" else "<"
        (offset,) = struct.unpack_from(order + "I", header, 4)
        width, height = struct.unpack_from(order + "II", header, 772)
        descriptor = header[800]
        bits = header[803]
        packing, encoding = struct.unpack_from(order + "HH", header, 804)
        if encoding != 0:
            raise _Unsupported("run-length encoded DPX is not previewed")
        components = {_DPX_RGB: 3, _DPX_RGBA: 4, _DPX_LUMA: 1}.get(descriptor)
        if components is None:
            raise _Unsupported(f"DPX image element of descriptor {descriptor} is not previewed")
        if not (0 < width <= 1 << 15 and 0 < height <= 1 << 15):
            raise _Unsupported("DPX frame size is not plausible")
        handle.seek(offset)
        # Only every `step`-th line and pixel is unpacked: a thumbnail needs no more.
        step = max(1, min(height // (HEIGHT * 2), width // (WIDTH * 2)))
        if bits in (8, 16):
            size = bits // 8
            raw = handle.read(width * height * components * size)
            if len(raw) < width * height * components * size:
                raise _Unsupported("DPX frame is truncated")
            dtype = np.uint8 if bits == 8 else np.dtype(order + "u2")
            grid = np.frombuffer(raw, dtype=dtype).reshape(height, width, components)
            pixels = _scale_table((1 << bits) - 1)[grid[::step, ::step]]
        elif bits == 10 and packing in (1, 2):
            words_per_line = (width * components + 2) // 3
            raw = handle.read(words_per_line * height * 4)
            if len(raw) < words_per_line * height * 4:
                raise _Unsupported("DPX frame is truncated")
            words = np.frombuffer(raw, dtype=order + "u4").reshape(height, words_per_line)
            shifts = (22, 12, 2) if packing == 1 else (20, 10, 0)
            if components == 3:  # one word a pixel: stride the words themselves
                chosen = words[::step, ::step]
                pixels = np.stack([(chosen >> s) & 0x3FF for s in shifts], axis=-1)
            else:
                lines = words[::step]
                parts = np.stack([(lines >> s) & 0x3FF for s in shifts], axis=-1)
                flat = parts.reshape(lines.shape[0], words_per_line * 3)[:, : width * components]
                pixels = flat.reshape(lines.shape[0], width, components)[:, ::step]
            pixels = _scale_table(1023)[pixels]
        else:
            raise _Unsupported(f"DPX of {bits} bits, packing {packing}, is not previewed")
    return _image(pixels)


def thumbnail_chunk(paths: Sequence[bytes]) -> list[Thumbnail]:
    """`thumbnail` of each path (run in a hashing worker)."""
    return [thumbnail(path) for path in paths]


def make_thumbnails(
    hasher: Hasher,
    paths: Sequence[bytes],
    progress: Callable[[int], None] | None = None,
) -> list[Thumbnail]:
    """The thumbnail of every path, in the hasher's worker processes, in order."""
    chunks = [list(paths[start : start + 16]) for start in range(0, len(paths), 16)]
    found: list[Thumbnail] = []
    for chunk in hasher.call(thumbnail_chunk, chunks).each():
        found.extend(chunk)
        if progress is not None:
            progress(len(found))
    return found
