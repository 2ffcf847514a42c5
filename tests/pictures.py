"""Photograph-like pictures the tests make: natural-image statistics without shipping photographs.

Photographs have an amplitude spectrum close to 1/f (power 1/f^2), occlusions, smooth lighting
gradients, textures and, often, faces at many scales. Each family below makes one of these from
a seed: `pink_noise` (a 1/f^b field through a colour map), `dead_leaves` (the occlusion model of
natural images: discs with power-law radii, each with its own shading and texture),
`sky_and_ground` (a graded sky with clouds above textured ground), `faces` (face-like blobs,
eyes and mouths at several scales on a 1/f background) and `texture` (marble, wood, weave).
The unrelated images of the quality test come from the same families with other seeds: the
hardest case for false alarms, pictures with the same statistics that are not copies.
"""

from __future__ import annotations

import colorsys
import zlib
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from PIL import Image

Pixels = npt.NDArray[np.float64]
WIDTH, HEIGHT = 384, 256


def rng_for(seed: str) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(seed.encode()))


def axes(width: int = WIDTH, height: int = HEIGHT) -> tuple[Pixels, Pixels]:
    """x and y of every pixel, in [0, 1)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    return x / width, y / height


def one_over_f(
    rng: np.random.Generator, exponent: float, width: int = WIDTH, height: int = HEIGHT
) -> Pixels:
    """A Gaussian field whose amplitude spectrum falls as 1/f^exponent, scaled to [0, 1]."""
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    radius = np.hypot(fx, fy)
    radius[0, 0] = 1.0
    amplitude = radius**-exponent
    amplitude[0, 0] = 0.0
    phases = rng.uniform(0, 2 * np.pi, amplitude.shape)
    spectrum = amplitude * rng.rayleigh(1.0, amplitude.shape) * np.exp(1j * phases)
    field = np.fft.irfft2(spectrum, s=(height, width))
    low, high = np.percentile(field, (0.5, 99.5))
    scaled: Pixels = np.clip((field - low) / max(high - low, 1e-9), 0, 1)
    return scaled


def colour_map(rng: np.random.Generator, values: Pixels, stops: int = 4) -> Pixels:
    """Values in [0, 1] through a gradient of a few colours, dark to light."""
    positions = np.sort(np.concatenate([[0.0, 1.0], rng.random(stops - 2)]))
    hue = rng.random()
    colours = np.array(
        [
            colorsys.hsv_to_rgb(
                (hue + rng.normal(0, 0.12)) % 1, rng.uniform(0.1, 0.8), 0.05 + 0.95 * i / stops
            )
            for i in range(stops)
        ]
    )
    return np.stack([np.interp(values, positions, colours[:, c]) for c in range(3)], axis=-1)


def pink_noise(rng: np.random.Generator) -> Pixels:
    """Clouds, foliage, rock: a 1/f^b field (b from 0.9 to 1.6) with a second one for colour."""
    values = one_over_f(rng, rng.uniform(0.9, 1.6))
    tinted = colour_map(rng, values)
    shift = one_over_f(rng, rng.uniform(1.2, 1.8))[..., None] - 0.5
    return tinted + shift * rng.uniform(0.05, 0.3) * rng.normal(0, 1, 3)


def dead_leaves(rng: np.random.Generator) -> Pixels:
    """Occluding discs with radii of density r^-3 (scale invariant), front to back, each shaded."""
    x, y = axes()
    aspect = WIDTH / HEIGHT
    image = colour_map(rng, one_over_f(rng, 1.5))
    covered = np.zeros((HEIGHT, WIDTH), dtype=bool)
    grain = one_over_f(rng, 1.2) - 0.5
    low, high = 0.02, 0.5
    for _ in range(int(rng.integers(40, 160))):
        # Inverse transform sampling of p(r) ~ r^-3 on [low, high].
        u = rng.random()
        radius = (low**-2 - u * (low**-2 - high**-2)) ** -0.5
        cx, cy = rng.uniform(-0.1, 1.1), rng.uniform(-0.1, 1.1)
        colour = np.array(colorsys.hsv_to_rgb(rng.random(), rng.uniform(0, 0.8), rng.random()))
        slope = rng.uniform(-0.6, 0.6) * rng.normal(0, 1, 2)
        depth = rng.uniform(0, 0.3)
        # Only the disc's bounding box is touched.
        rows = slice(max(0, int((cy - radius) * HEIGHT)), max(0, int((cy + radius) * HEIGHT) + 1))
        cols = slice(
            max(0, int((cx - radius / aspect) * WIDTH)),
            max(0, int((cx + radius / aspect) * WIDTH) + 1),
        )
        bx, by = x[rows, cols], y[rows, cols]
        inside = (np.hypot((bx - cx) * aspect, by - cy) < radius) & ~covered[rows, cols]
        if not inside.any():
            continue
        light = np.clip(1 + slope[0] * (bx - cx) + slope[1] * (by - cy), 0.2, 1.6)
        patch = image[rows, cols]
        patch[inside] = colour * light[inside][:, None] + grain[rows, cols][inside][:, None] * depth
        covered[rows, cols] |= inside
    return image


def sky_and_ground(rng: np.random.Generator) -> Pixels:
    """A graded sky with clouds, a horizon line from 1/f noise, textured ground lit from one side."""
    x, y = axes()
    horizon = rng.uniform(0.3, 0.75)
    zenith = np.array(colorsys.hsv_to_rgb(rng.uniform(0.5, 0.7), rng.uniform(0.3, 0.9), 0.8))
    haze = np.array(colorsys.hsv_to_rgb(rng.uniform(0.0, 0.15), rng.uniform(0.0, 0.5), 1.0))
    t = np.clip(y / horizon, 0, 1)[..., None] ** rng.uniform(0.5, 2)
    sky = zenith * (1 - t) + haze * t
    clouds = np.clip((one_over_f(rng, 1.3) - rng.uniform(0.4, 0.7)) * 3, 0, 1)[..., None]
    sky = sky * (1 - clouds) + clouds * rng.uniform(0.7, 1.0)
    ridge = one_over_f(rng, 1.5, WIDTH, 2)[0] - 0.5
    crest = horizon + ridge * rng.uniform(0.1, 0.4)
    ground = colour_map(rng, one_over_f(rng, rng.uniform(0.8, 1.3)), stops=3)
    sun = rng.uniform(-1, 1)
    ground = ground * np.clip(1 + sun * (x - 0.5), 0.3, 1.5)[..., None]
    return np.where((y > crest[None, :])[..., None], ground, sky)


def faces(rng: np.random.Generator) -> Pixels:
    """Face-like blobs (a shaded head, two eyes, a mouth) at several scales on a 1/f background."""
    x, y = axes()
    aspect = WIDTH / HEIGHT
    image = colour_map(rng, one_over_f(rng, rng.uniform(1.0, 1.5)))
    count = int(rng.integers(1, 10))
    scales = np.sort(rng.uniform(0.06, 0.45, count))
    for scale in scales:  # small (far) first: near faces cover far ones
        cx, cy = rng.uniform(0.1, 0.9), rng.uniform(0.15, 0.85)
        rx, ry = scale * 0.75 / aspect, scale
        d = ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2
        head = d < 1
        skin = np.array(
            colorsys.hsv_to_rgb(rng.uniform(0.02, 0.1), rng.uniform(0.2, 0.6), rng.uniform(0.3, 1))
        )
        light = np.clip(1.1 - 0.5 * d - 0.4 * rng.normal() * (x - cx) / rx, 0.2, 1.3)
        image = np.where(head[..., None], skin * light[..., None], image)
        for side in (-1, 1):
            eye = ((x - cx - side * 0.35 * rx) / (0.12 * rx)) ** 2 + (
                (y - cy + 0.15 * ry) / (0.07 * ry)
            ) ** 2 < 1
            image = np.where(eye[..., None], skin * 0.2, image)
        mouth = ((x - cx) / (0.3 * rx)) ** 2 + ((y - cy - 0.45 * ry) / (0.06 * ry)) ** 2 < 1
        image = np.where(mouth[..., None], skin * np.array([0.7, 0.3, 0.3]), image)
        hair = (d < 1.15) & (d >= 1) & (y < cy)
        image = np.where(hair[..., None], rng.uniform(0, 0.5) * np.ones(3), image)
    return image


def texture(rng: np.random.Generator) -> Pixels:
    """Marble, wood rings or a woven pattern, each turbulent and lit unevenly."""
    x, y = axes()
    aspect = WIDTH / HEIGHT
    turbulence = one_over_f(rng, 1.4) - 0.5
    kind = int(rng.integers(3))
    frequency = rng.uniform(3, 14)
    if kind == 0:
        angle = rng.uniform(0, np.pi)
        along = x * aspect * np.cos(angle) + y * np.sin(angle)
        values = 0.5 + 0.5 * np.sin(2 * np.pi * frequency * (along + 0.4 * turbulence))
    elif kind == 1:
        cx, cy = rng.uniform(-0.5, 1.5), rng.uniform(-0.5, 1.5)
        radius = np.hypot((x - cx) * aspect, y - cy)
        values = (frequency * (radius + 0.15 * turbulence)) % 1.0
    else:
        weave = np.sin(2 * np.pi * frequency * x * aspect) * np.sin(2 * np.pi * frequency * y)
        values = 0.5 + 0.5 * np.tanh(3 * weave + 2 * turbulence)
    image = colour_map(rng, values, stops=3)
    light = np.clip(
        1 + rng.uniform(-0.8, 0.8) * (x - 0.5) + rng.uniform(-0.8, 0.8) * (y - 0.5), 0.2, 2
    )
    return image * light[..., None]


PHOTO_FAMILIES: tuple[Callable[[np.random.Generator], Pixels], ...] = (
    pink_noise,
    dead_leaves,
    sky_and_ground,
    faces,
    texture,
)


def finish(pixels: Pixels, rng: np.random.Generator) -> Image.Image:
    """A camera's last steps: a vignette, sensor grain, 8-bit sRGB."""
    x, y = axes(pixels.shape[1], pixels.shape[0])
    vignette = 1 - rng.uniform(0, 0.4) * (((x - 0.5) * 2) ** 2 + ((y - 0.5) * 2) ** 2) / 2
    noisy = pixels * vignette[..., None] + rng.normal(0, rng.uniform(0.0, 0.02), pixels.shape)
    return Image.fromarray((np.clip(noisy, 0, 1) * 255 + 0.5).astype(np.uint8))


def photo(seed: str, family: int) -> Image.Image:
    """A photograph-like picture of one family, from a seed."""
    rng = rng_for(f"photo:{seed}")
    return finish(PHOTO_FAMILIES[family % len(PHOTO_FAMILIES)](rng), rng)
