"""The validator finds, locates and explains each kind of mistake; tests match on code and node, not wording."""

from __future__ import annotations

import pytest

from designer import analyze, validate
from designer.layers.registry import list_specs
from designer.model.diagnostics import Severity

from .helpers import chain, graph


def codes(g):
    return [(d.code, d.node_id) for d in validate(g)]


def errors(g):
    return [(d.code, d.node_id) for d in validate(g) if d.severity is Severity.ERROR]


def test_unknown_type_suggests_the_close_name():
    g = chain([3, 8, 8], ("Conv2D", {"out_channels": 4, "kernel_size": 3}))
    [d] = [d for d in validate(g) if d.is_error]
    assert (d.code, d.node_id) == ("node.unknown_type", "n1")
    assert "Conv2d" in d.hint


def test_unknown_parameter_suggests_the_close_name():
    g = chain([3, 8, 8], ("Conv2d", {"out_channels": 4, "kernel": 3}))
    diags = [d for d in validate(g) if d.is_error]
    assert [(d.code, d.node_id) for d in diags] == [("param.unknown", "n1"), ("param.missing", "n1")]
    assert "kernel_size" in diags[0].hint


@pytest.mark.parametrize(
    "params, code",
    [
        ({"out_channels": "4", "kernel_size": 3}, "param.type"),
        ({"out_channels": 4, "kernel_size": [3, 3, 3]}, "param.type"),
        ({"out_channels": 4, "kernel_size": 3, "bias": 1}, "param.type"),
        ({"out_channels": 0, "kernel_size": 3}, "param.range"),
        ({"out_channels": 10**30, "kernel_size": 3}, "param.range"),
        ({"out_channels": 4, "kernel_size": 3, "padding": -1}, "param.range"),
        ({"out_channels": 4, "kernel_size": 3, "padding": "full"}, "param.type"),
        ({"out_channels": 4, "kernel_size": 3, "padding_mode": "mirror"}, "param.type"),
    ],
)
def test_wrong_parameter_type_or_range(params, code):
    assert errors(chain([3, 8, 8], ("Conv2d", params))) == [(code, "n1")]


def test_dropout_probability_range():
    assert errors(chain([4], ("Dropout", {"p": 1.5}))) == [("param.range", "n1")]


def test_missing_and_extra_inputs():
    g = graph(
        ("x", "Input", {"shape": [4]}, []),
        ("a", "ReLU", {}, []),
        ("b", "ReLU", {}, ["x", "x"]),
        ("c", "Add", {}, ["x"]),
        ("y", "Input", {"shape": [4]}, ["x"]),
    )
    assert set(errors(g)) == {
        ("graph.missing_input", "a"),
        ("graph.extra_input", "b"),
        ("graph.missing_input", "c"),
        ("graph.extra_input", "y"),
    }


def test_unknown_input_reference():
    g = graph(("x", "Input", {"shape": [4]}, []), ("a", "ReLU", {}, ["nope"]))
    assert errors(g) == [("graph.unknown_input", "a")]


def test_dangling_node_and_unused_output_are_warnings():
    g = graph(
        ("x", "Input", {"shape": [4]}, []),
        ("a", "ReLU", {}, ["x"]),
        ("b", "Tanh", {}, ["x"]),
        ("lonely", "Sigmoid", {}, []),
        outputs=["a"],
    )
    diags = {(d.code, d.node_id): d.severity for d in validate(g)}
    assert diags[("graph.unused_output", "b")] is Severity.WARNING
    assert ("graph.missing_input", "lonely") in diags


def test_unconnected_input_is_dangling():
    g = graph(("x", "Input", {"shape": [4]}, []), ("z", "Input", {"shape": [4]}, []), ("a", "ReLU", {}, ["x"]))
    assert ("graph.dangling", "z") in codes(g)


def test_cycle_is_named_with_its_path():
    g = graph(
        ("x", "Input", {"shape": [4]}, []),
        ("a", "Add", {}, ["x", "c"]),
        ("b", "ReLU", {}, ["a"]),
        ("c", "ReLU", {}, ["b"]),
        ("d", "ReLU", {}, ["c"]),
    )
    diags = [d for d in validate(g) if d.code == "graph.cycle"]
    assert {d.node_id for d in diags} == {"a", "b", "c", "d"}
    on_cycle = next(d for d in diags if d.node_id == "a")
    assert (
        "a -> b -> c -> a" in on_cycle.message
        or "b -> c -> a -> b" in on_cycle.message
        or "c -> a -> b -> c" in on_cycle.message
    )


def test_self_loop():
    g = graph(("x", "Input", {"shape": [4]}, []), ("a", "Add", {}, ["x", "a"]))
    assert ("graph.cycle", "a") in errors(g)


