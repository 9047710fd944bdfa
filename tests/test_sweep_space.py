"""The search space in the project file: read, checked corner by corner against the validator, applied to a design."""

from __future__ import annotations

import json

import pytest

from designer import analyze, dumps, load, loads
from designer.cli import main
from designer.sweep.check import MAX_CORNERS, check_space, corners
from designer.sweep.space import apply, read_space
from designer.training.config import read_section
from tests.helpers import chain


def design(search: dict | None = None, shape=(1, 12, 12)):
    g = chain(
        list(shape),
        ("Conv2d", {"out_channels": 4, "kernel_size": 3}),
        ("ReLU", {}),
        ("Dropout", {"p": 0.5}),
        ("MaxPool2d", {"kernel_size": 2}),
        ("Flatten", {}),
        ("Linear", {"out_features": 10}),
        name="tiny",
    )
    g.extra["training"] = {"epochs": 1, "samples": 64, "lr": 0.01}
    if search is not None:
        g.extra["search"] = search
    return g


def codes(diags):
    return [(d.code, d.node_id) for d in diags]


def test_a_well_formed_space_reads_every_kind_and_resolves_node_ids_with_dots():
    g = design(
        {
            "n1.out_channels": {"int": [2, 16], "log": True},
            "n3.p": {"float": [0.1, 0.6]},
            "lr": {"float": [1e-4, 0.1], "log": True},
            "optimizer": {"choice": ["sgd", "adam"]},
        }
    )
    problems: list = []
    space = read_space(g, problems)
    assert problems == []
    assert [(d.key, d.kind, d.node_id, d.param) for d in space.dimensions] == [
        ("n1.out_channels", "int", "n1", "out_channels"),
        ("n3.p", "float", "n3", "p"),
        ("lr", "float", None, "lr"),
        ("optimizer", "choice", None, "optimizer"),
    ]
    assert space.dimensions[0].extremes() == (2, 16)
    assert space.dimensions[3].extremes() == ("sgd", "adam")
    assert check_space(g) == []


def test_a_node_id_with_dots_is_split_at_the_last_dot():
    g = loads(dumps(design()).replace('"n1"', '"layer1.0.conv"'))
    g.extra["search"] = {"layer1.0.conv.kernel_size": {"choice": [1, 3]}}
    (dim,) = read_space(g, []).dimensions
    assert (dim.node_id, dim.param) == ("layer1.0.conv", "kernel_size")


@pytest.mark.parametrize(
    ("entry", "code", "node"),
    [
        ({"nope.out_channels": {"int": [1, 2]}}, "search.unknown_node", None),
        ({"n1.bogus": {"int": [1, 2]}}, "search.unknown_param", "n1"),
        ({"learning_rate": {"float": [0.1, 0.2]}}, "search.unknown_setting", None),
        ({"n1.out_channels": {"int": [8, 2]}}, "search.bad_range", "n1"),
        ({"n1.out_channels": {"int": [2.5, 8]}}, "search.bad_range", "n1"),
        ({"lr": {"float": [0.0, 0.1], "log": True}}, "search.bad_range", None),
        ({"lr": {"float": [0.1, 0.2], "choice": [1]}}, "search.bad_range", None),
        ({"optimizer": {"choice": []}}, "search.bad_range", None),
        ({"lr": [0.1, 0.2]}, "search.bad_range", None),
    ],
)
def test_a_malformed_entry_is_a_diagnostic_naming_its_node(entry, code, node):
    assert codes(check_space(design(entry))) == [(code, node)]


def test_a_kernel_that_does_not_fit_the_map_is_named_at_the_corner_that_breaks_before_any_trial():
    # 12x12 input: a 13x13 kernel leaves no output; 3..13 is fine at 3, broken at 13.
    g = design({"n1.kernel_size": {"int": [3, 13]}, "lr": {"float": [0.001, 0.1]}})
    (d,) = check_space(g)
    assert (d.code, d.node_id) == ("search.corner_invalid", "n1")
    assert "n1.kernel_size=13" in d.message
    # the same design with that kernel, checked by the validator itself, fails on the same node
    trial, _ = apply(g, {"n1.kernel_size": 13})
    assert "n1" in {e.node_id for e in analyze(trial).errors}


