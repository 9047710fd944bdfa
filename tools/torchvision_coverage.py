"""Import every classification model torchvision has, as a user would (``python -m designer import torchvision:NAME``),
and count what comes in: each import checks its outputs against the model's own, so a line that says "imported" is a
design that computes what torchvision computes. Each model runs in its own process (the largest hold 645 million
parameters); about 15 minutes on 2 cores.

Usage: python tools/torchvision_coverage.py [--only NAME ...] [--timeout S]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def try_import(name: str, out: Path, timeout: float) -> tuple[bool, str]:
    """(whether it imported, the command's last line: its summary, or the first refusal)."""
    cmd = [sys.executable, "-m", "designer", "import", f"torchvision:{name}", "-o", str(out / f"{name}.json")]
    try:
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return False, f"no answer within {timeout:.0f} s"
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if line.startswith(f"torchvision:{name}")]
    lines = lines or (proc.stdout + proc.stderr).strip().splitlines()[-1:]
    last = lines[-1].split(": ", 1)[-1] if lines else ""
    return proc.returncode == 0, last


def main() -> int:
    import torchvision

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", nargs="*", help="these models only")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per model")
    args = parser.parse_args()
    names = args.only or torchvision.models.list_models(module=torchvision.models)
    print(f"torchvision {torchvision.__version__}: {len(names)} classification models")
    refused: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            t0 = time.perf_counter()
            ok, last = try_import(name, Path(tmp), args.timeout)
            print(f"{name:22s} {'imported' if ok else 'REFUSED ':8s} {time.perf_counter() - t0:5.1f} s  {last[:110]}")
            if not ok:
                refused.append(name)
    print(f"{len(names) - len(refused)} of {len(names)} import with the model's outputs; refused: {', '.join(refused)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
