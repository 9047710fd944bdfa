"""Designer checkpoints: weights saved with their design, reopened safely, and checked against a design."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest
import torch

from designer import dumps
from designer.compiler import compile_graph
from designer.export.checkpoint import (
    CHECKPOINT_FORMAT,
    CheckpointError,
    WeightsMismatchError,
    is_checkpoint_file,
    load_checkpoint,
    load_model,
    load_weights,
    read_checkpoint,
    save_checkpoint,
    weight_problems,
)
from designer.model.fileformat import ProjectError
from tests.helpers import chain, graph


def small_graph():
    g = chain(
        [3, 8, 8],
        ("Conv2d", {"out_channels": 4, "kernel_size": 3}),
        ("BatchNorm2d", {}),
        ("ReLU", {}),
        ("Flatten", {}),
        ("Linear", {"out_features": 5}),
        name="small",
    )
    g.extra["description"] = "a small design"
    return g


def test_round_trip_reopens_the_design_and_its_weights(tmp_path):
    g = small_graph()
    model = compile_graph(g, seed=1)
    model.n2.running_mean += 1.5  # buffers are part of the checkpoint too
    save_checkpoint(tmp_path / "c.pt", g, model, extra={"epoch": 3, "metrics": {"acc": 0.5}})
    assert is_checkpoint_file(tmp_path / "c.pt")
    graph2, state = load_checkpoint(tmp_path / "c.pt")
    assert dumps(graph2) == dumps(g)
    assert list(state) == list(model.state_dict())
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    assert read_checkpoint(tmp_path / "c.pt").extra == {"epoch": 3, "metrics": {"acc": 0.5}}
    reopened = load_model(tmp_path / "c.pt").eval()
    x = torch.randn(2, 3, 8, 8)
    assert torch.equal(reopened(x), model.eval()(x))


def test_checkpoint_is_a_plain_torch_archive(tmp_path):
    g = small_graph()
    save_checkpoint(tmp_path / "c.pt", g, compile_graph(g).state_dict())
    data = torch.load(tmp_path / "c.pt", weights_only=True)
    assert data["format"] == CHECKPOINT_FORMAT and data["design"] == dumps(g)
    assert set(data["state_dict"]) == {
        "n1.weight",
        "n1.bias",
        "n2.weight",
        "n2.bias",
        "n2.running_mean",
        "n2.running_var",
        "n2.num_batches_tracked",
        "n5.weight",
        "n5.bias",
    }


def _mark(path: str) -> None:
    Path(path).write_text("code ran")


class _Payload:
    """Unpickling this would run ``_mark``: the attack a weights-only load must refuse."""

    def __init__(self, path: Path):
        self.path = str(path)

    def __reduce__(self):
        return _mark, (self.path,)


def test_checkpoint_with_code_is_refused_without_running_it(tmp_path):
    flag = tmp_path / "flag"
    torch.save({"format": CHECKPOINT_FORMAT, "state_dict": {}, "design": "", "x": _Payload(flag)}, tmp_path / "a.pt")
    torch.save({"x": os.system}, tmp_path / "b.pt")
    with pytest.raises(CheckpointError, match="refused to open.*_mark"):
        read_checkpoint(tmp_path / "a.pt")
    assert not flag.exists()
    with pytest.raises(CheckpointError, match="refused to open.*system"):
        load_checkpoint(tmp_path / "b.pt")


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "not a PyTorch checkpoint"),
        (b'{"format": "cnn-designer/2"}', "not a PyTorch checkpoint"),
    ],
)
def test_files_that_are_not_checkpoints(tmp_path, content, message):
    (tmp_path / "x.pt").write_bytes(content)
    with pytest.raises(CheckpointError, match=message):
        read_checkpoint(tmp_path / "x.pt")
    assert not is_checkpoint_file(tmp_path / "x.pt")


def test_unreadable_checkpoints_are_project_errors(tmp_path):
    with pytest.raises(ProjectError, match="cannot read"):
        read_checkpoint(tmp_path / "missing.pt")
    with zipfile.ZipFile(tmp_path / "zip.pt", "w") as z:
        z.writestr("a.txt", "x")
    with pytest.raises(CheckpointError, match="not a PyTorch checkpoint"):
        read_checkpoint(tmp_path / "zip.pt")
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(CheckpointError, match="not a checkpoint"):
        read_checkpoint(tmp_path / "list.pt")


def test_newer_or_damaged_checkpoint_format(tmp_path):
    torch.save({"format": "cnn-designer-checkpoint/9", "design": "", "state_dict": {}}, tmp_path / "new.pt")
    with pytest.raises(CheckpointError, match="newer"):
        read_checkpoint(tmp_path / "new.pt")
    torch.save({"format": CHECKPOINT_FORMAT, "design": "{", "state_dict": {}}, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match="design inside the checkpoint"):
        read_checkpoint(tmp_path / "bad.pt")
    torch.save({"format": CHECKPOINT_FORMAT, "design": dumps(small_graph())}, tmp_path / "nodict.pt")
    with pytest.raises(CheckpointError, match="damaged"):
        read_checkpoint(tmp_path / "nodict.pt")


def test_bare_state_dict_is_weights_without_design(tmp_path):
    g = small_graph()
    model = compile_graph(g, seed=2)
    torch.save(model.state_dict(), tmp_path / "sd.pt")
    ckpt = read_checkpoint(tmp_path / "sd.pt")
    assert ckpt.graph is None and set(ckpt.state_dict) == set(model.state_dict())
    with pytest.raises(CheckpointError, match="no design"):
        load_checkpoint(tmp_path / "sd.pt")
    torch.save({"state_dict": model.state_dict(), "epoch": 4}, tmp_path / "wrapped.pt")
    assert read_checkpoint(tmp_path / "wrapped.pt").extra == {"epoch": 4}
    other = compile_graph(g, seed=9)
    load_weights(other, ckpt.state_dict, g)
    assert torch.equal(other.n1.weight, model.n1.weight)


def test_weights_from_another_design_name_nodes_and_keys():
    g = small_graph()
    other = graph(
        ("x", "Input", {"shape": [3, 8, 8]}, []),
        ("n1", "Conv2d", {"out_channels": 6, "kernel_size": 3}, ["x"]),
        ("flat", "Flatten", {}, ["n1"]),
        ("extra.fc", "Linear", {"out_features": 2}, ["flat"]),
    )
    model = compile_graph(g)
    before = model.n1.weight.clone()
    state = compile_graph(other).state_dict()
    problems = weight_problems(model, state, g)
    assert {(d.code, d.node_id) for d in problems} == {
        ("weights.shape", "n1"),
        ("weights.missing", "n2"),
        ("weights.missing", "n5"),
        ("weights.unexpected", None),
    }
    shape = next(d for d in problems if d.code == "weights.shape" and "weight" in d.message)
    assert "n1.weight" in shape.message and "[6, 3, 3, 3]" in shape.message and "[4, 3, 3, 3]" in shape.message
    assert any("extra.fc.weight" in d.message for d in problems)
    with pytest.raises(WeightsMismatchError) as info:
        load_weights(model, state, g)
    assert info.value.diagnostics == problems
    assert torch.equal(model.n1.weight, before)  # nothing was loaded


def test_save_is_atomic(tmp_path, monkeypatch):
    g = small_graph()
    target = tmp_path / "c.pt"
    target.write_bytes(b"old")

    def broken_save(obj, f, *args, **kwargs):
        f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError):
        save_checkpoint(target, g, compile_graph(g))
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]
