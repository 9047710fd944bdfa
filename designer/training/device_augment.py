"""The training augmentation for a whole batch on the device, drawn per sample (the GPU-resident path of issue 15).

``data.build_augment`` runs torchvision's v2 transforms on one image at a time in DataLoader workers; on a GPU that
keeps the device waiting on Python. Here the same choices (``Augment``) become, for each sample of a batch, one
affine map (pad-and-crop, resized crop, flips, rotation, affine) applied to the batch by one ``grid_sample``, then
the colour jitter as per-sample factors. v2's batched call would draw one set of parameters for the whole batch;
drawing per sample keeps each image's own. Ranges follow ``build_augment``: crops of an eighth of the side with
mirrored borders, resized crops of 60-100 % of the area at aspect 3/4-4/3, translation 10 %, scale 0.9-1.1, shear 5.

The draws are seeded by (seed, epoch, batch), so an epoch's augmentation is the same whether or not the run was
stopped and resumed in it.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .data import Augment


class DeviceAugment:
    """``Augment`` for uint8 batches ``[B, C, H, W]`` on their device; returns uint8 of the same shape."""

    def __init__(self, aug: Augment, seed: int):
        self.aug, self.seed = aug, seed

    def __call__(self, x: torch.Tensor, epoch: int, batch: int) -> torch.Tensor:
        g = torch.Generator(device=x.device)
        g.manual_seed((self.seed * 1_000_003 + epoch) * 1_000_003 + batch)
        out = x.float()
        theta = self._affine(len(x), x.shape[-2:], x.device, g)
        if theta is not None:
            grid = F.affine_grid(theta, list(x.shape), align_corners=False)
            out = F.grid_sample(out, grid, mode="bilinear", padding_mode=self._padding(), align_corners=False)
        if self.aug.color_jitter:
            out = self._jitter(out, g)
        return out.round_().clamp_(0, 255).to(torch.uint8)

    def _padding(self) -> str:
        # Rotations and affine maps fill with zeros, as v2 does; pad-and-crop mirrors (build_augment reflects); a
        # resized crop lies inside the image, and clamping keeps bilinear sampling at its edge off the padding.
        if self.aug.rotation or self.aug.affine:
            return "zeros"
        return "reflection" if self.aug.crop and not self.aug.resized_crop else "border"

    def _affine(self, n: int, size: torch.Size, device: torch.device, g: torch.Generator) -> torch.Tensor | None:
        """Per-sample 2x3 maps from output to input coordinates (``affine_grid``'s [-1, 1] space), None: identity."""
        aug = self.aug
        if not (aug.crop or aug.resized_crop or aug.hflip or aug.vflip or aug.rotation or aug.affine):
            return None
        h, w = int(size[0]), int(size[1])

        def uniform(low: float, high: float) -> torch.Tensor:
            return low + (high - low) * torch.rand(n, generator=g, device=device)

        sx, sy = torch.ones(n, device=device), torch.ones(n, device=device)
        tx, ty = torch.zeros(n, device=device), torch.zeros(n, device=device)
        angle, shear = torch.zeros(n, device=device), torch.zeros(n, device=device)
        if aug.resized_crop:  # a crop of 60-100 % of the area at aspect 3/4..4/3, resized to the whole image
            area = uniform(0.6, 1.0)
            ratio = torch.exp(uniform(math.log(3 / 4), math.log(4 / 3)))
            sx, sy = (area * ratio).sqrt().clamp(max=1.0), (area / ratio).sqrt().clamp(max=1.0)
            tx, ty = (1 - sx) * uniform(-1, 1), (1 - sy) * uniform(-1, 1)
        elif aug.crop:  # shift by whole pixels up to an eighth of the side, borders reflected
            pad = max(1, min(h, w) // 8)
            tx = torch.randint(-pad, pad + 1, (n,), generator=g, device=device).float() * 2 / w
            ty = torch.randint(-pad, pad + 1, (n,), generator=g, device=device).float() * 2 / h
        if aug.affine:
            tx, ty = tx + uniform(-0.2, 0.2), ty + uniform(-0.2, 0.2)  # 10 % of the side is 0.2 in [-1, 1]
            scale = uniform(0.9, 1.1)
            sx, sy = sx / scale, sy / scale  # output-to-input: enlarging the content samples a smaller area
            shear = torch.deg2rad(uniform(-5, 5))
        if aug.rotation:
            angle = torch.deg2rad(uniform(-float(aug.rotation), float(aug.rotation)))
        if aug.hflip:
            sx = sx * torch.where(torch.rand(n, generator=g, device=device) < 0.5, -1.0, 1.0)
        if aug.vflip:
            sy = sy * torch.where(torch.rand(n, generator=g, device=device) < 0.5, -1.0, 1.0)
        # input = R @ Shear @ Scale @ output + t, in affine_grid's [-1, 1] coordinates; the rotation is one in
        # pixels (a square stays square on a non-square image): [[cos, -sin h/w], [sin w/h, cos]]
        cos, sin, tan = torch.cos(angle), torch.sin(angle), torch.tan(shear)
        aspect = w / h
        a = torch.stack([cos * sx, (cos * tan - sin / aspect) * sy, tx], 1)
        b = torch.stack([sin * aspect * sx, (sin * aspect * tan + cos) * sy, ty], 1)
        return torch.stack([a, b], 1)

    def _jitter(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        """Brightness and contrast per sample, and for colour images saturation and hue, as v2's ColorJitter."""
        n, c = x.shape[:2]
        s = float(self.aug.color_jitter)

        def factor() -> torch.Tensor:
            low = max(0.0, 1 - s)
            return (low + (1 + s - low) * torch.rand(n, generator=g, device=x.device)).view(n, 1, 1, 1)

        x = (x * factor()).clamp(0, 255)  # brightness
        grey = _grey(x)
        mean = grey.mean(dim=(1, 2, 3), keepdim=True)
        x = ((x - mean) * factor() + mean).clamp(0, 255)  # contrast
        if c == 3:
            grey = _grey(x)
            x = ((x - grey) * factor() + grey).clamp(0, 255)  # saturation
            hue = (min(s, 0.5) / 2) * (2 * torch.rand(n, generator=g, device=x.device) - 1) * 2 * math.pi
            x = _rotate_hue(x, hue).clamp(0, 255)
        return x


def _grey(x: torch.Tensor) -> torch.Tensor:
    """Luma ``[B, 1, H, W]`` (ITU-R 601, as torchvision's rgb_to_grayscale); the image itself for one channel."""
    if x.shape[1] != 3:
        return x.mean(dim=1, keepdim=True)
    r, g, b = x[:, 0:1], x[:, 1:2], x[:, 2:3]
    return 0.299 * r + 0.587 * g + 0.114 * b


#: RGB to YIQ and back: a hue shift is a rotation of the (I, Q) plane.
_YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])


def _rotate_hue(x: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    yiq = _YIQ.to(x.device)
    cos, sin = torch.cos(angle), torch.sin(angle)
    one, zero = torch.ones_like(cos), torch.zeros_like(cos)
    rows = [torch.stack([one, zero, zero], 1), torch.stack([zero, cos, -sin], 1), torch.stack([zero, sin, cos], 1)]
    rot = torch.stack(rows, 1)
    m = torch.linalg.inv(yiq) @ rot @ yiq  # [B, 3, 3]
    return torch.einsum("bij,bjhw->bihw", m, x)
