"""Perceptual prints: what they survive, what they tell apart, and the index that finds them.

The quality corpus (`corpus` below) is 120 "AI" images, 384 x 256: 60 from six procedural
families (landscapes, warped fractal noise, portraits on bokeh, Voronoi cells, wave fields,
rings) and 60 photograph-like pictures (tests/pictures.py: 1/f noise, dead leaves, skies over
ground, faces at several scales, textures). Each is disguised 20 ways. The unrelated set is
800 images: 200 of another family (ImageDraw shapes, gradients, pages of marks, blurred
paintings) and 600 photograph-like pictures from the same five families as the AI ones, other
seeds (the hardest case: same statistics, not copies). A copy is caught when the ledger's
rule matches it to its source: one of its query prints (whole frame, mirror image, four
thirds) within NEAR_AI_DISTANCE (8 bits) of a stored region print it may be compared with,
and the detail prints within DETAIL_DISTANCE (48 of 255 bits) after alignment. An unrelated
image is a false positive when it matches any AI image that way.

Measured (this corpus; `pytest tests/detect/test_perceptual.py -k "caught or flagged" -s` prints them):

    re-saved as JPEG q70 / q85 / q95        1.000 1.000 1.000
    resized to 50% / to 150%                1.000 1.000
    cropped 5% of each axis in total        0.992   (split at random between the two sides)
    gamma 0.8 / 1.25                        1.000 1.000
    contrast 1.3 / 0.7                      1.000 1.000
    brightness 1.2 (clips highlights)       1.000
    saturation 1.5 / tint / to grayscale    1.000 1.000 1.000
    renamed (an extension that lies)        1.000
    crop + resize + grade + JPEG q75        0.975
    all ordinary disguises together         0.998   (1,920 copies)
    mirrored (JPEG q90)                     1.000
    letterbox/pillarbox, bars 16-62%        0.967   (black, white or grey bars; JPEG q85)
    logo or caption on 10% of the area      1.000   (anywhere in the frame; JPEG q90)
    cropped 10% off one side                1.000   (left, right, top or bottom; JPEG q90)
    false positives (800 unrelated)         0       (nearest 64-bit distance 6 against 8;
                                                     nearest detail distance 52 against 48)
    copies also matching another AI image   3 of 2,400

The misses are "rings" pictures (structure finer than the 64 frequencies of a print: their
low frequencies are weak, so their bits are the least stable). Photograph-like unrelated
pictures of the same composition come within 6 bits of an AI image's 64-bit print: the
detail print is what keeps them apart. The pins leave a margin for other numpy, Pillow and libjpeg versions.
"""

from __future__ import annotations

import colorsys
import itertools
import os
import random
import shutil
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont, ImageOps, features
from sqlalchemy import insert, select

from provenance import Ledger
from provenance.detect.perceptual import (
    ALGORITHM,
    BAND_WIDTHS,
    BANDS,
    DETAIL_BITS,
    DETAIL_DISTANCE,
    NEAR_AI_DISTANCE,
    PRINT_BITS,
    ImagePrints,
    QueryPrint,
    StoredPrint,
    band_probes,
    bands,
    hamming,
    image_prints,
    is_printable,
    perceptual_print,
    probe_radius,
    to_signed,
    to_unsigned,
    verify,
)
from provenance.store.engine import read_session, write_session
from provenance.store.models import Content, PerceptualPrint
from provenance.store.perceptual import near_prints, near_regions, record_prints

from ..builders import require, write_bytes
from ..pictures import photo

Pixels = npt.NDArray[np.float64]
WIDTH, HEIGHT = 384, 256
AI_IMAGES = 60
HUMAN_IMAGES = 200


# -- the generators -----------------------------------------------------------------------------


def rng_for(seed: str) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(seed.encode()))