def test_spatial_collapse_says_where_and_by_how_much():
    # 28 -> 14 -> 7 -> 3 -> 1, then a 3x3 kernel on a 1x1 map
    g = chain([1, 28, 28], *[("MaxPool2d", {"kernel_size": 2})] * 4, ("Conv2d", {"out_channels": 8, "kernel_size": 3}))
    [d] = [d for d in validate(g) if d.is_error]
    assert (d.code, d.node_id) == ("shape.collapse", "n5")
    assert "would be -1" in d.message and "2 short" in d.message
    assert "padding=1" in d.hint


def test_collapse_in_pooling():
    g = chain([1, 5, 5], ("MaxPool2d", {"kernel_size": 7, "stride": 1}))
    [d] = [d for d in validate(g) if d.is_error]
    assert (d.code, d.node_id) == ("shape.collapse", "n1")
    assert "-1" in d.message and "2 short" in d.message


def test_channel_mismatch_in_add_names_both_branches():
    g = graph(
        ("x", "Input", {"shape": [64, 8, 8]}, []),
        ("conv", "Conv2d", {"out_channels": 128, "kernel_size": 3, "padding": 1}, ["x"]),
        ("add", "Add", {}, ["conv", "x"]),
    )
    [d] = [d for d in validate(g) if d.is_error]
    assert (d.code, d.node_id, d.port) == ("shape.channels_mismatch", "add", 1)
    assert "'conv' gives 128" in d.message and "'x' gives 64" in d.message
    assert "1x1 Conv2d" in d.hint


def test_add_broadcasts_like_torch():
    g = graph(
        ("x", "Input", {"shape": [16, 8, 8]}, []),
        ("pool", "AdaptiveAvgPool2d", {"output_size": 1}, ["x"]),
        ("mul", "Mul", {}, ["x", "pool"]),
    )
    analysis = analyze(g)
    assert analysis.ok and analysis.shape("mul") == (16, 8, 8)


