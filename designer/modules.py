"""The torch modules of the layer types ``torch.nn`` lacks, the ones torchvision and timm models are built from.

Each class needs only ``torch`` and ``nn`` (the RoI layers import ``torchvision.ops`` where they call it), so the
Python export copies its source into the file it writes.
"""

import torch
from torch import nn


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of an [N, C, H, W] map, as ConvNeXt's ``LayerNorm2d`` (torchvision and timm)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)
        x = nn.functional.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class LayerScale(nn.Module):
    """Multiplies each channel of an [N, C, H, W] map by a learned factor (ConvNeXt's ``layer_scale``, [C, 1, 1])."""

    def __init__(self, dim: int, init_values: float = 1e-5) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.full((dim, 1, 1), float(init_values)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weight

    @staticmethod
    def load_bare_keys(model: nn.Module, state_dict: dict[str, torch.Tensor], prefix: str, *_: object) -> None:
        """A ``load_state_dict`` pre-hook for a model holding LayerScales: a checkpoint that keeps a factor as a bare
        parameter of its block (torchvision's ``features.1.0.layer_scale``, [C, 1, 1]; timm's ``gamma``, [C]) loads
        into that LayerScale's ``weight``. Only a parent sees such a key: torch hands each module its own keys."""
        for name, layer in model.named_modules():
            bare, own = prefix + name, f"{prefix}{name}.weight"
            if isinstance(layer, LayerScale) and name and bare in state_dict and own not in state_dict:
                state_dict[own] = state_dict.pop(bare).reshape(layer.weight.shape)


class StochasticDepth(nn.Module):
    """In training, zeroes each sample ("row") or the whole batch ("batch") with probability p and scales what is
    kept by 1 / (1 - p); in evaluation, passes the input through. As ``torchvision.ops.StochasticDepth``."""

    def __init__(self, p: float, mode: str) -> None:
        super().__init__()
        if p < 0.0 or p > 1.0:
            raise ValueError(f"drop probability has to be between 0 and 1, but got {p}")
        if mode not in ("batch", "row"):
            raise ValueError(f"mode has to be either 'batch' or 'row', but got {mode}")
        self.p = p
        self.mode = mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        survival_rate = 1.0 - self.p
        size = [x.shape[0]] + [1] * (x.ndim - 1) if self.mode == "row" else [1] * x.ndim
        noise = torch.empty(size, dtype=x.dtype, device=x.device).bernoulli_(survival_rate)
        if survival_rate > 0.0:
            noise.div_(survival_rate)
        return x * noise

    def extra_repr(self) -> str:
        return f"p={self.p}, mode={self.mode}"


class RoIPool(nn.Module):
    """Max pooling of each region of interest to a fixed size, as Fast R-CNN (``torchvision.ops.roi_pool``)."""

    def __init__(self, output_size: tuple[int, int], spatial_scale: float = 1.0) -> None:
        super().__init__()
        import torchvision.ops  # noqa: F401  (loads torchvision's operators now: a trace cannot load them midway)

        self.output_size = output_size
        self.spatial_scale = spatial_scale

    def forward(self, x: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
        from torchvision.ops import roi_pool

        # the batch index rounded into the batch: torchvision's kernels read the map at whatever index they are
        # given, so an index past the batch (random inputs, a summary's dummy boxes) would read outside the tensor
        rois = torch.cat([boxes[:, :1].round().clamp(0, x.shape[0] - 1), boxes[:, 1:]], dim=1).to(x.dtype)
        out: torch.Tensor = roi_pool(x, rois, self.output_size, self.spatial_scale)
        return out

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}, spatial_scale={self.spatial_scale}"


class RoIAlign(nn.Module):
    """Bilinear sampling of each region of interest to a fixed size, as Mask R-CNN (``torchvision.ops.roi_align``)."""

    def __init__(
        self, output_size: tuple[int, int], spatial_scale: float = 1.0, sampling_ratio: int = -1, aligned: bool = False
    ) -> None:
        super().__init__()
        import torchvision.ops  # noqa: F401  (loads torchvision's operators now: a trace cannot load them midway)

        self.output_size = output_size
        self.spatial_scale = spatial_scale
        self.sampling_ratio = sampling_ratio
        self.aligned = aligned

    def forward(self, x: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
        from torchvision.ops import roi_align

        rois = torch.cat([boxes[:, :1].round().clamp(0, x.shape[0] - 1), boxes[:, 1:]], dim=1).to(x.dtype)  # as RoIPool
        out: torch.Tensor = roi_align(x, rois, self.output_size, self.spatial_scale, self.sampling_ratio, self.aligned)
        return out

    def extra_repr(self) -> str:
        return (
            f"output_size={self.output_size}, spatial_scale={self.spatial_scale}, "
            f"sampling_ratio={self.sampling_ratio}, aligned={self.aligned}"
        )
