"""The evaluation's fast path: onnxruntime where it measures faster, torch where an export does not pay, the same
confusion either way (a differential test against torch eager)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from designer.compiler import compile_graph
from designer.insight.evaluate import evaluate
from designer.insight.fast import ONNXRUNTIME, TORCH, FastScores
from designer.insight.probe import Probe, prepared
from tests.helpers import chain


def design(softmax: bool = False):
    layers = [
        ("Conv2d", {"out_channels": 8, "kernel_size": 3, "padding": 1}),
        ("ReLU", {}),
        ("MaxPool2d", {"kernel_size": 2}),
        ("Flatten", {}),
        ("Linear", {"out_features": 5}),
    ]
    return chain([3, 16, 16], *layers, *([("Softmax", {})] if softmax else []), name="fast")


def batches(n: int = 96, size: int = 32):
    g = torch.Generator().manual_seed(1)
    for start in range(0, n, size):
        yield (
            torch.randn(size, 3, 16, 16, generator=g),
            torch.randint(0, 5, (size,), generator=g),
            torch.arange(start, start + size),
        )


def test_a_long_pass_runs_on_onnxruntime_with_the_same_confusion_and_mistakes_as_torch(monkeypatch):
    g = design()
    model = compile_graph(g, seed=0)
    eager = evaluate(model, batches(), 5, graph=g)  # no sample count: torch, nothing exported
    assert eager.runtime.runtime == TORCH and eager.runtime.export_s is None
    fast = evaluate(model, batches(), 5, graph=g, samples=96, prefer=ONNXRUNTIME)
    assert fast.runtime.runtime == ONNXRUNTIME and "(preferred)" in fast.runtime.reason
    np.testing.assert_array_equal(fast.confusion, eager.confusion)
    assert [(m.index, m.predicted) for m in fast.mistakes] == [(m.index, m.predicted) for m in eager.mistakes]
    assert [m.confidence for m in fast.mistakes] == pytest.approx([m.confidence for m in eager.mistakes], rel=1e-4)
    # chosen by measurement: any pass is worth an export here, and the faster runtime runs the rest
    monkeypatch.setattr("designer.insight.fast.EXPORT_WORTH_S", 0.0)
    probe = Probe(model, g)
    chooser = FastScores(probe, g, samples=96)
    with prepared(model), torch.no_grad():
        xs = [x for x, _, _ in batches()]
        got = [chooser(x) for x in xs]
        want = [probe.module(x) for x in xs]
    c = chooser.choice
    assert c.export_s is not None and c.onnxruntime_s is not None and c.torch_s is not None
    assert (c.runtime == ONNXRUNTIME) == (c.onnxruntime_s < c.torch_s)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    ("softmax", "samples", "reason"),
    [
        (False, 96, "less than an export"),
        (True, 10**9, "not the design's first output"),
        (False, None, "no sample count"),
    ],
)
def test_what_stays_on_torch_says_why_without_exporting(softmax, samples, reason):
    g = design(softmax)
    model = compile_graph(g, seed=0)
    ev = evaluate(model, batches(), 5, graph=g, samples=samples)
    assert ev.runtime.runtime == TORCH and reason in ev.runtime.reason and ev.runtime.export_s is None
