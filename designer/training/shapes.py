"""The built-in dataset: procedurally drawn shapes, deterministic from a seed, drawn with vectorised numpy.

Each shape is a signed distance field in units of its radius (negative inside), so one anti-aliased rasteriser
draws them all and the ten classes cost one array expression each per chunk of samples.
"""

from __future__ import annotations

import numpy as np

SHAPE_CLASSES = ("circle", "square", "triangle", "cross", "ring", "frame", "diamond", "x", "star", "bar")

#: Pixels drawn per numpy pass: enough to amortise Python overhead, few enough that the temporaries stay small.
_CHUNK_PIXELS = 1 << 20


def _sdf(kind: str, dx: np.ndarray, dy: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Signed distance (in radii) of each pixel from the shape centred at the origin; ``angle`` is per sample."""
    ax, ay = np.abs(dx), np.abs(dy)
    d: np.ndarray  # numpy's ufuncs are typed as returning Any
    if kind == "circle":
        d = np.hypot(dx, dy) - 1.0
    elif kind == "square":
        d = np.maximum(ax, ay) - 0.8
    elif kind == "triangle":  # apex up, circumradius 1; the image y axis points down
        d = np.maximum(dy - 0.5, 0.866 * ax - 0.5 * dy - 0.5)
    elif kind == "cross":
        d = np.minimum(np.maximum(ax - 1.0, ay - 0.3), np.maximum(ax - 0.3, ay - 1.0))
    elif kind == "ring":
        d = np.abs(np.hypot(dx, dy) - 0.72) - 0.28
    elif kind == "frame":
        d = np.abs(np.maximum(ax, ay) - 0.62) - 0.2
    elif kind == "diamond":
        d = (ax + ay - 1.0) * 0.7071
    elif kind == "x":
        u, v = np.abs(dx + dy) * 0.7071, np.abs(dx - dy) * 0.7071
        d = np.minimum(np.maximum(u - 1.0, v - 0.28), np.maximum(u - 0.28, v - 1.0))
    elif kind == "star":
        d = np.hypot(dx, dy) - (0.62 + 0.38 * np.cos(5 * (np.arctan2(dy, dx) + angle)))
    else:  # bar: a thick line through the centre at a random angle
        theta, r = np.arctan2(dy, dx) + angle, np.hypot(dx, dy)
        u, v = np.abs(r * np.cos(theta)), np.abs(r * np.sin(theta))
        d = np.maximum(u - 1.0, v - 0.25)
    return d


def _draw_chunk(
    labels: np.ndarray, size: tuple[int, int], noise_fields: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    n, channels, (h, w) = len(labels), noise_fields.shape[1], size
    side = min(h, w)
    f32 = np.float32
    radius = (rng.uniform(0.2, 0.4, n) * side).astype(f32)
    cx = rng.uniform(radius, w - radius).astype(f32)
    cy = rng.uniform(radius, h - radius).astype(f32)
    angle = rng.uniform(0, 2 * np.pi, n).astype(f32)
    shift = rng.uniform(0.35, 0.65, (n, channels)).astype(f32)
    if channels == 1:
        # Light shapes on a dark ground, as MNIST's digits: with a random polarity every feature would have to
        # answer both an edge and its negative, which tanh and average pooling (LeNet) cannot learn in a few epochs.
        bg = rng.uniform(0, 1 - 0.65, (n, 1)).astype(f32)
        fg = bg + shift
    else:
        # Shift each channel by 0.35..0.65 around the colour circle: every shape stands out from its background.
        bg = rng.uniform(0, 1, (n, channels)).astype(f32)
        fg = (bg + shift) % f32(1.0)
    noise = rng.uniform(0.0, 0.08, n).astype(f32)
    ys, xs = np.mgrid[0:h, 0:w].astype(f32) + f32(0.5)
    alpha = np.empty((n, 1, h, w), dtype=f32)
    for k, kind in enumerate(SHAPE_CLASSES):
        sel = np.flatnonzero(labels == k)
        if not len(sel):
            continue
        r = radius[sel, None, None]
        d = _sdf(kind, (xs - cx[sel, None, None]) / r, (ys - cy[sel, None, None]) / r, angle[sel, None, None])
        alpha[sel, 0] = np.clip(f32(0.5) - d * r, 0.0, 1.0)  # one pixel of anti-aliasing at the edge
    # Gaussian pixel noise, picked from a few drawn fields: a fresh normal for every pixel would cost more than the
    # shapes themselves, and the noise carries no label information either way.
    img = noise_fields[rng.integers(0, len(noise_fields), n)]
    img *= noise[:, None, None, None]
    img += bg[:, :, None, None]
    img += (fg - bg)[:, :, None, None] * alpha
    np.clip(img, 0.0, 1.0, out=img)
    pixels: np.ndarray = (img * f32(255) + f32(0.5)).astype(np.uint8)  # numpy types float arithmetic as Any
    return pixels


def make_shapes(
    n: int, size: tuple[int, int] = (28, 28), channels: int = 1, seed: int = 0, classes: int = len(SHAPE_CLASSES)
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n`` labelled shapes: ``(images uint8 (n, C, H, W), labels int64 (n,))``, balanced over the first
    ``classes`` classes of ``SHAPE_CLASSES``.

    The same arguments always give the same arrays.
    """
    if not 2 <= classes <= len(SHAPE_CLASSES):
        raise ValueError(f"the shapes dataset has 2 to {len(SHAPE_CLASSES)} classes, not {classes}")
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % classes).astype(np.int64)
    images = np.empty((n, channels, *size), dtype=np.uint8)
    noise_fields = rng.standard_normal((256, channels, *size), dtype=np.float32)
    chunk = max(1, _CHUNK_PIXELS // (size[0] * size[1]))
    for start in range(0, n, chunk):
        images[start : start + chunk] = _draw_chunk(labels[start : start + chunk], size, noise_fields, rng)
    return images, labels
