"""Convolution, pooling and resizing entries against torch (see tests/layer_harness.py)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import strategies as st

from tests.layer_harness import MAP_RANKS, Case, module_case, pair, run_property, sample_shape


def _conv(type_: str) -> st.SearchStrategy:
    required = {"out_channels": st.integers(1, 16), "kernel_size": pair(1, 7)}
    optional = {"stride": pair(1, 3), "dilation": pair(1, 3), "groups": st.integers(1, 4), "bias": st.booleans()}
    if type_ == "Conv2d":  # padding and its mode always drawn: their interplay with small inputs is the hard part
        required["padding"] = st.one_of(pair(0, 3), st.sampled_from(["same", "valid"]))
        required["padding_mode"] = st.sampled_from(["zeros", "reflect", "replicate", "circular"])
    else:
        optional.update(padding=pair(0, 3), output_padding=pair(0, 3))
    return module_case(type_, required, optional, "in_channels", MAP_RANKS)


def _pool(type_: str) -> st.SearchStrategy:
    optional = {"stride": st.one_of(st.none(), pair(1, 3)), "padding": pair(0, 3), "ceil_mode": st.booleans()}
    if type_ == "MaxPool2d":
        optional["dilation"] = pair(1, 3)
    else:
        optional.update(count_include_pad=st.booleans(), divisor_override=st.one_of(st.none(), st.integers(0, 3)))
    return module_case(type_, {"kernel_size": pair(1, 6)}, optional, ranks=MAP_RANKS)


_ADAPTIVE = st.one_of(st.integers(0, 8), st.lists(st.one_of(st.none(), st.integers(1, 8)), min_size=2, max_size=2))
_SCALE = st.one_of(
    st.floats(0.05, 3), st.sampled_from([0.5, 1.5, 2, 2.5]), st.lists(st.floats(0.05, 3), min_size=2, max_size=2)
)
_MODE = st.sampled_from(["nearest", "nearest-exact", "bilinear", "bicubic", "area", "linear", "trilinear"])


@st.composite
def _upsample(draw: Any) -> Case:
    """Mostly exactly one of size and scale_factor; sometimes both, or neither (omitted or an explicit null)."""
    shape = draw(sample_shape(MAP_RANKS))
    which = draw(st.sampled_from(["size", "scale", "scale", "both", "neither"]))
    # mode and align_corners are always drawn, as they only matter together (the edge examples cover defaults)
    params = {"mode": draw(_MODE), "align_corners": draw(st.one_of(st.none(), st.booleans()))}
    if which in ("size", "both"):
        params["size"] = draw(pair(1, 30))
    if which in ("scale", "both"):
        params["scale_factor"] = draw(_SCALE)
    if which == "neither" and draw(st.booleans()):
        params.update(size=None, scale_factor=None)
    if draw(st.integers(0, 3)) == 0:
        params["recompute_scale_factor"] = draw(st.one_of(st.none(), st.booleans()))
    return Case("Upsample", params, (shape,))


_PAD4 = st.one_of(st.integers(-3, 3), st.lists(st.integers(-6, 4), min_size=4, max_size=4))

STRATEGIES: dict[str, st.SearchStrategy] = {
    "Conv2d": _conv("Conv2d"),
    "ConvTranspose2d": _conv("ConvTranspose2d"),
    "MaxPool2d": _pool("MaxPool2d"),
    "AvgPool2d": _pool("AvgPool2d"),
    "AdaptiveAvgPool2d": module_case("AdaptiveAvgPool2d", {"output_size": _ADAPTIVE}, ranks=MAP_RANKS),
    "AdaptiveMaxPool2d": module_case("AdaptiveMaxPool2d", {"output_size": _ADAPTIVE}, ranks=MAP_RANKS),
    "Upsample": _upsample(),
    "ZeroPad2d": module_case("ZeroPad2d", {"padding": _PAD4}),
    "PixelShuffle": module_case("PixelShuffle", {"upscale_factor": st.integers(1, 4)}, ranks=MAP_RANKS),
}

#: Layers with many interacting parameters get more draws.
EXAMPLES = {
    "Conv2d": 300,
    "ConvTranspose2d": 200,
    "MaxPool2d": 200,
    "AvgPool2d": 200,
    "Upsample": 150,
    "ZeroPad2d": 80,
}

#: The edge cases the issue names, always replayed as explicit examples: (type, params, input shapes).
EDGES = [
    ("Conv2d", {"out_channels": 4, "kernel_size": 5}, [(3, 4, 4)]),  # kernel larger than the input
    ("Conv2d", {"out_channels": 4, "kernel_size": 5, "padding": 1}, [(3, 3, 3)]),  # fits exactly with padding
    ("Conv2d", {"out_channels": 4, "kernel_size": 1, "groups": 3}, [(6, 5, 5)]),  # groups do not divide C_out
    ("Conv2d", {"out_channels": 8, "kernel_size": 1, "groups": 4}, [(6, 5, 5)]),  # ... nor C_in
    ("Conv2d", {"out_channels": 2, "kernel_size": 3, "dilation": 3}, [(1, 6, 7)]),  # dilated kernel too tall
    ("Conv2d", {"out_channels": 2, "kernel_size": 3, "padding": "same", "stride": 2}, [(1, 8, 8)]),
    ("Conv2d", {"out_channels": 2, "kernel_size": 4, "padding": "same", "padding_mode": "reflect"}, [(1, 3, 3)]),
    ("Conv2d", {"out_channels": 2, "kernel_size": 4, "padding": "same", "padding_mode": "reflect"}, [(1, 2, 2)]),
    ("Conv2d", {"out_channels": 1, "kernel_size": 1, "padding": 3, "padding_mode": "circular"}, [(1, 3, 3)]),
    ("Conv2d", {"out_channels": 1, "kernel_size": 1, "padding": 4, "padding_mode": "circular"}, [(1, 3, 3)]),
    ("Conv2d", {"out_channels": 1, "kernel_size": 1, "padding": 3, "padding_mode": "reflect"}, [(1, 3, 3)]),
    ("ConvTranspose2d", {"out_channels": 2, "kernel_size": 3, "stride": 2, "output_padding": 2}, [(1, 4, 4)]),
    ("ConvTranspose2d", {"out_channels": 2, "kernel_size": 3, "stride": 2, "output_padding": 1}, [(1, 4, 4)]),
    ("ConvTranspose2d", {"out_channels": 2, "kernel_size": 3, "dilation": 2, "output_padding": 1}, [(1, 4, 4)]),
    ("ConvTranspose2d", {"out_channels": 1, "kernel_size": 1, "padding": 1}, [(1, 1, 1)]),  # output size -1
    ("MaxPool2d", {"kernel_size": 3, "padding": 2}, [(1, 6, 6)]),  # padding > kernel/2
    ("MaxPool2d", {"kernel_size": 2, "padding": 1}, [(1, 6, 6)]),
    ("MaxPool2d", {"kernel_size": 2, "stride": 2, "padding": 1, "ceil_mode": True}, [(1, 5, 6)]),
    # Regression: ceil mode drops a last window that would start outside; the explanation now shows the "- 1".
    ("MaxPool2d", {"kernel_size": 1, "stride": 2, "ceil_mode": True}, [(1, 4, 5)]),
    ("MaxPool2d", {"kernel_size": 3, "dilation": 2}, [(1, 4, 5)]),
    ("AvgPool2d", {"kernel_size": 2, "stride": 2, "padding": 1, "ceil_mode": True}, [(1, 3, 3)]),
    ("AvgPool2d", {"kernel_size": 2, "divisor_override": 0}, [(1, 4, 4)]),
    ("Upsample", {"size": 4, "scale_factor": 2}, [(1, 3, 3)]),
    ("Upsample", {}, [(1, 3, 3)]),
    ("Upsample", {"size": None, "scale_factor": None}, [(1, 3, 3)]),
    ("Upsample", {"scale_factor": 2, "align_corners": False}, [(1, 3, 3)]),  # align_corners with nearest
    ("Upsample", {"scale_factor": 2, "mode": "nearest-exact", "align_corners": True}, [(1, 3, 3)]),
    ("Upsample", {"scale_factor": 2, "mode": "bilinear", "align_corners": True}, [(1, 3, 3)]),
    ("Upsample", {"scale_factor": 2, "mode": "linear"}, [(1, 3, 3)]),
    ("Upsample", {"scale_factor": 0.2}, [(1, 4, 6)]),  # floor(4 * 0.2) = 0
    # Regression: the explanation rounded the factor (:g), so its formula gave 9 where the size is 8.
    ("Upsample", {"scale_factor": [2.9999999, 0.6666666666]}, [(1, 3, 3)]),
    ("Upsample", {"scale_factor": 0.5, "mode": "area", "align_corners": False}, [(1, 4, 4)]),
    ("Upsample", {"scale_factor": 0.6, "mode": "area"}, [(1, 5, 7)]),
    ("Upsample", {"scale_factor": 1.5, "mode": "bicubic", "recompute_scale_factor": True}, [(1, 3, 5)]),
    ("Upsample", {"size": 4, "mode": "bilinear", "recompute_scale_factor": True}, [(1, 3, 3)]),
    ("Upsample", {"size": 4, "mode": "bilinear", "recompute_scale_factor": False}, [(1, 3, 3)]),
    ("ZeroPad2d", {"padding": -1}, [(1, 3, 3)]),
    ("ZeroPad2d", {"padding": -2}, [(1, 3, 3)]),
    ("ZeroPad2d", {"padding": [-2, 3, 0, 0]}, [(1, 2, 2)]),  # crops all, then pads: torch allows it
    # Regression: torch crops the negative sides before padding: 4 - 2 fits a width of 1, the crop of 2 does not.
    ("ZeroPad2d", {"padding": [4, -2, 3, 1]}, [(3, 1, 1)]),
    ("PixelShuffle", {"upscale_factor": 2}, [(16, 3, 5)]),
    ("PixelShuffle", {"upscale_factor": 3}, [(9, 2, 2)]),
    ("PixelShuffle", {"upscale_factor": 2}, [(6, 3, 3)]),
]


@pytest.mark.parametrize(
    "type_name", [pytest.param(t, marks=pytest.mark.slow) if EXAMPLES.get(t, 0) >= 150 else t for t in STRATEGIES]
)
def test_layer_agrees_with_torch(type_name: str):
    run_property(type_name, STRATEGIES[type_name], EXAMPLES.get(type_name, 30), EDGES)
