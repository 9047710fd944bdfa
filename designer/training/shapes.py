"""The built-in dataset: procedurally drawn shapes, deterministic from a seed, drawn with vectorised numpy.

Each shape is a signed distance field in units of its radius (negative inside), so one anti-aliased rasteriser
draws them all and the ten classes cost one array expression each per chunk of samples.
"""

from __future__ import annotations

from dataclasses import dataclass

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


def _colours(n: int, channels: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A ground and a shape colour per sample, ``(n, channels)`` each in [0, 1], far enough apart to see."""
    # One channel: light shapes on a dark ground, as MNIST's digits: with a random polarity every feature would have
    # to answer both an edge and its negative, which tanh and average pooling (LeNet) cannot learn in a few epochs.
    bg = rng.uniform(0, 1 - 0.65 if channels == 1 else 1, (n, channels)).astype(np.float32)
    return bg, _ink(bg, rng)


def _ink(bg: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A shape colour for each ground colour: 0.35..0.65 lighter in grey, as far around the colour circle in colour."""
    ink: np.ndarray = bg + rng.uniform(0.35, 0.65, bg.shape).astype(np.float32)
    return ink if bg.shape[1] == 1 else ink % np.float32(1.0)


def _alpha(
    labels: np.ndarray, cx: np.ndarray, cy: np.ndarray, radius: np.ndarray, angle: np.ndarray, size: tuple[int, int]
) -> np.ndarray:
    """Coverage in [0, 1] of each sample's shape, ``(n, H, W)``, with one pixel of anti-aliasing at the edge."""
    f32 = np.float32
    ys, xs = np.mgrid[0 : size[0], 0 : size[1]].astype(f32) + f32(0.5)
    alpha = np.zeros((len(labels), *size), dtype=f32)
    for k, kind in enumerate(SHAPE_CLASSES):
        sel = np.flatnonzero(labels == k)
        if not len(sel):
            continue
        r = radius[sel, None, None]
        d = _sdf(kind, (xs - cx[sel, None, None]) / r, (ys - cy[sel, None, None]) / r, angle[sel, None, None])
        alpha[sel] = np.clip(f32(0.5) - d * r, 0.0, 1.0)
    return alpha


def _noisy_ground(bg: np.ndarray, noise_fields: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The ground colour with Gaussian pixel noise, picked from a few drawn fields: a fresh normal for every pixel
    would cost more than the shapes themselves, and the noise carries no label information either way."""
    img = noise_fields[rng.integers(0, len(noise_fields), len(bg))]
    img *= rng.uniform(0.0, 0.08, len(bg)).astype(np.float32)[:, None, None, None]
    img += bg[:, :, None, None]
    return img


def _to_pixels(img: np.ndarray) -> np.ndarray:
    np.clip(img, 0.0, 1.0, out=img)
    pixels: np.ndarray = (img * np.float32(255) + np.float32(0.5)).astype(np.uint8)  # numpy types this as Any
    return pixels


def _draw_chunk(
    labels: np.ndarray, size: tuple[int, int], noise_fields: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Images ``(n, C, H, W)`` uint8 of one shape each, and each shape's coverage ``(n, H, W)``."""
    n, channels, (h, w) = len(labels), noise_fields.shape[1], size
    f32 = np.float32
    radius = (rng.uniform(0.2, 0.4, n) * min(h, w)).astype(f32)
    cx = rng.uniform(radius, w - radius).astype(f32)
    cy = rng.uniform(radius, h - radius).astype(f32)
    angle = rng.uniform(0, 2 * np.pi, n).astype(f32)
    bg, fg = _colours(n, channels, rng)
    alpha = _alpha(labels, cx, cy, radius, angle, size)
    img = _noisy_ground(bg, noise_fields, rng)
    img += (fg - bg)[:, :, None, None] * alpha[:, None]
    return _to_pixels(img), alpha


def _check_classes(classes: int) -> None:
    if not 2 <= classes <= len(SHAPE_CLASSES):
        raise ValueError(f"the shapes dataset has 2 to {len(SHAPE_CLASSES)} classes, not {classes}")


def make_shapes(
    n: int, size: tuple[int, int] = (28, 28), channels: int = 1, seed: int = 0, classes: int = len(SHAPE_CLASSES)
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n`` labelled shapes: ``(images uint8 (n, C, H, W), labels int64 (n,))``, balanced over the first
    ``classes`` classes of ``SHAPE_CLASSES``.

    The same arguments always give the same arrays.
    """
    targets = make_shape_targets(n, size, channels, seed, classes, masks=False)
    return targets.images, targets.labels


@dataclass(frozen=True)
class ShapeTargets:
    """Images with what a segmentation or detection network learns from them.

    ``masks`` is ``(n, H, W)`` uint8: 0 on the ground, 1 + the class index where a shape covers at least half the
    pixel. ``boxes`` is ``(n, K, 4)`` float32 pixel corners ``x0, y0, x1, y1`` (x1, y1 exclusive) around each shape's
    mask, ``box_labels`` ``(n, K)`` int64 its class, -1 where an image has fewer than K shapes; ``labels`` is the class
    of each image's first shape (its only one for ``make_shape_targets``). ``instances`` is ``(n, H, W)`` uint8: 0 on
    the ground, k + 1 where the k-th shape covers the pixel.
    """

    images: np.ndarray
    labels: np.ndarray
    masks: np.ndarray
    boxes: np.ndarray
    box_labels: np.ndarray
    instances: np.ndarray


def make_shape_targets(
    n: int,
    size: tuple[int, int] = (28, 28),
    channels: int = 1,
    seed: int = 0,
    classes: int = len(SHAPE_CLASSES),
    *,
    masks: bool = True,
) -> ShapeTargets:
    """The images of ``make_shapes`` (the same arguments give the same pixels) with their masks and boxes."""
    _check_classes(classes)
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % classes).astype(np.int64)
    images = np.empty((n, channels, *size), dtype=np.uint8)
    mask = np.zeros((n, *size) if masks else (0, *size), dtype=np.uint8)
    noise_fields = rng.standard_normal((256, channels, *size), dtype=np.float32)
    chunk = max(1, _CHUNK_PIXELS // (size[0] * size[1]))
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        images[start:stop], alpha = _draw_chunk(labels[start:stop], size, noise_fields, rng)
        if masks:
            mask[start:stop] = (alpha >= 0.5) * (labels[start:stop, None, None] + 1).astype(np.uint8)
    covered = mask > 0
    return ShapeTargets(images, labels, mask, _boxes(covered[:, None]), labels[: len(mask), None].copy(), covered * 1)


def _boxes(covered: np.ndarray) -> np.ndarray:
    """Pixel boxes ``(n, K, 4)`` around each ``(n, K, H, W)`` boolean mask; zeros where a mask is empty."""
    rows, cols = np.any(covered, axis=3), np.any(covered, axis=2)
    h, w = covered.shape[2:]
    boxes = np.stack(
        [cols.argmax(-1), rows.argmax(-1), w - cols[..., ::-1].argmax(-1), h - rows[..., ::-1].argmax(-1)], axis=-1
    ).astype(np.float32)
    boxes[~rows.any(-1)] = 0.0
    return boxes


def make_scenes(
    n: int,
    size: tuple[int, int] = (64, 64),
    channels: int = 3,
    seed: int = 0,
    classes: int = len(SHAPE_CLASSES),
    max_objects: int = 4,
) -> ShapeTargets:
    """The ``shapes-scenes`` variant: 1 to ``max_objects`` non-overlapping shapes per image, each in its own colour,
    with the per-pixel class mask and a box and class per shape."""
    _check_classes(classes)
    rng = np.random.default_rng(seed)
    h, w = size
    f32 = np.float32
    counts = rng.integers(1, max_objects + 1, n)
    labels = rng.integers(0, classes, (n, max_objects)).astype(np.int64)
    radius = (rng.uniform(0.1, 0.18, (n, max_objects)) * min(h, w)).astype(f32)
    angle = rng.uniform(0, 2 * np.pi, (n, max_objects)).astype(f32)
    centres = _place(counts, radius, size, rng)  # far outside the image where an object did not fit
    placed = centres[..., 0] > -size[1]
    bg, _ = _colours(n, channels, rng)
    img = _noisy_ground(bg, rng.standard_normal((64, channels, *size), dtype=f32), rng)
    mask = np.zeros((n, *size), dtype=np.uint8)
    instances = np.zeros((n, *size), dtype=np.uint8)
    covered = np.zeros((n, max_objects, *size), dtype=bool)
    for k in range(max_objects):
        alpha = _alpha(labels[:, k], centres[:, k, 0], centres[:, k, 1], radius[:, k], angle[:, k], size)
        img += (_ink(bg, rng) - bg)[:, :, None, None] * alpha[:, None]
        covered[:, k] = alpha >= 0.5
        mask[covered[:, k]] = np.broadcast_to(labels[:, k, None, None] + 1, covered[:, k].shape)[covered[:, k]]
        instances[covered[:, k]] = k + 1
    box_labels = np.where(placed, labels, -1)
    return ShapeTargets(_to_pixels(img), box_labels[:, 0].copy(), mask, _boxes(covered), box_labels, instances)


def _place(counts: np.ndarray, radius: np.ndarray, size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Centres ``(n, K, 2)`` (x, y) keeping each shape inside the image and clear of the others (a shape reaches at
    most 1.2 radii from its centre); far outside the image for slots beyond the image's count or that found no room
    in 30 tries. Each slot tries 30 candidates for every image at once and keeps the first that fits."""
    h, w = size
    n, slots = radius.shape
    tries = 30
    outside = np.float32(-10 * max(h, w))
    centres = np.full((n, slots, 2), outside, dtype=np.float32)
    reach = 1.2 * radius
    for k in range(slots):
        r = reach[:, k, None]
        cand = np.stack([rng.uniform(r, w - r, (n, tries)), rng.uniform(r, h - r, (n, tries))], axis=-1)
        gap = np.hypot(*np.moveaxis(cand[:, :, None] - centres[:, None, :k], -1, 0))  # (n, tries, k)
        fits = np.all(gap > r[:, :, None] + reach[:, None, :k], axis=2) & (counts[:, None] > k)
        first = fits.argmax(axis=1)
        ok = fits[np.arange(n), first]
        centres[ok, k] = cand[ok, first[ok]]
    return centres
