"""A faster forward for inference-only passes over many samples (evaluation): onnxruntime on the exported model where
it measures faster than torch on this machine, torch otherwise.

The choice is made per use, by measurement (issue 15, point 7: onnxruntime ran ResNet-50 in 0.44x torch eager's
time here, torch.compile made small_cnn's evaluation faster but costs seconds to compile). Torch runs the first batch.
When the whole pass would take less than ``EXPORT_WORTH_S`` it stays with torch, since an export costs seconds;
otherwise the model is exported to ONNX once, onnxruntime runs the same batch, and the faster of the two runs the
rest, provided both give the same scores. Passes that need gradients (Grad-CAM, saliency) or inner values (the
embedding), CUDA models and designs whose scores are not their first output stay on torch.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..model.graph import Graph
from .probe import Probe, device_of, scores_of

#: A pass expected to take less than this on torch is not worth an export (seconds: ResNet-18 exports in ~5 s).
EXPORT_WORTH_S = 10.0
#: onnxruntime must agree with torch on the first batch this closely (relative to the scores' scale) to be used.
AGREEMENT = 1e-3
TORCH, ONNXRUNTIME = "torch", "onnxruntime"


@dataclass
class Choice:
    """Which runtime a pass used and why, with the first batch's measured seconds per batch (None: not measured)."""

    runtime: str = TORCH
    torch_s: float | None = None
    onnxruntime_s: float | None = None
    export_s: float | None = None
    reason: str = "not measured yet"


class FastScores:
    """The class scores of ``probe``'s module for each batch, on the runtime that measured faster for this pass.

    Args:
        probe: the module to run (through ``scores_of``, as every insight view does).
        graph: its design, needed to export it; None keeps torch.
        samples: how many samples the pass will run (None: unknown, which keeps torch).
        worth_s: the expected torch time above which an export is tried (default ``EXPORT_WORTH_S``).
        prefer: ``onnxruntime`` exports and keeps it whenever it agrees with torch, however short the pass and
            whichever is faster (benches, tests); None: the faster, for a pass worth an export.
    """

    def __init__(
        self,
        probe: Probe,
        graph: Graph | None,
        samples: int | None,
        worth_s: float | None = None,
        prefer: str | None = None,
    ):
        self.probe, self.graph, self.samples = probe, graph, samples
        self.worth_s = EXPORT_WORTH_S if worth_s is None else worth_s
        self.prefer = prefer
        self.choice = Choice()
        self._session: Any = None

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.choice.torch_s is not None:  # decided on the first batch
            return self._onnxruntime(x) if self._session is not None else self._torch(x)
        start = time.perf_counter()
        scores = self._torch(x)
        self.choice.torch_s = time.perf_counter() - start
        reason = self._torch_only_reason(len(x))
        if reason:
            self.choice.reason = reason
            return scores
        self._try_onnxruntime(x, scores)
        return scores

    def _torch(self, x: torch.Tensor) -> torch.Tensor:
        return scores_of(self.probe, x)[0]

    def _torch_only_reason(self, batch: int) -> str | None:
        """Why this pass stays on torch, or None when onnxruntime is worth measuring."""
        expected = (self.choice.torch_s or 0.0) * (self.samples or 0) / max(1, batch)
        if self.graph is None or self.samples is None:
            return "no design to export or no sample count"
        if len(self.graph.input_ids()) != 1:
            return "the design has several inputs"
        if device_of(self.probe.module).type != "cpu":
            return f"the model runs on {device_of(self.probe.module).type} (onnxruntime here runs on the CPU)"
        score_id = self.probe.score_id()
        if score_id is None or score_id not in self.graph.output_ids()[:1]:
            return "the scores are not the design's first output (a final Softmax, or several outputs)"
        if expected < self.worth_s and self.prefer != ONNXRUNTIME:
            return f"the pass takes ~{expected:.1f} s on torch, less than an export ({self.worth_s:.0f} s)"
        return None

    def _try_onnxruntime(self, x: torch.Tensor, scores: torch.Tensor) -> None:
        import onnxruntime as ort

        from ..export.onnx_model import export_onnx

        assert self.graph is not None
        start = time.perf_counter()
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "model.onnx"
            try:
                export_onnx(self.graph, path, module=self.probe.module, verify=False)
            except Exception as exc:
                self.choice.reason = f"the export failed ({type(exc).__name__}); torch runs the pass"
                return
            options = ort.SessionOptions()
            options.intra_op_num_threads = torch.get_num_threads()  # the threads torch was given, for a fair race
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.choice.export_s = time.perf_counter() - start
        self._session = session
        start = time.perf_counter()
        fast = self._onnxruntime(x)
        self.choice.onnxruntime_s = time.perf_counter() - start
        scale = max(1.0, float(scores.abs().max()))
        if not np.allclose(fast.numpy(), scores.float().numpy(), rtol=AGREEMENT, atol=AGREEMENT * scale):
            self._session = None
            self.choice.reason = "onnxruntime's scores differ from torch's; torch runs the pass"
        elif self.prefer != ONNXRUNTIME and self.choice.onnxruntime_s >= (self.choice.torch_s or 0.0):
            self._session = None
            self.choice.reason = "torch measured as fast as onnxruntime on the first batch"
        else:
            self.choice.runtime = ONNXRUNTIME
            self.choice.reason = (
                f"onnxruntime measured {self.choice.onnxruntime_s / (self.choice.torch_s or 1):.2f}x torch's time "
                "on the first batch" + (" (preferred)" if self.prefer == ONNXRUNTIME else "")
            )

    def _onnxruntime(self, x: torch.Tensor) -> torch.Tensor:
        feed = {self._session.get_inputs()[0].name: x.detach().cpu().float().numpy()}
        return torch.from_numpy(self._session.run(None, feed)[0])