def test_spatial_mismatch_in_concat():
    g = graph(
        ("x", "Input", {"shape": [8, 16, 16]}, []),
        ("a", "Conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1}, ["x"]),
        ("b", "Conv2d", {"out_channels": 4, "kernel_size": 3}, ["x"]),
        ("cat", "Concat", {}, ["a", "b"]),
    )
    [d] = [d for d in validate(g) if d.is_error]
    assert (d.code, d.node_id, d.port) == ("shape.concat_mismatch", "cat", 1)
    assert "16 vs 14" in d.message


def test_concat_sums_channels():
    g = graph(
        ("x", "Input", {"shape": [8, 16, 16]}, []),
        ("a", "Conv2d", {"out_channels": 4, "kernel_size": 1}, ["x"]),
        ("b", "Conv2d", {"out_channels": 6, "kernel_size": 1}, ["x"]),
        ("cat", "Concat", {}, ["a", "b", "x"]),
    )
    assert analyze(g).shape("cat") == (18, 16, 16)


def test_groups_must_divide_channels():
    g = chain([6, 8, 8], ("Conv2d", {"out_channels": 8, "kernel_size": 3, "groups": 4}))
    [d] = [d for d in validate(g) if d.is_error]
    assert (d.code, d.node_id) == ("shape.groups", "n1")
    assert "groups" in d.hint


def test_linear_after_feature_map_suggests_flatten():
    g = chain([16, 7, 7], ("Linear", {"out_features": 10}))
    [d] = [d for d in validate(g) if d.is_error]
    assert (d.code, d.node_id) == ("shape.needs_flatten", "n1")
    assert "Flatten" in d.hint and "AdaptiveAvgPool2d(1)" in d.hint


def test_explicit_in_channels_must_agree():
    g = graph(
        ("x", "Input", {"shape": [32, 8, 8]}, []),
        ("conv3", "Conv2d", {"in_channels": 64, "out_channels": 8, "kernel_size": 3}, ["x"]),
    )
    [d] = [d for d in validate(g) if d.is_error]
    assert (d.code, d.node_id) == ("param.inferred_mismatch", "conv3")
    assert "64" in d.message and "'x' gives 32" in d.message


def test_explicit_in_channels_that_agree_are_fine():
    g = chain([32, 8, 8], ("Conv2d", {"in_channels": 32, "out_channels": 8, "kernel_size": 3}))
    assert validate(g) == []


def test_huge_linear_after_flatten_is_a_warning_with_its_cost():
    g = chain([64, 64, 64], ("Flatten", {}), ("Linear", {"out_features": 10}))
    [d] = validate(g)
    assert (d.code, d.node_id, d.severity) == ("cost.large_linear", "n2", Severity.WARNING)
    assert "2,621,450" in d.message and "650" in d.hint


def test_inplace_on_a_shared_tensor_is_a_warning_and_built_out_of_place():
    import torch

    import designer

    g = graph(
        ("x", "Input", {"shape": [4, 4, 4]}, []),
        ("c", "Conv2d", {"out_channels": 4, "kernel_size": 1}, ["x"]),
        ("r", "ReLU", {"inplace": True}, ["c"]),
        ("add", "Add", {}, ["c", "r"]),
    )
    assert ("graph.inplace_shared", "r") in codes(g) and not errors(g)
    model = designer.compile(g, seed=0)
    assert model.r.inplace is False
    x = torch.rand(2, 4, 4, 4)
    c = torch.nn.functional.conv2d(x, model.c.weight, model.c.bias)
    # the design adds c before the ReLU; in place, the forward added the ReLU's output twice
    torch.testing.assert_close(model(x), c + c.clamp(min=0))


def test_errors_do_not_cascade_downstream():
    g = chain(
        [3, 8, 8],
        ("Conv2d", {"out_channels": 4, "kernel_size": 9}),
        ("ReLU", {}),
        ("Flatten", {}),
        ("Linear", {"out_features": 2}),
    )
    assert errors(g) == [("shape.collapse", "n1")]


@pytest.mark.parametrize(
    "bad_id, code",
    [
        ("conv-", "graph.bad_id"),
        ("forward", "graph.bad_id"),
        ("layer1..conv", "graph.bad_id"),
        ("_private", "graph.bad_id"),
        ("class", "graph.bad_id"),
        ("self", "graph.bad_id"),
        ("block.self", "graph.bad_id"),
        ("training", "graph.bad_id"),
        ("cuda", "graph.bad_id"),
        ("stage.to", "graph.bad_id"),
        ("x\ud800", "graph.bad_id"),
        (".".join(f"a{i}" for i in range(1000)), "graph.id_too_deep"),  # a RecursionError in the compiler (issue 13)
    ],
)
def test_ids_must_make_module_names(bad_id, code):
    g = graph(("x", "Input", {"shape": [4]}, []), (bad_id, "ReLU", {}, ["x"]))
    assert (code, bad_id) in errors(g)


def test_node_id_cannot_also_be_a_group():
    g = graph(("x", "Input", {"shape": [4]}, []), ("block", "ReLU", {}, ["x"]), ("block.act", "ReLU", {}, ["block"]))
    assert errors(g) == [("graph.id_conflict", "block")]


def test_the_deepest_allowed_id_compiles():
    from designer.analysis.ids import MAX_ID_DEPTH
    from designer.compiler import compile_graph

    deep = ".".join(f"g{i}" for i in range(MAX_ID_DEPTH))
    g = graph(("x", "Input", {"shape": [4]}, []), (deep, "ReLU", {}, ["x"]))
    assert errors(g) == [] and compile_graph(g).get_submodule(deep) is not None
    too_deep = graph(("x", "Input", {"shape": [4]}, []), (deep + ".more", "ReLU", {}, ["x"]))
    assert errors(too_deep) == [("graph.id_too_deep", deep + ".more")]


def test_a_model_must_return_something():
    """An empty 'outputs' list validated, then exported a model returning () (issue 13)."""
    empty = graph(("x", "Input", {"shape": [4]}, []), ("r", "ReLU", {}, ["x"]), outputs=[])
    assert ("graph.no_output", None) in errors(empty)
    assert ("graph.no_output", None) in errors(graph(("x", "Input", {"shape": [4]}, [])))


def test_no_input_node():
    assert ("graph.no_input", None) in errors(graph(("a", "ReLU", {}, [])))


def test_every_error_carries_a_hint():
    cases = [
        chain([3, 8, 8], ("Conv2D", {})),
        chain([3, 8, 8], ("Conv2d", {"kernel": 3})),
        chain([3, 2, 2], ("Conv2d", {"out_channels": 4, "kernel_size": 3})),
        chain([3, 8, 8], ("Conv2d", {"out_channels": 4, "kernel_size": 3, "stride": 2, "padding": "same"})),
        chain([3, 8, 8], ("MaxPool2d", {"kernel_size": 2, "padding": 2})),
        chain([3, 8, 8], ("ConvTranspose2d", {"out_channels": 4, "kernel_size": 3, "output_padding": 1})),
        chain([3, 8, 8], ("Upsample", {})),
        chain([3, 8, 8], ("Upsample", {"size": 4, "mode": "linear"})),
        chain([3, 8, 8], ("Upsample", {"scale_factor": 2, "align_corners": True})),
        chain([3, 8, 8], ("Flatten", {"start_dim": 0})),
        chain([3, 8, 8], ("Flatten", {"start_dim": 3, "end_dim": 2})),
        chain([3, 8, 8], ("Softmax", {"dim": 0})),
        chain([3, 8, 8], ("Softmax", {"dim": 5})),
        chain([3, 8, 8], ("Reshape", {"shape": [5, -1]})),
        chain([12], ("Reshape", {"shape": [5, 2]})),
        chain([6, 8, 8], ("GroupNorm", {"num_groups": 4})),
        chain([12], ("Conv2d", {"out_channels": 2, "kernel_size": 1})),
        chain([12], ("BatchNorm2d", {})),
        chain([3, 8, 8], ("ZeroPad2d", {"padding": -4})),
        chain([3, 8, 8], ("Concat", {"dim": 0})),
        graph(("a", "ReLU", {}, [])),
        graph(("x", "Input", {"shape": [4]}, []), ("a", "Add", {}, ["x", "a"])),
        chain([3, 4, 4], ("Conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 4, "padding_mode": "reflect"})),
        chain([3, 8, 8], ("LayerNorm", {"normalized_shape": [3, 8]})),
    ]
    for g in cases:
        errs = [d for d in validate(g) if d.is_error]
        assert errs, g.nodes
        for d in errs:
            assert d.hint, d
            assert d.message and d.code.count(".") == 1


def test_receptive_field_grows_as_textbook():
    # Two 3x3 convs see 5x5; a 2x2/2 pool adds 1 and doubles the step; the next 3x3 adds 2*2.
    g = chain(
        [1, 32, 32],
        ("Conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1}),
        ("Conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1}),
        ("MaxPool2d", {"kernel_size": 2}),
        ("Conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1}),
    )
    a = analyze(g)
    assert [a.info[n].receptive_field for n in ("n1", "n2", "n3", "n4")] == [(3, 3), (5, 5), (6, 6), (10, 10)]
    assert a.info["n4"].rf_stride == (2, 2)


def test_frozen_nodes_count_as_not_trainable(example_text):
    from designer import loads

    g = loads(example_text)
    g.set_field("conv1", "frozen", True)
    a = analyze(g)
    assert a.total_params - a.trainable_params == 320


def test_explanations_fill_in_the_numbers():
    g = chain([64, 28, 28], ("Conv2d", {"out_channels": 128, "kernel_size": 3, "stride": 2, "padding": 1}))
    lines = analyze(g).info["n1"].explain()
    assert "H_out = floor((28 + 2*1 - 1*(3-1) - 1) / 2) + 1 = 14" in lines
    assert "params = k_h*k_w*C_in/groups*C_out + C_out = 3*3*64/1*128 + 128 = 73,856" in lines


@pytest.mark.parametrize("value", [10**400, -(10**400), 1e308])
def test_an_enormous_number_in_any_parameter_is_a_diagnostic_not_a_crash(value):
    """A 400-digit integer overflowed float() while the range message was written: a traceback, not a diagnostic."""
    from designer.layers.registry import list_specs
    from designer.model.params import Kind

    numeric = (Kind.INT, Kind.FLOAT, Kind.PAIR, Kind.OPT_INT, Kind.OPT_PAIR)
    checked = 0
    for spec in list_specs():
        for p in spec.params:
            if p.kind not in numeric or spec.name == "Input":
                continue
            g = chain([3, 8, 8], (spec.name, {p.name: value}))
            errors = [d.code for d in validate(g) if d.node_id == "n1" and d.is_error]  # raises nothing
            if isinstance(value, int):  # no integer parameter or float of a layer goes that far
                assert errors, f"{spec.name}.{p.name}={value!r} was accepted"
            checked += 1
    assert checked > 40


@pytest.mark.parametrize("name", [s.name for s in list_specs() if s.name != "Input"])
def test_a_scalar_per_sample_never_crashes_the_validator(name):
    """Mean over the only dimension leaves one number per sample ([N]); every layer after it gets diagnostics or a
    shape, never an exception (Linear, GroupNorm and PReLU indexed its missing dimension)."""
    (spec,) = [s for s in list_specs() if s.name == name]
    nodes = [("x", "Input", {"shape": [4]}, []), ("m", "Mean", {"dim": [-1]}, ["x"])]
    params = {p.name: 2 for p in spec.params if p.required}
    g = graph(*nodes, ("n", name, params, ["m"] * max(1, spec.arity[0])))
    analysis = analyze(g)  # raises on the bug
    assert analysis.shape("m") == ()
    if spec.ranks is not None:  # the ranks it takes say why
        (problem,) = [d for d in analysis.for_node("n") if d.is_error]
        assert problem.code in ("shape.rank", "shape.needs_map")
    elif spec.min_rank:
        (problem,) = [d for d in analysis.for_node("n") if d.is_error]
        assert problem.code == "shape.rank" and "scalar per sample" in problem.message
