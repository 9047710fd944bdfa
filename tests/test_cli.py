"""The command line: exit codes, one-line errors on stderr, JSON output."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from designer.cli import main

from .conftest import ROOT


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_validate_valid_file(capsys, example_file):
    code, out, err = run(capsys, "validate", str(example_file))
    assert code == 0 and err.count("\n") == 1 and "node fc: warning: Linear 'fc' holds" in err  # design advice
    assert "valid" in out and "54,410 parameters" in out


def test_validate_invalid_file_reports_one_line_per_problem(capsys, tmp_path, example_text):
    bad = example_text.replace('"kernel_size": 3}', '"kernel_size": 30}').replace('"out_features": 10', '"out": 10')
    path = tmp_path / "bad.json"
    path.write_text(bad, encoding="utf-8")
    code, out, err = run(capsys, "validate", str(path))
    assert code == 1 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith(f"{path}: node conv1: error: ")
    assert all(line.startswith(f"{path}: node ") for line in lines)
    assert all("(hint: " in line for line in lines)


def test_validate_json(capsys, tmp_path, example_text):
    path = tmp_path / "bad.json"
    path.write_text(example_text.replace('"kernel_size": 3}', '"kernel_size": 30}'), encoding="utf-8")
    code, out, _ = run(capsys, "validate", str(path), "--json")
    data = json.loads(out)
    assert code == 1 and data["valid"] is False
    assert data["diagnostics"][0]["code"] == "shape.collapse" and data["diagnostics"][0]["node"] == "conv1"


@pytest.mark.parametrize("content", [None, "{", '{"format": "cnn-designer/9", "nodes": []}', "\x00\xff"])
def test_unreadable_file_exits_2(capsys, tmp_path, content):
    path = tmp_path / "x.json"
    if content is not None:
        path.write_bytes(content.encode("latin-1"))
    for command in ("validate", "summary"):
        code, out, err = run(capsys, command, str(path))
        assert code == 2 and out == ""
        assert err.startswith(f"{path}: ") and len(err.strip().splitlines()) == 1


def test_summary_text_and_explain(capsys, example_file):
    code, out, _ = run(capsys, "summary", str(example_file), "--explain")
    assert code == 0
    assert "conv1 (Conv2d)" in out and "[1, 32, 26, 26]" in out and "216,320" in out
    assert "H_out = floor((28 + 2*0 - 1*(3-1) - 1) / 1) + 1 = 26" in out
    assert "params = in*out + out = 5408*10 + 10 = 54,090" in out
    assert "Total params: 54,410" in out


def test_summary_json_schema(capsys, example_file):
    code, out, _ = run(capsys, "summary", str(example_file), "--json", "--batch-size", "4")
    data = json.loads(out)
    assert code == 0
    assert {"nodes", "total_params", "trainable_params", "total_mult_adds"} <= data.keys()
    conv = data["nodes"][1]
    assert {"id", "type", "output_shape", "params", "trainable_params", "mult_adds", "receptive_field"} <= conv.keys()
    assert conv["output_shape"] == [32, 26, 26] and conv["receptive_field"] == [3, 3]
    assert data["total_mult_adds"] == 4 * 270_410


def test_summary_explains_every_row(capsys, example_file):
    _, out, _ = run(capsys, "summary", str(example_file), "--json")
    assert all(node["explain"] for node in json.loads(out)["nodes"])


def test_summary_of_invalid_design_still_prints_and_exits_1(capsys, tmp_path, example_text):
    path = tmp_path / "bad.json"
    path.write_text(example_text.replace('"kernel_size": 3}', '"kernel_size": 30}'), encoding="utf-8")
    code, out, err = run(capsys, "summary", str(path))
    assert code == 1 and "input (Input)" in out and "node conv1" in err


def test_module_entry_point_runs(example_file):
    proc = subprocess.run(
        [sys.executable, "-m", "designer", "validate", str(example_file)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
