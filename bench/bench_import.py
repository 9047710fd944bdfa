"""ONNX import speed: DenseNet-121 (torchvision, weights=None) exported by both of torch's exporters, then imported.

The issue's bound: importing a DenseNet-121 takes under 20 s on this machine. The baseline is what torch itself needs
to write the same file (``torch.onnx.export``), measured in the same run; the ratio is import time / export time.
The import includes onnxruntime's constant folding, the mapping, compiling the design and the onnxruntime parity check.
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from designer.importers import import_source

BOUND_S = 20.0


def main() -> None:
    import onnxruntime
    import torch
    import torchvision

    warnings.filterwarnings("ignore")
    print(
        f"# python {platform.python_version()}, torch {torch.__version__}, onnxruntime {onnxruntime.__version__}, "
        f"{os.cpu_count()} CPUs, {platform.machine()}, load average {os.getloadavg()[0]:.1f}"
    )
    model = torchvision.models.densenet121(weights=None).eval()
    x = torch.randn(1, 3, 224, 224)
    with tempfile.TemporaryDirectory() as tmp:
        for exporter in ("torchscript", "dynamo"):
            path = Path(tmp) / f"densenet121_{exporter}.onnx"
            t0 = time.perf_counter()
            if exporter == "dynamo":
                batch = {"dynamic_shapes": ({0: torch.export.Dim("N")},)}
                torch.onnx.export(model, (x,), str(path), dynamo=True, external_data=False, verbose=False, **batch)
            else:
                axes = {"x": {0: "N"}}
                torch.onnx.export(model, (x,), str(path), dynamo=False, input_names=["x"], dynamic_axes=axes)
            export_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            result = import_source(f"onnx:{path}")
            import_s = time.perf_counter() - t0
            verdict = "OK" if import_s < BOUND_S else "OVER"
            print(
                f"densenet121 ({exporter}): {len(result.graph)} nodes; import {import_s:.1f} s "
                f"(bound {BOUND_S:.0f} s: {verdict}); torch.onnx.export {export_s:.1f} s; "
                f"ratio import / export {import_s / export_s:.2f}"
            )


if __name__ == "__main__":
    main()