def axes() -> tuple[Pixels, Pixels]:
    """x and y of every pixel, in [0, 1)."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float64)
    return x / WIDTH, y / HEIGHT


def smooth_noise(
    rng: np.random.Generator, cells_x: int, cells_y: int, width: int = WIDTH
) -> Pixels:
    grid = rng.random((cells_y, cells_x)).astype(np.float32)
    height = HEIGHT if cells_y > 1 else 1
    resized = Image.fromarray(grid).resize((width, height), Image.Resampling.BICUBIC)
    return np.asarray(resized, dtype=np.float64)


def fractal(
    rng: np.random.Generator, base: int = 2, octaves: int = 6, persistence: float = 0.55
) -> Pixels:
    """Octaves of smooth noise, stretched to [0, 1]."""
    total = np.zeros((HEIGHT, WIDTH))
    amplitude = 1.0
    for octave in range(octaves):
        cells = base * 2**octave
        total += amplitude * smooth_noise(rng, cells + 1, max(2, cells * HEIGHT // WIDTH + 1))
        amplitude *= persistence
    low, high = np.percentile(total, (1, 99))
    stretched: Pixels = np.clip((total - low) / max(high - low, 1e-6), 0, 1)
    return stretched


def palette(rng: np.random.Generator, values: Pixels, stops: int | None = None) -> Pixels:
    """Values in [0, 1] through a gradient map of 2-5 colours near one hue."""
    stops = stops or int(rng.integers(2, 6))
    positions = np.sort(np.concatenate([[0.0, 1.0], rng.random(stops - 2)]))
    hue = rng.random()
    colours = np.array(
        [
            colorsys.hsv_to_rgb(
                (hue + rng.normal(0, 0.15)) % 1, rng.uniform(0.2, 0.9), rng.uniform(0.1, 1.0)
            )
            for _ in range(stops)
        ]
    )
    return np.stack([np.interp(values, positions, colours[:, c]) for c in range(3)], axis=-1)


def hsv(h: float, s: float, v: float) -> Pixels:
    return np.array(colorsys.hsv_to_rgb(h, s, v))


def landscape(rng: np.random.Generator) -> Pixels:
    x, y = axes()
    horizon = rng.uniform(0.3, 0.7)
    top = hsv(rng.uniform(0.5, 0.75), rng.uniform(0.3, 0.9), rng.uniform(0.3, 1))
    low = hsv(rng.uniform(0.0, 0.2), rng.uniform(0.1, 0.7), rng.uniform(0.6, 1))
    t = np.clip(y / horizon, 0, 1)[..., None]
    image = top * (1 - t) + low * t
    sun_x, sun_y, sun_r = rng.uniform(0.1, 0.9), rng.uniform(0.05, horizon), rng.uniform(0.03, 0.12)
    glow = np.exp(-((np.hypot((x - sun_x) * WIDTH / HEIGHT, y - sun_y) / (sun_r * 3)) ** 2))
    image = image + glow[..., None] * np.array([1.0, 0.8, 0.5]) * rng.uniform(0.2, 0.8)
    ranges = int(rng.integers(1, 4))
    for layer in range(ranges):
        ridge = fractal_line(rng)
        crest = (
            horizon - rng.uniform(0.05, 0.35) * (1 - layer / ranges) + ridge * rng.uniform(0.1, 0.3)
        )
        rock = palette(rng, fractal(rng, base=4), stops=3) * rng.uniform(0.3, 0.9)
        image = np.where((y > crest[None, :])[..., None], rock, image)
    if rng.random() < 0.4:
        level = rng.uniform(horizon, 0.95)
        image = np.where((y > level)[..., None], image[::-1] * 0.6, image)
    return image


def fractal_line(rng: np.random.Generator) -> Pixels:
    line = np.zeros(WIDTH)
    amplitude = 1.0
    for octave in range(5):
        line += amplitude * smooth_noise(rng, 3 * 2**octave + 1, 1)[0]
        amplitude *= 0.5
    stretched: Pixels = (line - line.min()) / max(line.max() - line.min(), 1e-6)
    return stretched


def warped_noise(rng: np.random.Generator) -> Pixels:
    values = fractal(
        rng,
        base=int(rng.integers(1, 4)),
        octaves=int(rng.integers(3, 7)),
        persistence=rng.uniform(0.4, 0.7),
    )
    warp_x, warp_y = fractal(rng, octaves=3), fractal(rng, octaves=3)
    amount = rng.uniform(0, 0.3)
    x, y = axes()
    columns = np.clip((x + amount * (warp_x - 0.5)) * (WIDTH - 1), 0, WIDTH - 1).astype(int)
    rows = np.clip((y + amount * (warp_y - 0.5)) * (HEIGHT - 1), 0, HEIGHT - 1).astype(int)
    return palette(rng, values[rows, columns])


def portrait(rng: np.random.Generator) -> Pixels:
    image = palette(rng, fractal(rng, base=1, octaves=3), stops=3)
    x, y = axes()
    for _ in range(int(rng.integers(5, 25))):
        bx, by, radius = rng.random(), rng.random(), rng.uniform(0.02, 0.1)
        disc = np.clip(1 - np.hypot((x - bx) * WIDTH / HEIGHT, y - by) / radius, 0, 1) ** 0.5
        image = image + disc[..., None] * rng.random(3) * 0.5
    cx, cy = rng.uniform(0.25, 0.75), rng.uniform(0.3, 0.7)
    rx, ry = rng.uniform(0.1, 0.25), rng.uniform(0.2, 0.4)
    face = ((x - cx) / rx * WIDTH / HEIGHT) ** 2 + ((y - cy) / ry) ** 2 < 1
    skin = hsv(rng.uniform(0.02, 0.1), rng.uniform(0.2, 0.6), rng.uniform(0.3, 0.95))
    light = np.clip(1 - 0.6 * ((x - cx + rng.uniform(-0.2, 0.2)) / rx) ** 2, 0.2, 1)
    image = np.where(face[..., None], skin * light[..., None], image)
    body = (y > cy + ry * 0.9) & (np.abs(x - cx) < rx * rng.uniform(1.8, 3.7))
    clothes = hsv(rng.random(), rng.random(), rng.uniform(0.1, 0.8))
    return np.where(body[..., None], clothes, image)


def cells(rng: np.random.Generator) -> Pixels:
    count = int(rng.integers(6, 40))
    px, py = rng.random(count), rng.random(count)
    x, y = axes()
    squared = (x[..., None] - px) ** 2 * (WIDTH / HEIGHT) ** 2 + (y[..., None] - py) ** 2
    two = np.sqrt(np.partition(squared, 1, axis=-1)[..., :2])
    nearest = np.argmin(squared, axis=-1)
    image = palette(rng, rng.random(count))[nearest]
    edge = np.abs(two[..., 1] - two[..., 0])
    shaded: Pixels = image * np.clip(edge * rng.uniform(10, 40), 0.2, 1)[..., None]
    return shaded


def waves(rng: np.random.Generator) -> Pixels:
    x, y = axes()
    values = np.zeros_like(x)
    for _ in range(int(rng.integers(1, 4))):
        angle, frequency = rng.uniform(0, np.pi), rng.uniform(1, 8)
        along = x * np.cos(angle) * WIDTH / HEIGHT + y * np.sin(angle)
        values += np.sin(2 * np.pi * frequency * along + rng.uniform(0, 6.3)) * rng.uniform(0.3, 1)
    values += (fractal(rng, octaves=4) - 0.5) * rng.uniform(0, 3)
    return palette(rng, (values - values.min()) / (values.max() - values.min() + 1e-6))


def rings(rng: np.random.Generator) -> Pixels:
    x, y = axes()
    cx, cy = rng.uniform(-0.2, 1.2), rng.uniform(-0.2, 1.2)
    radius = np.hypot((x - cx) * WIDTH / HEIGHT, y - cy)
    wobble = (fractal(rng, octaves=3) - 0.5) * rng.uniform(0, 6)
    return palette(rng, 0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(1.5, 8) * radius + wobble))


AI_FAMILIES: tuple[Callable[[np.random.Generator], Pixels], ...] = (
    landscape,
    warped_noise,
    portrait,
    cells,
    waves,
    rings,
)


def ai_image(index: int) -> Image.Image:
    """A generated-looking picture: one of six procedural families, vignetted, with grain."""
    rng = rng_for(f"ai:{index}")
    pixels = AI_FAMILIES[index % len(AI_FAMILIES)](rng)
    x, y = axes()
    vignette = 1 - rng.uniform(0, 0.5) * (((x - 0.5) * 2) ** 2 + ((y - 0.5) * 2) ** 2) / 2
    pixels = pixels * vignette[..., None] + rng.normal(0, rng.uniform(0, 0.03), pixels.shape)
    return Image.fromarray((np.clip(pixels, 0, 1) * 255 + 0.5).astype(np.uint8))


def human_image(index: int) -> Image.Image:
    """Another family altogether: shapes drawn with ImageDraw, a page of marks, a blurred painting."""
    rng = random.Random(f"human:{index}")

    def colour() -> tuple[int, int, int]:
        return (rng.randrange(256), rng.randrange(256), rng.randrange(256))

    image = Image.new("RGB", (WIDTH, HEIGHT), colour())
    draw = ImageDraw.Draw(image)
    style = index % 4
    if style == 0:
        start, end = colour(), colour()
        across = rng.random() < 0.5
        steps = WIDTH if across else HEIGHT
        for i in range(steps):
            shade = tuple(int(start[c] + (end[c] - start[c]) * i / steps) for c in range(3))
            draw.line([(i, 0), (i, HEIGHT)] if across else [(0, i), (WIDTH, i)], fill=shade)
    for _ in range(rng.randrange(8, 60)):
        x0, y0 = rng.randrange(-50, WIDTH), rng.randrange(-50, HEIGHT)
        box = (x0, y0, x0 + rng.randrange(5, 200), y0 + rng.randrange(5, 200))
        shape = rng.randrange(5)
        if shape == 0:
            draw.rectangle(box, fill=colour())
        elif shape == 1:
            draw.ellipse(box, fill=colour(), outline=colour())
        elif shape == 2:
            corners = [
                (rng.randrange(WIDTH), rng.randrange(HEIGHT)) for _ in range(rng.randrange(3, 7))
            ]
            draw.polygon(corners, fill=colour())
        elif shape == 3:
            stroke = [box[:2], box[2:], (rng.randrange(WIDTH), rng.randrange(HEIGHT))]
            draw.line(stroke, fill=colour(), width=rng.randrange(1, 15))
        else:
            draw.arc(
                box,
                rng.randrange(360),
                rng.randrange(360),
                fill=colour(),
                width=rng.randrange(1, 10),
            )
    if style == 2:
        for row in range(rng.randrange(5, 20)):
            top, left = 10 + row * rng.randrange(10, 18), rng.randrange(5, 40)
            while left < WIDTH - 20:
                word = rng.randrange(5, 40)
                draw.rectangle((left, top, left + word, top + 6), fill=colour())
                left += word + rng.randrange(3, 10)
    if style == 3:
        image = image.filter(ImageFilter.GaussianBlur(rng.uniform(1, 6)))
    grain = np.random.default_rng(index).normal(0, rng.uniform(0, 8), (HEIGHT, WIDTH, 3))
    return Image.fromarray(np.clip(np.asarray(image) + grain, 0, 255).astype(np.uint8))


# -- the disguises ------------------------------------------------------------------------------


def crop_5(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """5% off each axis, split at random between the two sides (all of it off one, at worst)."""
    cut_x, cut_y = round(image.width * 0.05), round(image.height * 0.05)
    left, top = int(rng.integers(0, cut_x + 1)), int(rng.integers(0, cut_y + 1))
    return image.crop((left, top, left + image.width - cut_x, top + image.height - cut_y))


def gamma(image: Image.Image, exponent: float) -> Image.Image:
    return image.point([round(255 * (i / 255) ** exponent) for i in range(256)] * 3)


def tint(image: Image.Image) -> Image.Image:
    gains = (1.1, 1.0, 0.85)
    channels = [
        channel.point([min(255, int(i * gain)) for i in range(256)])
        for channel, gain in zip(image.split(), gains, strict=True)
    ]
    return Image.merge("RGB", channels)


def resized(image: Image.Image, scale: float) -> Image.Image:
    size = (round(image.width * scale), round(image.height * scale))
    return image.resize(size, Image.Resampling.LANCZOS)


def combined(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    smaller = resized(crop_5(image, rng), 0.5)
    return gamma(ImageEnhance.Color(smaller).enhance(1.2), 0.9)


def letterboxed(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """The picture fitted into a frame of another shape, bars of 16-62% of the frame."""
    width, height = image.size
    shape = int(rng.integers(4))
    frames = {
        0: (width, width),  # square: bars top and bottom
        1: (round(height * 2.39), height),  # scope: pillarbox
        2: (round(height * 16 / 9), height),  # 16:9, the picture at 75%: bars all round
        3: (width, round(width * 16 / 9)),  # vertical video
    }
    frame_width, frame_height = frames[shape]
    scale = min(frame_width / width, frame_height / height) * (0.75 if shape == 2 else 1.0)
    picture = image.resize((round(width * scale), round(height * scale)), Image.Resampling.LANCZOS)
    colour = [(0, 0, 0), (0, 0, 0), (255, 255, 255), (40, 40, 40)][int(rng.integers(4))]
    frame = Image.new("RGB", (frame_width, frame_height), colour)
    frame.paste(picture, ((frame_width - picture.width) // 2, (frame_height - picture.height) // 2))
    return frame


def overlaid(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A logo plate or a caption covering 10% of the area, anywhere in the frame."""
    width, height = image.size
    aspect = rng.uniform(0.8, 3.5)
    box_width = min(width, round((0.1 * width * height * aspect) ** 0.5))
    box_height = round(0.1 * width * height / box_width)
    x = int(rng.integers(0, width - box_width + 1))
    y = int(rng.integers(0, height - box_height + 1))
    layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    colour = tuple(int(c) for c in rng.integers(0, 256, 3))
    opacity = int(rng.choice([255, 255, 200]))
    if rng.random() < 0.5:
        draw.rounded_rectangle(
            (x, y, x + box_width, y + box_height), box_height // 5, fill=(*colour, opacity)
        )
        inverse = tuple(255 - c for c in colour)
        inset = box_height // 10
        draw.ellipse(
            (x + inset, y + inset, x + box_height - inset, y + box_height - inset),
            fill=(*inverse, opacity),
        )
        font = ImageFont.load_default(size=max(8, box_height // 3))
        draw.text((x + box_height, y + box_height // 3), "STUDIO", font=font, fill="white")
    else:
        font = ImageFont.load_default(size=max(8, box_height // 2))
        ink = (255, 255, 255, opacity) if rng.random() < 0.5 else (0, 0, 0, opacity)
        draw.rectangle((x, y, x + box_width, y + box_height), fill=(*colour, opacity // 2))
        draw.text((x + 2, y), "SAMPLE", font=font, fill=ink)
        draw.text((x + 2, y + box_height // 2), "not for use", font=font, fill=ink)
    return Image.alpha_composite(image.convert("RGBA"), layer).convert("RGB")


def cropped_one_side(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """10% off the left, right, top or bottom."""
    width, height = image.size
    cut_x, cut_y = round(width * 0.1), round(height * 0.1)
    side = int(rng.integers(4))
    boxes = [(cut_x, 0, width, height), (0, 0, width - cut_x, height)]
    boxes += [(0, cut_y, width, height), (0, 0, width, height - cut_y)]
    return image.crop(boxes[side])


Disguise = Callable[[Image.Image, np.random.Generator], tuple[str, Image.Image, dict[str, Any]]]
DISGUISES: dict[str, Disguise] = {
    "jpeg q70": lambda im, rng: (".jpg", im, {"quality": 70}),
    "jpeg q85": lambda im, rng: (".jpg", im, {"quality": 85}),
    "jpeg q95": lambda im, rng: (".jpg", im, {"quality": 95}),
    "resized 50%": lambda im, rng: (".tif", resized(im, 0.5), {}),
    "resized 150%": lambda im, rng: (".tif", resized(im, 1.5), {}),
    "cropped 5% of each axis": lambda im, rng: (".tif", crop_5(im, rng), {}),
    "gamma 0.8": lambda im, rng: (".tif", gamma(im, 0.8), {}),
    "gamma 1.25": lambda im, rng: (".tif", gamma(im, 1.25), {}),
    "contrast 1.3": lambda im, rng: (".tif", ImageEnhance.Contrast(im).enhance(1.3), {}),
    "contrast 0.7": lambda im, rng: (".tif", ImageEnhance.Contrast(im).enhance(0.7), {}),
    "brightness 1.2": lambda im, rng: (".tif", ImageEnhance.Brightness(im).enhance(1.2), {}),
    "saturation 1.5": lambda im, rng: (".tif", ImageEnhance.Color(im).enhance(1.5), {}),
    "tint": lambda im, rng: (".tif", tint(im), {}),
    "grayscale": lambda im, rng: (".tif", im.convert("L"), {}),
    # The same bytes under another name, with an extension that lies about the format.
    "renamed": lambda im, rng: (".jpeg", im, {"format": "PNG"}),
    "crop+resize+grade+jpeg": lambda im, rng: (".jpg", combined(im, rng), {"quality": 75}),
    # What a vendor would choose to get a generated plate past a check (issue 20).
    "mirrored": lambda im, rng: (".jpg", ImageOps.mirror(im), {"quality": 90}),
    "letterboxed": lambda im, rng: (".jpg", letterboxed(im, rng), {"quality": 85}),
    "overlay on 10%": lambda im, rng: (".jpg", overlaid(im, rng), {"quality": 90}),
    "cropped 10% off one side": lambda im, rng: (
        ".jpg",
        cropped_one_side(im, rng),
        {"quality": 90},
    ),
}
COMBINED = "crop+resize+grade+jpeg"
VENDOR = ("mirrored", "letterboxed", "overlay on 10%", "cropped 10% off one side")
# Caught at least this often (measured rates in the module docstring): two misses in 120 are
# allowed where one was measured.
PINNED_TPR = {name: 0.98 for name in DISGUISES} | {name: 0.95 for name in VENDOR} | {COMBINED: 0.95}
UNRELATED_IMAGES = 800


def save(image: Image.Image, path: Path, **options: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".png":
        # Stored, not deflated: lossless either way, and the corpus is written faster.
        options.setdefault("compress_level", 0)
    image.save(path, **options)
    return path


def ai_images() -> Iterator[Image.Image]:
    for index in range(AI_IMAGES):
        yield ai_image(index)
    for index in range(AI_IMAGES):
        yield photo(f"ai:{index}", index)


def unrelated_images() -> Iterator[Image.Image]:
    for index in range(HUMAN_IMAGES):
        yield human_image(index)
    for index in range(UNRELATED_IMAGES - HUMAN_IMAGES):
        yield photo(f"unrelated:{index}", index)


class Sources:
    """The stored prints of the AI images, matched as the ledger matches (`find_near_ai`)."""

    def __init__(self, stored: list[tuple[StoredPrint, ...]]) -> None:
        self.stored = stored
        rows = [(i, p) for i, prints in enumerate(stored) for p in prints]
        self.owner = np.array([i for i, _ in rows])
        self.region = [p.region.split("@")[0] for _, p in rows]
        self.detail = [p.detail for _, p in rows]
        self.values = np.array([to_unsigned(p.value) for _, p in rows], dtype=np.uint64)

    def matches(self, path: Path, found: ImagePrints) -> dict[int, tuple[int, int]]:
        """source index -> (distance, detail distance) of every source the file matches."""
        pairs: list[tuple[int, int, QueryPrint, bytes]] = []
        for query in found.queries:
            distances = np.bitwise_count(self.values ^ np.uint64(to_unsigned(query.value)))
            for row in np.flatnonzero(distances <= NEAR_AI_DISTANCE).tolist():
                if self.region[row] in query.compared_with:
                    pairs.append(
                        (int(self.owner[row]), int(distances[row]), query, self.detail[row])
                    )
        if not pairs:
            return {}
        details = verify(path, [(query, detail) for _, _, query, detail in pairs])
        best: dict[int, tuple[int, int]] = {}
        for (owner, distance, _, _), detail in zip(pairs, details, strict=True):
            if detail is not None and detail <= DETAIL_DISTANCE:
                best[owner] = min(best.get(owner, (99, 999)), (distance, detail))
        return best


@dataclass(frozen=True)
class Corpus:
    caught: dict[str, list[bool]]
    """Per disguise: for each AI image, whether its disguised copy matched it."""
    misattributed: int
    """Disguised copies that matched another AI image than their own."""
    copies: int
    false_positives: list[int]
    """Unrelated images that matched an AI image."""
    nearest_detail: int
    """The smallest detail distance of an unrelated image whose 64-bit print came near."""
    nearest_print: int
    """The smallest 64-bit distance between an unrelated image's lookups and an AI print."""

    def tpr(self, disguise: str) -> float:
        return sum(self.caught[disguise]) / len(self.caught[disguise])


def build_corpus(folder: Path) -> Corpus:
    stored: list[tuple[StoredPrint, ...]] = []
    copies: list[tuple[str, int, Path]] = []
    for index, image in enumerate(ai_images()):
        source = save(image, folder / "ai" / f"gen_{index:03d}.png")
        prints = image_prints(source)
        assert prints is not None and prints.stored, source
        stored.append(prints.stored)
        rng = rng_for(f"disguise:{index}")
        for number, (name, disguise) in enumerate(DISGUISES.items()):
            extension, copy, options = disguise(image, rng)
            path = folder / "copies" / f"plate_{index:03d}_{number:02d}{extension}"
            copies.append((name, index, save(copy, path, **options)))
    sources = Sources(stored)
    caught: dict[str, list[bool]] = {name: [] for name in DISGUISES}
    misattributed = 0
    for name, index, path in copies:
        found = image_prints(path)
        assert found is not None and found.queries, (name, path)
        matched = sources.matches(path, found)
        caught[name].append(index in matched)
        misattributed += any(other != index for other in matched)
    false_positives: list[int] = []
    nearest_detail, nearest_print = DETAIL_BITS, PRINT_BITS
    for index, image in enumerate(unrelated_images()):
        path = save(image, folder / "unrelated" / f"paint_{index:03d}.png")
        found = image_prints(path)
        assert found is not None and found.queries, path
        nearest_print = min(
            nearest_print,
            *(
                int(np.bitwise_count(sources.values ^ np.uint64(to_unsigned(q.value))).min())
                for q in found.queries
            ),
        )
        for _, detail in near_details(sources, path, found):
            nearest_detail = min(nearest_detail, detail)
        if sources.matches(path, found):
            false_positives.append(index)
    return Corpus(
        caught, misattributed, len(copies), false_positives, nearest_detail, nearest_print
    )


def near_details(sources: Sources, path: Path, found: ImagePrints) -> list[tuple[int, int]]:
    """(distance, detail distance) of every region pair within NEAR_AI_DISTANCE, whatever the
    detail distance: how far the verification keeps unrelated images."""
    pairs = []
    for query in found.queries:
        distances = np.bitwise_count(sources.values ^ np.uint64(to_unsigned(query.value)))
        for row in np.flatnonzero(distances <= NEAR_AI_DISTANCE).tolist():
            if sources.region[row] in query.compared_with:
                pairs.append((int(distances[row]), query, sources.detail[row]))
    details = verify(path, [(query, detail) for _, query, detail in pairs])
    return [(d, v) for (d, _, _), v in zip(pairs, details, strict=True) if v is not None]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Corpus]:
    folder = tmp_path_factory.mktemp("corpus")
    yield build_corpus(folder)
    shutil.rmtree(folder, ignore_errors=True)


# -- the detector's quality ---------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("disguise", list(DISGUISES))
def test_disguised_copies_of_ai_images_are_caught(corpus: Corpus, disguise: str) -> None:
    rate = corpus.tpr(disguise)
    missed = [i for i, hit in enumerate(corpus.caught[disguise]) if not hit]
    print(f"{disguise}: TPR {rate:.3f} (missed: {missed})")
    assert rate >= PINNED_TPR[disguise]


@pytest.mark.slow
def test_all_ordinary_disguises_together_are_caught_98_percent(corpus: Corpus) -> None:
    ordinary = [hit for name, hits in corpus.caught.items() if name not in VENDOR for hit in hits]
    rate = sum(ordinary) / len(ordinary)
    print(f"every ordinary disguise: TPR {rate:.4f} over {len(ordinary)} copies")
    assert rate >= 0.98


@pytest.mark.slow
def test_unrelated_images_are_not_flagged(corpus: Corpus) -> None:
    print(
        f"false positives: {len(corpus.false_positives)} of {UNRELATED_IMAGES}; nearest "
        f"64-bit distance {corpus.nearest_print} (threshold {NEAR_AI_DISTANCE}), nearest detail "
        f"distance among those within it {corpus.nearest_detail} (threshold {DETAIL_DISTANCE})"
    )
    assert corpus.false_positives == []
    assert corpus.nearest_detail > DETAIL_DISTANCE


@pytest.mark.slow
def test_copies_are_attributed_to_their_own_source(corpus: Corpus) -> None:
    print(f"copies that also match another AI image: {corpus.misattributed} of {corpus.copies}")
    assert corpus.misattributed <= 0.01 * corpus.copies


# -- the print itself ---------------------------------------------------------------------------


def test_re_encoding_resizing_and_grading_keep_the_print_close(tmp_path: Path) -> None:
    image = ai_image(0)
    source = save(image, tmp_path / "gen.png")
    value = perceptual_print(source)
    assert value is not None
    copies = {
        f"q{quality}": save(image, tmp_path / f"q{quality}.jpg", quality=quality)
        for quality in (70, 80, 90, 95)
    }
    copies["half"] = save(resized(image, 0.5), tmp_path / "half.png")
    copies["gamma"] = save(gamma(image, 1.25), tmp_path / "gamma.tif")
    copies["contrast"] = save(ImageEnhance.Contrast(image).enhance(1.3), tmp_path / "contrast.png")
    copies["saturation"] = save(ImageEnhance.Color(image).enhance(0.5), tmp_path / "sat.png")
    copies["gray"] = save(image.convert("L"), tmp_path / "gray.png")
    if features.check("webp"):
        copies["webp"] = save(image, tmp_path / "gen.webp", quality=80)
    for name, path in copies.items():
        copy = perceptual_print(path)
        assert copy is not None, name
        assert hamming(value, copy) <= NEAR_AI_DISTANCE, name


def test_a_crop_is_found_through_the_stored_crops(tmp_path: Path) -> None:
    image = ai_image(2)
    stored = image_prints(save(image, tmp_path / "gen.png"))
    assert stored is not None
    sources = Sources([stored.stored])
    width, height = image.size
    cut_x, cut_y = width // 10, height // 10
    boxes = [(0, 0, width - 19, height - 13), (19, 13, width, height), (10, 6, width - 9, height)]
    boxes += [(cut_x, 0, width, height), (0, cut_y, width, height), (0, 0, width - cut_x, height)]
    for index, box in enumerate(boxes):
        path = save(image.crop(box), tmp_path / f"crop_{index}.png")
        found = image_prints(path)
        assert found is not None
        assert 0 in sources.matches(path, found), box


def test_a_letterboxed_copy_prints_as_its_picture(tmp_path: Path) -> None:
    image = photo("letterbox", 2)
    source = perceptual_print(save(image, tmp_path / "gen.png"))
    frame = Image.new("RGB", (image.width, image.width), (255, 255, 255))
    frame.paste(image, (0, (image.width - image.height) // 2))
    found = image_prints(save(frame, tmp_path / "square.png"))
    assert found is not None and source is not None
    inside = {p.region: p.value for p in found.stored}["borderless"]
    assert hamming(inside, source) <= 2
    assert [q.region for q in found.queries if q.region == "borderless"] == ["borderless"]
    top, bottom, left, right = found.borders
    assert (left, right) == (0.0, 0.0) and 0.15 < top < 0.18 and 0.15 < bottom < 0.18


def test_a_mirrored_copy_is_looked_up_by_its_mirror_image(tmp_path: Path) -> None:
    image = photo("mirror", 3)
    source = image_prints(save(image, tmp_path / "gen.png"))
    path = save(ImageOps.mirror(image), tmp_path / "mirror.jpg", quality=90)
    found = image_prints(path)
    assert source is not None and found is not None
    matched = Sources([source.stored]).matches(path, found)
    assert 0 in matched
    mirrored = [q for q in found.queries if q.mirrored]
    assert len(mirrored) == 1 and hamming(mirrored[0].value, source.stored[0].value) <= 4


def test_an_image_with_alpha_prints_as_seen_on_black_and_on_white(tmp_path: Path) -> None:
    # The picture lives in the alpha channel: white paint, shaped by alpha.
    shape = np.asarray(photo("alpha", 4).convert("L"))
    paint = np.dstack([np.full_like(shape, 255)] * 3 + [shape])
    source = image_prints(save(Image.fromarray(paint, "RGBA"), tmp_path / "matte.png"))
    assert source is not None
    regions = {p.region for p in source.stored}
    # White paint shows over black only: seen over white it is blank, and has no print.
    assert "whole" in regions and not any(r.endswith("@white") for r in regions)
    sources = Sources([source.stored])
    over_black = Image.fromarray(shape).convert("RGB")
    path = save(over_black, tmp_path / "on_black.jpg", quality=90)
    found = image_prints(path)
    assert found is not None and 0 in sources.matches(path, found)
    # Flattened onto white, white paint shows nothing: blank, said so, and never a match.
    blank = image_prints(save(Image.new("RGB", over_black.size, "white"), tmp_path / "w.png"))
    assert blank is not None and blank.stored == () and blank.queries == ()
    assert blank.problem == "blank: one flat colour"
    # Black paint shaped by alpha, flattened onto white, matches the view over white.
    dark = np.dstack([np.zeros_like(shape)] * 3 + [shape])
    ink = image_prints(save(Image.fromarray(dark, "RGBA"), tmp_path / "ink.png"))
    assert ink is not None
    assert {p.region for p in ink.stored} == {"whole@white"} | {
        p.region + "@white" for p in source.stored
    } - {"whole@white@white"}
    on_white = Image.fromarray((255 - shape).astype(np.uint8)).convert("RGB")
    path = save(on_white, tmp_path / "on_white.jpg", quality=90)
    found = image_prints(path)
    assert found is not None and 0 in Sources([ink.stored]).matches(path, found)


def test_renamed_file_has_the_same_print(tmp_path: Path) -> None:
    source = save(ai_image(3), tmp_path / "midjourney_4821.png")
    renamed = tmp_path / "sh010_matte_v001.tif"
    shutil.copyfile(source, renamed)
    assert perceptual_print(renamed) == perceptual_print(source) is not None


def test_unrelated_images_are_far_apart(tmp_path: Path) -> None:
    prints = [perceptual_print(save(ai_image(i), tmp_path / f"ai{i}.png")) for i in range(6)]
    prints += [perceptual_print(save(human_image(i), tmp_path / f"h{i}.png")) for i in range(6)]
    known = [value for value in prints if value is not None]
    assert len(known) == 12
    assert min(hamming(a, b) for a, b in itertools.combinations(known, 2)) > 2 * NEAR_AI_DISTANCE


def test_prints_have_half_their_bits_set_and_fit_a_bigint(tmp_path: Path) -> None:
    for index in range(6):
        value = perceptual_print(save(ai_image(index), tmp_path / f"ai{index}.png"))
        assert value is not None
        assert -(2**63) <= value < 2**63
        assert to_unsigned(value).bit_count() == 32


def test_sixteen_bit_and_palette_images_print_like_their_8_bit_selves(tmp_path: Path) -> None:
    image = ai_image(4)
    gray = image.convert("L")
    eight = perceptual_print(save(gray, tmp_path / "gray8.png"))
    sixteen_bit = Image.fromarray((np.asarray(gray, dtype=np.uint16) * 257).astype(np.uint16))
    sixteen = perceptual_print(save(sixteen_bit, tmp_path / "gray16.png"))
    palette_image = perceptual_print(save(image.quantize(256), tmp_path / "palette.gif"))
    assert eight is not None and sixteen is not None and palette_image is not None
    assert hamming(eight, sixteen) <= 2
    assert hamming(eight, palette_image) <= NEAR_AI_DISTANCE


def write_exr(path: Path, linear: npt.NDArray[np.float32]) -> Path:
    import OpenEXR  # type: ignore[import-not-found]

    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    with OpenEXR.File(header, {"RGB": linear.astype(np.float16)}) as image:
        image.write(str(path))
    return path


def srgb_to_linear(image: Image.Image) -> npt.NDArray[np.float32]:
    encoded = np.asarray(image, dtype=np.float32) / 255
    linear = np.where(encoded <= 0.04045, encoded / 12.92, ((encoded + 0.055) / 1.055) ** 2.4)
    return linear.astype(np.float32)


def test_exr_frame_prints_like_the_image_it_was_converted_from(tmp_path: Path) -> None:
    require(_has_openexr(), "the openexr package is not installed")
    image = ai_image(5)
    source = perceptual_print(save(image, tmp_path / "gen.png"))
    linear = srgb_to_linear(image)
    frame = write_exr(tmp_path / "sh010_gen.1001.exr", linear)
    value = perceptual_print(frame)
    assert source is not None and value is not None
    assert hamming(source, value) <= NEAR_AI_DISTANCE
    # Highlights above 1.0 are clamped as a viewer clamps them; a half-stop grade stays close.
    brighter = perceptual_print(write_exr(tmp_path / "graded.1001.exr", linear * 1.41))
    assert brighter is not None and hamming(value, brighter) <= NEAR_AI_DISTANCE
    # A non-UTF-8 name opens too (the file is read through a Python stream).
    odd = os.fsencode(tmp_path) + b"/caf\xe9.exr"
    shutil.copyfile(frame, os.fsdecode(odd))
    assert perceptual_print(odd) == value


def _has_openexr() -> bool:
    try:
        import OpenEXR  # noqa: F401
    except ImportError:
        return False
    return True


# -- what has no print --------------------------------------------------------------------------


def test_files_that_are_not_images_have_no_print_and_are_not_read(tmp_path: Path) -> None:
    for name in ("notes.txt", "cache.abc", "scene.nk", "no_extension", "clip.mov"):
        path = write_bytes(tmp_path / name, 1000)
        assert not is_printable(path)
        assert perceptual_print(path) is None
    assert perceptual_print(tmp_path / "missing.png") is None
    assert is_printable(b"A.PNG") and is_printable("plate.1001.exr") and is_printable("x.tiff")


def test_broken_and_hostile_files_have_no_print_and_raise_nothing(tmp_path: Path) -> None:
    whole = save(ai_image(1), tmp_path / "whole.png")
    data = whole.read_bytes()
    (tmp_path / "truncated.png").write_bytes(data[: len(data) // 3])
    (tmp_path / "garbage.jpg").write_bytes(random.Random(1).randbytes(5000))
    (tmp_path / "empty.tif").write_bytes(b"")
    (tmp_path / "text.exr").write_bytes(b"not an exr at all")
    for name in ("truncated.png", "garbage.jpg", "empty.tif", "text.exr"):
        assert perceptual_print(tmp_path / name) is None, name
        found = image_prints(tmp_path / name)
        assert found is not None and found.problem is not None, name
        assert found.problem.startswith("cannot be decoded"), (name, found.problem)
    folder = tmp_path / "folder.png"
    folder.mkdir()
    assert perceptual_print(folder) is None


def test_decompression_bombs_are_not_decoded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A header that claims 40,000 x 40,000 pixels: past twice Pillow's limit, it will not open.
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_header(40_000, 40_000) + bytes(100))
    assert perceptual_print(bomb) is None
    refused = image_prints(bomb)
    assert refused is not None and refused.problem is not None and not refused.queries
    # Between the limit and twice it, Pillow only warns: the image is still not decoded.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 60 * 40)
    large = save(ai_image(0).resize((64, 48)), tmp_path / "large.png")
    with pytest.warns(Image.DecompressionBombWarning):
        assert perceptual_print(large) is None
    with pytest.warns(Image.DecompressionBombWarning):
        refused = image_prints(large)
    assert refused is not None and refused.problem is not None
    assert refused.problem.startswith("too large to decode safely"), refused.problem


def png_header(width: int, height: int) -> bytes:
    fields = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    chunk = b"IHDR" + fields
    return (
        b"\x89PNG\r\n\x1a\n"
        + len(fields).to_bytes(4, "big")
        + chunk
        + zlib.crc32(chunk).to_bytes(4, "big")
    )


def test_flat_frames_have_no_print(tmp_path: Path) -> None:
    black = save(Image.new("RGB", (640, 360)), tmp_path / "black.png")
    grey = np.full((360, 640), 40.0) + np.random.default_rng(0).normal(0, 2, (360, 640))
    grain = save(Image.fromarray(grey.astype(np.uint8)), tmp_path / "grain.png")
    assert perceptual_print(black) is None
    assert perceptual_print(grain) is None
    flat = image_prints(black)
    assert flat is not None and flat.problem == "blank: one flat colour" and not flat.queries


# -- signed storage, bands and probes -----------------------------------------------------------


def test_signed_form_round_trips_and_keeps_bands_and_distances() -> None:
    rng = random.Random(7)
    for _ in range(1000):
        a, b = rng.getrandbits(64), rng.getrandbits(64)
        signed = to_signed(a)
        assert -(2**63) <= signed < 2**63
        assert to_unsigned(signed) == a
        assert bands(signed) == bands(a)
        assert hamming(to_signed(a), to_signed(b)) == hamming(a, b) == (a ^ b).bit_count()
    assert to_signed(2**63) == -(2**63)
    assert to_signed(2**64 - 1) == -1


def test_bands_cut_the_64_bits_without_overlap() -> None:
    assert sum(BAND_WIDTHS) == 64 and len(BAND_WIDTHS) == BANDS
    assert bands(2**64 - 1) == tuple((1 << width) - 1 for width in BAND_WIDTHS)
    rng = random.Random(3)
    for _ in range(100):
        value = rng.getrandbits(64)
        assert sum(band.bit_count() for band in bands(value)) == value.bit_count()


def test_band_probes_cover_the_radius_exactly() -> None:
    assert band_probes(1, 0x1234, 0) == [0x1234]
    assert len(band_probes(1, 0x1234, 1)) == 1 + 21
    probes = band_probes(0, 0xBEEF, 2)
    assert len(probes) == len(set(probes)) == 1 + 22 + 231
    assert probes[0] == 0xBEEF
    assert all((p ^ 0xBEEF).bit_count() <= 2 and p < 1 << 22 for p in probes)


def test_pigeonhole_a_near_print_agrees_on_one_band_within_the_radius() -> None:
    rng = random.Random(11)
    for distance in range(0, 2 * NEAR_AI_DISTANCE + 1):
        radius = probe_radius(distance)
        for _ in range(200):
            a = rng.getrandbits(64)
            b = a ^ sum(1 << bit for bit in rng.sample(range(64), distance))
            assert any(
                (x ^ y).bit_count() <= radius for x, y in zip(bands(a), bands(b), strict=True)
            )


# -- the index, on SQLite and PostgreSQL --------------------------------------------------------


def flip(value: int, bits: int, rng: random.Random) -> int:
    return to_signed(value ^ sum(1 << bit for bit in rng.sample(range(64), bits)))


def add_contents(ledger: Ledger, count: int) -> list[int]:
    with write_session(ledger.engine) as session:
        session.execute(
            insert(Content), [{"digest": f"xxh3-128:{i:032x}", "size": i} for i in range(count)]
        )
        return list(session.execute(select(Content.id).order_by(Content.id)).scalars())


def brute_force(
    stored: dict[int, int], lookups: list[int], max_distance: int
) -> list[tuple[int, int]]:
    found = []
    for content_id, value in stored.items():
        distance = min(hamming(value, query) for query in lookups)
        if distance <= max_distance:
            found.append((distance, content_id))
    return [(content_id, distance) for distance, content_id in sorted(found)]


def test_near_prints_finds_exactly_what_a_scan_finds(ledger: Ledger) -> None:
    rng = random.Random(2026)
    ids = add_contents(ledger, 3000)
    queries = [to_signed(rng.getrandbits(64)) for _ in range(12)]
    stored: dict[int, int] = {}
    planted = iter(ids)
    # Around each query: one print at every distance from 0 to twice the threshold.
    for query in queries:
        for distance in range(2 * NEAR_AI_DISTANCE + 1):
            stored[next(planted)] = flip(query, distance, rng)
    for content_id in planted:
        stored[content_id] = to_signed(rng.getrandbits(64))
    with write_session(ledger.engine) as session:
        assert record_prints(session, as_whole(stored)) == len(stored)

    with read_session(ledger.engine) as session:
        for query in queries:
            for max_distance in range(NEAR_AI_DISTANCE + 1):
                expected = brute_force(stored, [query], max_distance)
                assert near_prints(session, query, max_distance) == expected
                assert len(expected) >= max_distance + 1
            several = [query, flip(query, 5, rng), to_signed(rng.getrandbits(64))]
            assert near_prints(session, several, NEAR_AI_DISTANCE) == brute_force(
                stored, several, NEAR_AI_DISTANCE
            )
        assert near_prints(session, [], NEAR_AI_DISTANCE) == []


def test_near_prints_keeps_only_the_contents_it_is_restricted_to(ledger: Ledger) -> None:
    rng = random.Random(5)
    ids = add_contents(ledger, 20)
    query = to_signed(rng.getrandbits(64))
    stored = {content_id: flip(query, i % 5, rng) for i, content_id in enumerate(ids)}
    with write_session(ledger.engine) as session:
        record_prints(session, as_whole(stored))
    generated = ids[::3]
    with read_session(ledger.engine) as session:
        among = select(Content.id).where(Content.id.in_(generated))
        found = near_prints(session, query, NEAR_AI_DISTANCE, restrict_to_content_ids=among)
        expected = brute_force(stored, [query], NEAR_AI_DISTANCE)
        assert found == [pair for pair in expected if pair[0] in generated]
        assert found


def as_whole(stored: dict[int, int]) -> list[tuple[int, tuple[StoredPrint, ...]]]:
    """Each content with one print, of its whole frame."""
    return [(content_id, (whole(value),)) for content_id, value in stored.items()]


def whole(value: int, region: str = "whole") -> StoredPrint:
    return StoredPrint(region, value, bytes(32))


def test_record_prints_is_idempotent_and_keeps_the_first_prints(ledger: Ledger) -> None:
    ids = add_contents(ledger, 3)
    first = [
        (ids[0], (whole(2**64 - 1), whole(3, "third-top"))),
        (ids[1], (whole(5),)),
        (ids[1], (whole(6),)),
    ]
    with write_session(ledger.engine) as session:
        assert record_prints(session, first) == 3
    with write_session(ledger.engine) as session:
        assert record_prints(session, [(ids[0], (whole(7),)), (ids[2], (whole(2**63),))]) == 1
        assert record_prints(session, []) == 0
    with read_session(ledger.engine) as session:
        rows = session.execute(
            select(
                PerceptualPrint.content_id,
                PerceptualPrint.algorithm,
                PerceptualPrint.region,
                PerceptualPrint.print,
                PerceptualPrint.band2,
            )
        ).all()
    assert sorted(map(tuple, rows)) == [
        (ids[0], ALGORITHM, "third-top", 3, 0),
        (ids[0], ALGORITHM, "whole", -1, 2**21 - 1),
        (ids[1], ALGORITHM, "whole", 5, 0),
        (ids[2], ALGORITHM, "whole", -(2**63), 2**20),
    ]


def test_prints_of_another_algorithm_are_never_compared(ledger: Ledger) -> None:
    ids = add_contents(ledger, 2)
    with write_session(ledger.engine) as session:
        record_prints(session, [(ids[0], (whole(12345),))])
        session.execute(
            insert(PerceptualPrint),
            [
                {
                    "content_id": ids[1],
                    "algorithm": "dct64.1",
                    "region": "whole",
                    "print": 12345,
                    **dict(zip(("band0", "band1", "band2"), bands(12345), strict=True)),
                }
            ],
        )
    with read_session(ledger.engine) as session:
        assert near_prints(session, 12345, NEAR_AI_DISTANCE) == [(ids[0], 0)]
        queries = [QueryPrint("whole", False, "black", 12345)]
        assert [(c.content_id, c.region) for c in near_regions(session, queries, 8)] == [
            (ids[0], "whole")
        ]


def test_a_third_is_told_from_the_whole_picture_and_its_crops() -> None:
    # A match of a third is reported only when nothing larger matched (store.signals).
    from provenance.detect.perceptual import is_a_third

    assert is_a_third("third-left") and is_a_third("third-top@white")
    assert not any(map(is_a_third, ("whole", "crop-left-5", "borderless", "whole@white")))
