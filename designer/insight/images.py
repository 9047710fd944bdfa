"""Turning insight arrays into pictures with numpy alone: colour maps, grids, overlays and a small PNG writer."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from ..model.fileformat import write_atomic

#: 17 evenly spaced stops of each map, interpolated linearly. viridis and inferno are matplotlib's perceptually
#: uniform maps; "diverging" is CET-D1 (blue, near-white, red), for signed values such as filter weights.
COLORMAPS: dict[str, tuple[tuple[int, int, int], ...]] = {
    "viridis": (
        (68, 1, 84),
        (72, 23, 105),
        (71, 44, 122),
        (66, 63, 133),
        (59, 81, 139),
        (51, 98, 141),
        (44, 113, 142),
        (38, 129, 142),
        (33, 144, 140),
        (31, 159, 136),
        (39, 173, 128),
        (61, 188, 115),
        (92, 200, 98),
        (129, 211, 76),
        (170, 220, 49),
        (213, 226, 25),
        (253, 231, 37),
    ),
    "inferno": (
        (0, 0, 4),
        (10, 7, 35),
        (32, 12, 73),
        (60, 9, 100),
        (86, 15, 109),
        (112, 25, 110),
        (137, 34, 106),
        (162, 43, 97),
        (187, 54, 84),
        (208, 69, 68),
        (227, 89, 50),
        (241, 113, 30),
        (249, 140, 9),
        (252, 170, 15),
        (249, 201, 50),
        (242, 232, 101),
        (252, 255, 164),
    ),
    "diverging": (
        (33, 81, 219),
        (81, 97, 222),
        (111, 116, 225),
        (137, 135, 228),
        (159, 155, 231),
        (181, 176, 234),
        (201, 196, 236),
        (220, 218, 238),
        (237, 231, 233),
        (242, 214, 207),
        (240, 189, 177),
        (237, 164, 147),
        (231, 139, 118),
        (223, 114, 90),
        (214, 87, 62),
        (203, 56, 35),
        (192, 2, 6),
    ),
    "gray": ((0, 0, 0), (255, 255, 255)),
}
#: Colour of the gaps between tiles (NaN values).
GAP = (255, 255, 255)


def lut(name: str, n: int = 256) -> np.ndarray:
    """The colour map ``name`` as ``(n, 3)`` uint8."""
    stops = np.asarray(COLORMAPS[name], dtype=np.float64)
    pos = np.linspace(0, 1, len(stops))
    t = np.linspace(0, 1, n)
    table: np.ndarray = np.stack([np.interp(t, pos, stops[:, c]) for c in range(3)], 1).round().astype(np.uint8)
    return table


def levels_of(values: np.ndarray, symmetric: bool = False) -> tuple[float, float]:
    """The finite range of ``values`` (``(-m, m)`` when ``symmetric``); never empty."""
    finite = values[np.isfinite(values)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if symmetric:
        m = max(abs(lo), abs(hi)) or 1.0
        return -m, m
    return (lo, hi) if hi > lo else (lo, lo + 1.0)


def colorize(values: np.ndarray, cmap: str = "viridis", levels: tuple[float, float] | None = None) -> np.ndarray:
    """A 2-D array as ``(H, W, 3)`` uint8 through a colour map; NaN becomes the gap colour."""
    lo, hi = levels or levels_of(values)
    table = lut(cmap)
    t = np.clip((np.nan_to_num(values, nan=lo) - lo) / ((hi - lo) or 1.0), 0, 1)
    rgb: np.ndarray = table[(t * (len(table) - 1)).round().astype(np.intp)]
    rgb[~np.isfinite(values)] = GAP
    return rgb


def display(x: Any) -> np.ndarray:
    """A model input ``(C, H, W)`` (any range) as ``(H, W, 3)`` floats in [0, 1], stretched over its own range."""
    a = np.asarray(x, dtype=np.float64)
    a = a.reshape(-1, *a.shape[-2:]) if a.ndim >= 2 else a.reshape(1, 1, -1)
    a = a[:3] if a.shape[0] >= 3 else a[:1].repeat(3, 0)
    lo, hi = float(a.min()), float(a.max())
    return np.transpose((a - lo) / ((hi - lo) or 1.0), (1, 2, 0))


def tile(tiles: np.ndarray, cols: int | None = None, pad: int = 1) -> np.ndarray:
    """Tiles ``(N, h, w)`` or ``(N, h, w, 3)`` in a grid with NaN gaps, ``cols`` wide (default: about square)."""
    n = len(tiles)
    cols = cols or max(1, int(np.ceil(np.sqrt(n))))
    rows = max(1, -(-n // cols))
    h, w = tiles.shape[1:3]
    grid = np.full((rows * (h + pad) - pad, cols * (w + pad) - pad, *tiles.shape[3:]), np.nan)
    for k in range(n):
        r, c = divmod(k, cols)
        grid[r * (h + pad) : r * (h + pad) + h, c * (w + pad) : c * (w + pad) + w] = tiles[k]
    return grid


def feature_grid(maps: np.ndarray, cols: int | None = None, per_map: bool = True) -> np.ndarray:
    """Feature maps ``(C, H, W)`` (or a vector, or ``(H, W)``) as one 2-D image; ``per_map`` scales each to [0, 1]."""
    m = np.asarray(maps, dtype=np.float64)
    if m.ndim < 3:
        return m.reshape(1, -1) if m.ndim < 2 else m
    m = m.reshape(-1, *m.shape[-2:])
    if per_map:
        lo = m.min(axis=(1, 2), keepdims=True)
        span = m.max(axis=(1, 2), keepdims=True) - lo
        m = np.where(span > 0, (m - lo) / np.where(span > 0, span, 1.0), 0.0)
    return tile(m, cols)


def filter_grid(weight: np.ndarray, max_filters: int = 64, max_channels: int = 64) -> tuple[np.ndarray, bool]:
    """Conv kernels ``(O, I, kH, kW)`` as a picture; ``(image, is_rgb)``.

    With three input channels each filter is one colour tile, weights mapped to [0, 1] on one symmetric scale
    (0.5 is a zero weight). Otherwise each row is a filter and each column an input channel, raw weights (for a
    diverging colour map); filters of a single input channel are laid out in a square instead. At most
    ``max_filters`` filters and ``max_channels`` channels are drawn.
    """
    w = np.asarray(weight, dtype=np.float64)[:max_filters]
    if w.shape[1] == 3:
        m = float(np.abs(w).max()) or 1.0
        rgb = np.transpose(w / (2 * m) + 0.5, (0, 2, 3, 1))
        grid = tile(rgb, pad=1)
        grid[np.isnan(grid)] = 1.0
        return grid, True
    w = w[:, :max_channels]
    return tile(w.reshape(-1, *w.shape[2:]), cols=w.shape[1] if w.shape[1] > 1 else None), False


def overlay(
    base: np.ndarray,
    heat: np.ndarray,
    cmap: str = "inferno",
    alpha: float = 0.5,
    levels: tuple[float, float] | None = None,
) -> np.ndarray:
    """A heat map blended over a ``(H, W, 3)`` [0, 1] image: ``(H, W, 3)`` uint8."""
    coloured = colorize(heat, cmap, levels).astype(np.float64) / 255
    return to_uint8((1 - alpha) * base + alpha * coloured)


def to_uint8(rgb: np.ndarray) -> np.ndarray:
    """Floats in [0, 1] (NaN: white) as uint8."""
    out: np.ndarray = (np.clip(np.nan_to_num(rgb, nan=1.0), 0, 1) * 255).round().astype(np.uint8)
    return out


def upscale(img: np.ndarray, factor: int) -> np.ndarray:
    """Repeat pixels ``factor`` times each way, so small maps stay sharp when shown large."""
    return img if factor <= 1 else img.repeat(factor, axis=0).repeat(factor, axis=1)


def encode_png(img: np.ndarray) -> bytes:
    """A PNG file of a ``(H, W)`` grey or ``(H, W, 3)`` RGB uint8 image (zlib and struct, no imaging library)."""
    a = np.ascontiguousarray(img, dtype=np.uint8)
    colour_type = 2 if a.ndim == 3 else 0
    h, w = a.shape[:2]
    rows = a.reshape(h, -1)
    raw = np.concatenate([np.zeros((h, 1), dtype=np.uint8), rows], 1).tobytes()  # filter type 0 on every row

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", w, h, 8, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")


def read_image(path: str | Path, channels: int, size: tuple[int, int]) -> np.ndarray:
    """An image file as ``(channels, H, W)`` uint8, converted to grey or RGB and resized to ``size`` = ``(H, W)``.

    Raises:
        ValueError: ``channels`` is neither 1 nor 3, or the file is not an image Pillow can read.
    """
    from PIL import Image

    if channels not in (1, 3):
        raise ValueError(f"the design's Input has {channels} channels; images give 1 or 3")
    try:
        with Image.open(path) as im:
            im = im.convert("L" if channels == 1 else "RGB").resize((size[1], size[0]), Image.Resampling.BILINEAR)
            arr = np.asarray(im, dtype=np.uint8)
    except (OSError, SyntaxError) as exc:  # Pillow raises both for unreadable or foreign files
        raise ValueError(f"cannot read image {path}: {exc}") from None
    chw: np.ndarray = arr.reshape(size[0], size[1], channels).transpose(2, 0, 1).copy()
    return chw


def write_png(path: str | Path, img: np.ndarray) -> None:
    """Write ``img`` (see ``encode_png``) atomically."""
    write_atomic(Path(path), encode_png(img))