def test_every_choice_is_checked_and_the_node_where_the_shape_breaks_is_named():
    # the 10x10 map of the 3x3 convolution takes pools of 2 and 3; a pool of 20 leaves nothing.
    g = design({"n4.kernel_size": {"choice": [2, 3, 20]}})
    found = check_space(g)
    assert codes(found) == [("search.corner_invalid", "n4")]
    assert "n4.kernel_size=20" in found[0].message


def test_combinations_of_extremes_are_checked_when_each_alone_fits():
    # 12x12 input: kernel 11 leaves a 2x2 map, which pool 2 takes to 1x1; pool 4 takes the 10x10 map of kernel 3
    # to 2x2; kernel 11 with pool 4 leaves nothing: only the combination breaks, at the pool.
    g = design({"n1.kernel_size": {"int": [3, 11]}, "n4.kernel_size": {"int": [2, 4]}})
    found = check_space(g)
    assert codes(found) == [("search.corner_invalid", "n4")]
    assert "n1.kernel_size=11, n4.kernel_size=4" in found[0].message


def test_many_dimensions_check_the_all_low_and_all_high_corners_instead_of_every_combination():
    search = {f"n{i}.{p}": {"choice": v} for i, p, v in [(1, "out_channels", [2, 3, 4, 5, 6, 7, 8, 9, 10])]}
    search.update({"n3.p": {"float": [0.0, 0.5]}, "n4.kernel_size": {"choice": [1, 2, 3, 4, 5, 6, 7, 8]}})
    space = read_space(design(search), [])
    joint = [c for c in corners(space) if len(c) > 1]
    assert 9 * 2 * 8 > MAX_CORNERS and len(joint) == 2
    assert joint[1] == {"n1.out_channels": 10, "n3.p": 0.5, "n4.kernel_size": 8}


def test_a_training_setting_outside_what_the_trainer_takes_is_named():
    found = check_space(design({"momentum": {"float": [-0.5, 0.9]}, "optimizer": {"choice": ["sgd", "lbfgs"]}}))
    assert codes(found) == [("search.bad_setting", None)] * 2
    assert "momentum=-0.5" in found[0].message and "optimizer='lbfgs'" in found[1].message


def test_the_base_designs_own_errors_are_not_blamed_on_the_space():
    g = design({"n6.out_features": {"int": [2, 10]}})
    g.set_param("n1", "kernel_size", 30)
    assert check_space(g) == []  # the validator reports the base design's error itself


def test_apply_gives_an_ordinary_project_with_the_trials_values():
    g = design({"n1.out_channels": {"int": [2, 16]}, "lr": {"float": [1e-4, 0.1]}})
    trial, config = apply(g, {"n1.out_channels": 7, "lr": 0.05})
    assert trial["n1"].params["out_channels"] == 7 and g["n1"].params["out_channels"] == 4
    assert "search" not in trial.extra and "search" in g.extra
    assert config.lr == 0.05 and read_section(loads(dumps(trial))) == config
    assert config.epochs == 1 and config.samples == 64  # the file's other settings are kept


def test_cli_check_names_the_breaking_corner_and_exits_1(tmp_path, capsys):
    path = tmp_path / "d.json"
    path.write_text(dumps(design({"n1.kernel_size": {"int": [3, 13]}})))
    assert main(["sweep", str(path), "--check"]) == 1
    err = capsys.readouterr().err
    assert "node n1: error:" in err and "n1.kernel_size=13" in err and "Traceback" not in err


def test_cli_without_a_search_section_says_what_to_add(tmp_path, capsys):
    path = tmp_path / "d.json"
    path.write_text(dumps(design()))
    assert main(["sweep", str(path), "--check"]) == 1
    assert "no 'search' section" in capsys.readouterr().err
    assert json.loads(path.read_text())["name"] == "tiny" and load(path).name == "tiny"
