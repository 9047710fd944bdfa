"""Inference at the limit of this machine: the same weights run by torch eager, torch.compile and onnxruntime.

For each template the design is compiled once, exported to ONNX (designer.export, checked against onnxruntime on
export), and timed at batch 1 on one thread, interleaving the runtimes so that the machine's load hits each alike.
Prints the median time per image and each runtime's ratio against torch eager in the same process (the baseline).
The issue's figure: onnxruntime runs ResNet-50 in 0.44x the time of torch eager.

Then, per model, the evaluation's fast path (``designer.insight.fast``): ``evaluate`` over ``--eval-samples``
samples on torch eager against the same pass left to choose its runtime by measurement (export included), with
the runtime it chose and why.

    .venv/bin/python bench/bench_inference.py [--only small_cnn resnet18 resnet50] [--repeats 20] [--no-compile]
        [--eval-samples 256]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import onnxruntime as ort
import torch

from designer.compiler import compile_graph
from designer.editing.templates import load_template
from designer.export import export

Runner = Callable[[], object]


def runners(name: str, folder: Path, use_compile: bool) -> dict[str, Runner]:
    """One zero-argument call per runtime, each computing the template's output for the same image."""
    graph = load_template(name)
    model = compile_graph(graph, seed=0).eval()
    shape = tuple(graph[graph.input_ids()[0]].params["shape"])
    x = torch.randn(1, *shape, generator=torch.Generator().manual_seed(0))
    onnx_path = folder / f"{name}.onnx"
    export(graph, onnx_path, "onnx", state_dict=model.state_dict())
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    feed = {session.get_inputs()[0].name: x.numpy()}

    def eager() -> object:
        with torch.inference_mode():
            return model(x)

    out: dict[str, Runner] = {"torch eager": eager, "onnxruntime": lambda: session.run(None, feed)}
    expected = eager()
    got = session.run(None, feed)[0]
    np.testing.assert_allclose(got, expected.numpy(), rtol=1e-3, atol=1e-4)  # the same model, or the times mean nothing
    if use_compile:
        compiled = torch.compile(model)

        def compiled_call() -> object:
            with torch.inference_mode():
                return compiled(x)

        out["torch.compile"] = compiled_call
    return out


def time_interleaved(calls: dict[str, Runner], repeats: int) -> dict[str, float]:
    """Median seconds per call of each runner, after two warm-up calls (torch.compile compiles in its first)."""
    for call in calls.values():
        call()
        call()
    times: dict[str, list[float]] = {name: [] for name in calls}
    for i in range(repeats):
        order = list(calls) if i % 2 == 0 else list(reversed(calls))
        for name in order:
            t0 = time.perf_counter()
            calls[name]()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}


def evaluation_line(name: str, samples: int) -> str:
    """``evaluate`` over ``samples`` random images: torch eager against the measured choice (export included)."""
    from designer.insight.evaluate import evaluate

    graph = load_template(name)
    model = compile_graph(graph, seed=0).eval()
    shape = tuple(graph[graph.input_ids()[0]].params["shape"])
    g = torch.Generator().manual_seed(0)
    data = [(torch.randn(32, *shape, generator=g), torch.zeros(32, dtype=torch.long)) for _ in range(samples // 32)]
    t0 = time.perf_counter()
    evaluate(model, iter(data), graph=graph)  # no sample count: torch eager
    eager = time.perf_counter() - t0
    t0 = time.perf_counter()
    ev = evaluate(model, iter(data), graph=graph, samples=32 * len(data))
    fast = time.perf_counter() - t0
    c = ev.runtime
    export = f", export {c.export_s:.1f} s" if c.export_s is not None else ""
    return (
        f"{name:14s} evaluate {32 * len(data)} samples: torch {eager:.2f} s, fast path {fast:.2f} s "
        f"({fast / eager:.2f}x) on {c.runtime}{export}: {c.reason}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=["small_cnn", "resnet18", "resnet50"])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--no-compile", action="store_true", help="leave torch.compile out (it compiles slowly)")
    parser.add_argument("--eval-samples", type=int, default=256, help="samples of the evaluation line (256)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, onnxruntime {ort.__version__}; batch 1, one thread; median of {args.repeats}")
    with tempfile.TemporaryDirectory() as folder:
        for name in args.only:
            medians = time_interleaved(runners(name, Path(folder), not args.no_compile), args.repeats)
            base = medians["torch eager"]
            cells = [f"{rt} {1000 * t:8.2f} ms ({t / base:.2f}x)" for rt, t in medians.items()]
            print(f"{name:14s} " + " | ".join(cells))
    print(f"evaluation: batches of 32, {torch.get_num_threads()} thread(s) for both runtimes")
    for name in args.only:
        print(evaluation_line(name, args.eval_samples))
    return 0


if __name__ == "__main__":
    sys.exit(main())
