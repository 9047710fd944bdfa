"""Insight functions: output shapes, answers known in advance, independent torch references, refused nodes."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from torch import nn

import designer
from designer import insight
from designer.analysis.validate import analyze
from designer.insight import InsightError

from .helpers import chain, graph


def branching():
    """Every kind of node: Input, layers, a three-way Add, Concat, Reshape, pooling, a head and a final Softmax."""
    return graph(
        ("x", "Input", {"shape": [3, 12, 12]}, []),
        ("c1", "Conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1}, ["x"]),
        ("r1", "ReLU", {"inplace": True}, ["c1"]),
        ("c2", "Conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1}, ["r1"]),
        ("add", "Add", {}, ["c2", "r1", "r1"]),
        ("cat", "Concat", {}, ["add", "r1"]),
        ("rs", "Reshape", {"shape": [8, 24, 6]}, ["cat"]),
        ("pool", "AdaptiveAvgPool2d", {"output_size": 1}, ["rs"]),
        ("flat", "Flatten", {}, ["pool"]),
        ("fc", "Linear", {"out_features": 5}, ["flat"]),
        ("sm", "Softmax", {"dim": 1}, ["fc"]),
    )


@pytest.fixture(scope="module")
def net():
    g = branching()
    return designer.compile(g, seed=0), g


def _hooked(module: nn.Module, x: torch.Tensor, names: list[str]) -> dict[str, torch.Tensor]:
    """Reference values of submodules, taken with plain forward hooks."""
    seen: dict[str, torch.Tensor] = {}
    hs = [
        module.get_submodule(n).register_forward_hook(lambda m, i, o, n=n: seen.__setitem__(n, o.clone()))
        for n in names
    ]
    with torch.no_grad():
        module.eval()(x[None])
    for h in hs:
        h.remove()
    return seen


# -- shapes and values -----------------------------------------------------------------------------------------------


def test_feature_maps_of_every_node_have_the_node_shape(net):
    module, g = net
    x = torch.rand(3, 12, 12)
    analysis = analyze(g)
    assert insight.Probe(module, g).node_ids() == list(analysis.order)
    for node_id in analysis.order:
        maps = insight.feature_maps(module, x, node_id, graph=g)
        assert maps.shape == analysis.shape(node_id), node_id
    ref = _hooked(module, x, ["c1", "c2", "fc"])
    # c1's output is overwritten in place by r1 in the compiled forward; the maps must still be the pre-ReLU values.
    np.testing.assert_allclose(insight.feature_maps(module, x, "c1", graph=g), ref["c1"][0].numpy(), atol=1e-6)
    r1 = ref["c1"].clamp(min=0)
    np.testing.assert_allclose(
        insight.feature_maps(module, x, "add", graph=g), (ref["c2"] + 2 * r1)[0], rtol=1e-5, atol=1e-5
    )
    np.testing.assert_allclose(insight.feature_maps(module, x, "x", graph=g), x.numpy())
    assert module.r1.inplace is True


def test_graph_ops_are_found_by_fx_name_without_the_design(net):
    module, g = net
    probe = insight.Probe(module)
    assert {"add", "add_1", "cat", "c1", "fc"} <= set(probe.node_ids())
    x = torch.rand(3, 12, 12)
    np.testing.assert_array_equal(
        insight.feature_maps(module, x, "add_1"), insight.feature_maps(module, x, "add", graph=g)
    )


def test_plain_module_nodes_are_its_submodules():
    seq = nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 6 * 6, 2))
    x = torch.rand(1, 8, 8)
    assert insight.feature_maps(seq, x, "0").shape == (3, 6, 6)
    assert insight.grad_cam(seq, x).node_id == "1"
    assert insight.saliency(seq, x).values.shape == (8, 8)


def test_every_output_shape(net):
    module, g = net
    x = torch.rand(3, 12, 12)
    assert insight.filters(module, "c2", graph=g).shape == (4, 4, 3, 3)
    assert insight.grad_cam(module, x, graph=g).values.shape == (12, 12)
    assert insight.grad_cam(module, x, "cat", graph=g).values.shape == (12, 12)
    assert insight.saliency(module, x, graph=g).values.shape == (12, 12)
    assert insight.saliency(module, x, graph=g, reduce=False).values.shape == (3, 12, 12)
    assert insight.guided_backprop(module, x, graph=g).values.shape == (12, 12)
    assert insight.occlusion(module, x, graph=g, patch=5, stride=3).values.shape == (12, 12)
    assert insight.maximize(module, x, "c2", 1, graph=g, steps=3).image.shape == (3, 12, 12)
    grid = insight.feature_grid(insight.feature_maps(module, x, "cat", graph=g))
    assert grid.shape == (3 * 13 - 1, 3 * 13 - 1)  # 8 maps of 12x12 in a 3x3 grid, 1-pixel gaps
    batches = [(torch.rand(6, 3, 12, 12), torch.arange(6) % 5)]
    assert insight.evaluate(module, batches, graph=g).confusion.shape == (5, 5)
    emb = insight.embed(module, batches, graph=g)
    assert emb.points.shape == (6, 2) and emb.node_id == "flat"


def test_scores_are_logits_before_a_final_softmax(net):
    module, g = net
    probe = insight.Probe(module, g)
    assert (probe.score_id(), probe.penultimate_id()) == ("fc", "flat")


def test_calls_leave_the_module_as_they_found_it(net):
    module, g = net
    module.train()
    x = torch.rand(3, 12, 12)
    insight.grad_cam(module, x, graph=g)
    insight.guided_backprop(module, x, graph=g)
    insight.maximize(module, x, "c1", graph=g, steps=2)
    assert module.training and module.r1.training and module.r1.inplace
    assert all(p.grad is None for p in module.parameters())
    assert not module.r1._forward_hooks and not module.c1._forward_hooks
    module.eval()


# -- known answers ---------------------------------------------------------------------------------------------------


def left_half_model():
    """A net whose logits provably depend on the left half only: it crops the right half, pads zeros back, convolves."""
    g = chain(
        [1, 8, 16],
        ("ZeroPad2d", {"padding": [0, -8, 0, 0]}),
        ("ZeroPad2d", {"padding": [0, 8, 0, 0]}),
        ("Conv2d", {"out_channels": 3, "kernel_size": 3, "padding": 1}),
        ("ReLU", {}),
        ("Flatten", {}),
        ("Linear", {"out_features": 2}),
    )
    module = designer.compile(g, seed=0)
    with torch.no_grad():
        module.n3.weight.abs_()
        module.n3.bias.zero_()
        module.n6.weight.abs_()
    return module, g


def test_grad_cam_of_a_left_half_model_highlights_the_left_half():
    module, g = left_half_model()
    x = torch.rand(1, 8, 16, generator=torch.Generator().manual_seed(1))
    cam = insight.grad_cam(module, x, target=0, graph=g)
    assert cam.node_id == "n4"
    assert cam.values[:, :8].mean() > 0.3
    assert np.abs(cam.values[:, 10:]).max() == 0.0  # the 3x3 kernel reaches one column past the crop, no further


def test_grad_cam_matches_a_hand_computed_reference():
    torch.manual_seed(0)  # unseeded, some draws give an all-negative map whose normalisation is 0/0
    x = torch.rand(3, 12, 12)
    # reference: a model whose last spatial node is a Conv2d, differentiated with autograd directly
    conv, fc = nn.Conv2d(3, 4, 3, padding=1), nn.Linear(4 * 12 * 12, 3)
    seq = nn.Sequential(conv, nn.Flatten(), fc)
    a = conv(x[None])
    score = fc(a.flatten(1))[0, 2]
    (grad,) = torch.autograd.grad(score, a)
    ref = torch.relu((grad.mean((2, 3), keepdim=True) * a).sum(1))[0].detach()
    assert ref.max() > 0
    ref = ref / ref.max()
    got = insight.grad_cam(seq, x, "0", target=2)
    np.testing.assert_allclose(got.values, ref.numpy(), rtol=1e-5, atol=1e-6)
    assert got.score == pytest.approx(float(score.detach()))


def test_occlusion_of_a_left_half_model_is_zero_on_the_right():
    module, g = left_half_model()
    x = torch.rand(1, 8, 16, generator=torch.Generator().manual_seed(2))
    occ = insight.occlusion(module, x, target=0, graph=g, patch=4, stride=2, fill=0.5)
    assert np.abs(occ.values[:, :8]).mean() > 1e-3
    assert np.abs(occ.values[:, 10:]).max() == 0.0  # patches from column 8 on never touch the left half


def test_batched_occlusion_equals_a_one_by_one_reference():
    module, g = left_half_model()
    x = torch.rand(1, 8, 16)
    got = insight.occlusion(module, x, target=1, graph=g, patch=3, stride=2, fill=-1.0, batch_size=5)
    module.eval()
    with torch.no_grad():
        base = module(x[None])[0, 1]
        total, count = torch.zeros(8, 16), torch.zeros(8, 16)
        for i in [0, 2, 4, 5]:  # starts every 2 pixels, plus the last position so the border is covered
            for j in [0, 2, 4, 6, 8, 10, 12, 13]:
                y = x.clone()
                y[:, i : i + 3, j : j + 3] = -1.0
                total[i : i + 3, j : j + 3] += base - module(y[None])[0, 1]
                count[i : i + 3, j : j + 3] += 1
    np.testing.assert_allclose(got.values, (total / count).numpy(), rtol=1e-4, atol=1e-5)


def test_saliency_of_a_model_that_ignores_a_channel_is_zero_there():
    g = chain(
        [3, 8, 8],
        ("Conv2d", {"out_channels": 4, "kernel_size": 3}),
        ("ReLU", {}),
        ("Flatten", {}),
        ("Linear", {"out_features": 3}),
    )
    module = designer.compile(g, seed=0)
    with torch.no_grad():
        module.n1.weight[:, 1] = 0.0
    x = torch.rand(3, 8, 8)
    for guided in (False, True):
        per_channel = insight.saliency(module, x, target=1, graph=g, guided=guided, reduce=False).values
        assert np.all(per_channel[1] == 0.0) and per_channel[0].max() > 0 and per_channel[2].max() > 0
    xr = x[None].clone().requires_grad_(True)
    module(xr)[0, 1].backward()
    np.testing.assert_allclose(
        insight.saliency(module, x, target=1, graph=g).values, xr.grad[0].abs().amax(0).numpy(), rtol=1e-6
    )


def test_guided_backprop_passes_only_positive_gradients():
    relu_net = nn.Sequential(nn.Linear(4, 4, bias=False), nn.ReLU(), nn.Linear(4, 1, bias=False))
    with torch.no_grad():
        relu_net[0].weight.copy_(torch.eye(4))
        relu_net[2].weight.copy_(torch.tensor([[1.0, -1.0, 2.0, 3.0]]))
    x = torch.tensor([[1.0, 1.0, -1.0, 2.0]])
    got = insight.saliency(relu_net, x, "2", 0, guided=True, reduce=False).values
    # unit 1 has a negative gradient (blocked), unit 2 a negative input (blocked by the ReLU)
    np.testing.assert_array_equal(got[0], [1.0, 0.0, 0.0, 3.0])
    # Deconvnet (Zeiler and Fergus): the backward ReLU passes the positive gradients whatever the forward input was,
    # so unit 2 comes through; an in-place ReLU must not put its forward mask back.
    for inplace in (False, True):
        relu_net[1] = nn.ReLU(inplace=inplace)
        got = insight.deconvnet(relu_net, x, "2", 0, reduce=False).values
        np.testing.assert_array_equal(got[0], [1.0, 0.0, 2.0, 3.0])
    # and plain saliency passes the negative gradient of unit 1 back, the ReLU's mask blocking unit 2
    got = insight.saliency(relu_net, x, "2", 0, reduce=False).values
    np.testing.assert_array_equal(got[0], [1.0, 1.0, 0.0, 3.0])


def test_first_layer_filters_come_back_as_the_kernels_set():
    g = chain([3, 8, 8], ("Conv2d", {"out_channels": 2, "kernel_size": 3}), ("ReLU", {}))
    module = designer.compile(g, seed=0)
    kernels = torch.zeros(2, 3, 3, 3)
    kernels[0, 0] = torch.tensor([[1.0, 0, -1], [2, 0, -2], [1, 0, -1]])  # Sobel on red
    kernels[1, 2, 1, 1] = 1.0  # identity on blue
    with torch.no_grad():
        module.n1.weight.copy_(kernels)
    got = insight.filters(module, "n1", graph=g)
    np.testing.assert_array_equal(got, kernels.numpy())
    image, rgb = insight.filter_grid(got)
    assert rgb and image.shape == (3, 7, 3)
    np.testing.assert_allclose(image[:, :3, 0], kernels[0, 0].numpy() / 4 + 0.5)  # one scale: max |w| is 2
    assert image[1, 5, 2] == 0.75 and image[1, 5, 0] == 0.5


def test_deeper_filters_are_shown_per_input_channel():
    weight = np.arange(2 * 3 * 2 * 2, dtype=float).reshape(2, 3, 2, 2)
    image, rgb = insight.filter_grid(weight[:, :2])
    assert not rgb and image.shape == (2 * 3 - 1, 2 * 3 - 1)
    np.testing.assert_array_equal(image[3:5, 3:5], weight[1, 1])


def test_activation_maximisation_of_an_edge_filter_draws_the_edge():
    g = chain([1, 15, 15], ("Conv2d", {"out_channels": 2, "kernel_size": 5, "bias": False}))
    module = designer.compile(g, seed=0)
    vertical = torch.tensor([-1.0, -1.0, 0.0, 1.0, 1.0]).expand(5, 5)
    with torch.no_grad():
        module.n1.weight.copy_(torch.stack([vertical, vertical.T])[:, None])
    found = insight.maximize(module, (1, 15, 15), "n1", 0, graph=g, steps=20, seed=3)
    window = found.image[0, 5:10, 5:10]  # the receptive field of the centre unit of the 11x11 map
    corr = np.corrcoef(window.ravel(), vertical.numpy().ravel())[0, 1]
    cross = np.corrcoef(window.ravel(), vertical.T.numpy().ravel())[0, 1]
    assert corr > 0.9 and abs(cross) < 0.3
    again = insight.maximize(module, (1, 15, 15), "n1", 0, graph=g, steps=20, seed=3)
    np.testing.assert_array_equal(found.image, again.image)
    assert not np.array_equal(
        found.image, insight.maximize(module, (1, 15, 15), "n1", 0, graph=g, steps=20, seed=4).image
    )


def test_activation_maximisation_of_a_class_score_draws_its_template():
    g = chain([1, 6, 6], ("Flatten", {}), ("Linear", {"out_features": 2}))
    module = designer.compile(g, seed=0)
    checker = (torch.arange(36).reshape(6, 6) + torch.arange(6)[:, None]) % 2 * 2.0 - 1
    with torch.no_grad():
        module.n2.weight[0] = checker.flatten()
    found = insight.maximize(module, (1, 6, 6), None, 0, graph=g, steps=40, blur_every=0)
    assert found.node_id == "n2"
    assert np.corrcoef(found.image.ravel(), checker.numpy().ravel())[0, 1] > 0.95


# -- evaluation ------------------------------------------------------------------------------------------------------


def test_confusion_matrix_and_confident_mistakes_have_known_values():
    g = chain([1, 1, 3], ("Flatten", {}), ("Linear", {"out_features": 3, "bias": False}))
    module = designer.compile(g, seed=0)
    with torch.no_grad():
        module.n2.weight.copy_(torch.eye(3))  # logits are the three pixels: the brightest one is the prediction
    x = torch.tensor([[4.0, 0, 0], [0, 4, 0], [0, 1, 0], [0, 0, 9], [2, 0, 0]]).reshape(5, 1, 1, 3)
    y = torch.tensor([0, 1, 2, 0, 2])
    ev = insight.evaluate(module, [(x[:2], y[:2]), (x[2:], y[2:])], graph=g)
    np.testing.assert_array_equal(ev.confusion, [[1, 0, 1], [0, 1, 0], [1, 1, 0]])
    assert ev.accuracy == pytest.approx(2 / 5)
    np.testing.assert_allclose(ev.per_class_accuracy, [0.5, 1.0, 0.0])
    assert [(m.index, m.true, m.predicted) for m in ev.mistakes] == [(3, 0, 2), (4, 2, 0), (2, 2, 1)]
    assert ev.mistakes[0].confidence == pytest.approx(float(torch.tensor([0.0, 0, 9]).softmax(0)[2]))


def test_iter_batches_normalises_and_keeps_dataset_indices():
    data = [(torch.full((1, 2, 2), 255, dtype=torch.uint8), 1), "broken", (torch.zeros(1, 2, 2, dtype=torch.uint8), 0)]
    ((x, y, idx),) = list(insight.iter_batches(data, mean=[0.5], std=[0.25]))
    np.testing.assert_allclose(x[:, 0, 0, 0], [2.0, -2.0])
    assert y.tolist() == [1, 0] and idx.tolist() == [0, 2]


def test_pca_embedding_matches_numpy_svd(net):
    module, g = net
    x = torch.rand(30, 3, 12, 12)
    labels = torch.arange(30) % 5
    emb = insight.embed(module, [(x[:16], labels[:16]), (x[16:], labels[16:])], "cat", graph=g)
    feats = np.stack([insight.feature_maps(module, s, "cat", graph=g).ravel() for s in x]).astype(np.float64)
    centred = feats - feats.mean(0)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    ref = u[:, :2] * s[:2]
    for k in range(2):
        assert abs(np.corrcoef(emb.points[:, k], ref[:, k])[0, 1]) > 0.999
    np.testing.assert_array_equal(emb.labels, labels.numpy())


def test_tsne_needs_scikit_learn(net):
    import importlib.util

    module, g = net
    batches = [(torch.rand(12, 3, 12, 12), torch.arange(12) % 5)]
    if importlib.util.find_spec("sklearn") is None:
        with pytest.raises(InsightError) as err:
            insight.embed(module, batches, graph=g, method="tsne")
        assert err.value.code == "insight.no_sklearn"
        assert insight.embed(module, batches, graph=g, method="auto").method == "pca"
    else:
        assert insight.embed(module, batches, graph=g, method="tsne").points.shape == (12, 2)


# -- refused nodes ---------------------------------------------------------------------------------------------------


def _refused(call, code: str, node_id: str | None) -> str:
    with pytest.raises(InsightError) as err:
        call()
    assert (err.value.code, err.value.node_id) == (code, node_id)
    if node_id:
        assert f"'{node_id}'" in str(err.value)
    return str(err.value)


def test_wrong_nodes_are_refused_with_the_node_named(net):
    module, g = net
    x = torch.rand(3, 12, 12)
    _refused(lambda: insight.feature_maps(module, x, "nope", graph=g), "insight.unknown_node", "nope")
    assert "Linear" in _refused(lambda: insight.grad_cam(module, x, "fc", graph=g), "insight.not_spatial", "fc")
    _refused(lambda: insight.grad_cam(module, x, "flat", graph=g), "insight.not_spatial", "flat")
    assert "ReLU" in _refused(lambda: insight.filters(module, "r1", graph=g), "insight.not_conv", "r1")
    _refused(lambda: insight.filters(module, "add", graph=g), "insight.not_conv", "add")
    _refused(lambda: insight.saliency(module, x, "x", graph=g), "insight.input_node", "x")
    _refused(lambda: insight.maximize(module, x, "c1", 9, graph=g, steps=1), "insight.bad_unit", "c1")
    _refused(lambda: insight.grad_cam(module, x, "c1", target=7, graph=g), "insight.bad_unit", "fc")


def test_a_node_without_a_gradient_path_is_refused():
    g = graph(
        ("x", "Input", {"shape": [1, 8, 8]}, []),
        ("a", "Conv2d", {"out_channels": 2, "kernel_size": 3}, ["x"]),
        ("fa", "Flatten", {}, ["a"]),
        ("head", "Linear", {"out_features": 2}, ["fa"]),
        ("b", "Conv2d", {"out_channels": 2, "kernel_size": 3}, ["x"]),
        ("fb", "Flatten", {}, ["b"]),
        ("aux", "Linear", {"out_features": 2}, ["fb"]),
        outputs=["head", "aux"],
    )
    module = designer.compile(g, seed=0)
    x = torch.rand(1, 8, 8)
    assert insight.grad_cam(module, x, "a", graph=g).values.shape == (8, 8)
    msg = _refused(lambda: insight.grad_cam(module, x, "b", graph=g), "insight.no_gradient", "b")
    assert "'head'" in msg


# -- pictures and throttle -------------------------------------------------------------------------------------------


def test_png_encoder_round_trips_through_pillow():
    from PIL import Image

    rgb = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    grey = rgb[..., 0]
    for img in (rgb, grey):
        back = np.asarray(Image.open(io.BytesIO(insight.encode_png(img))))
        np.testing.assert_array_equal(back, img)


def test_colorize_maps_ends_and_gaps():
    values = np.array([[0.0, 1.0, np.nan]])
    rgb = insight.colorize(values, "gray", (0.0, 1.0))
    np.testing.assert_array_equal(rgb[0], [[0, 0, 0], [255, 255, 255], [255, 255, 255]])


def test_throttle_keeps_refresh_work_within_budget():
    now = [0.0]
    t = insight.RefreshThrottle(budget=0.05, min_steps=3, clock=lambda: now[0])
    assert t.claim(0) and not t.claim(5)  # busy
    t.done(0.1)
    now[0] = 1.8
    assert not t.claim(10)  # 0.1 s of work buys 1.9 s of waiting at a 5 % budget
    now[0] = 1.95
    assert t.claim(10)
    t.done(0.1)
    now[0] = 10.0
    assert not t.claim(12) and t.claim(13)  # at least three steps apart
    assert not t.force()
    t.done(0.0)
    assert t.force()
    assert t.refreshes == 3 and t.spent == pytest.approx(0.2)


def test_snapshot_is_independent_and_frozen(net):
    module, _ = net
    copy = insight.snapshot(module)
    with torch.no_grad():
        copy.c1.weight.add_(1.0)
    assert not torch.equal(copy.c1.weight, module.c1.weight)
    assert not copy.training and not any(p.requires_grad for p in copy.parameters())


def test_shadow_copy_follows_the_weights_without_rebuilding(net):
    module, _ = net
    shadow = insight.ShadowCopy()
    first = shadow.update(module)
    with torch.no_grad():
        module.c1.weight.add_(0.5)
    second = shadow.update(module)
    assert second is first and torch.equal(second.c1.weight, module.c1.weight)
    assert not second.c1.weight.requires_grad
    with torch.no_grad():
        module.c1.weight.sub_(0.5)
    other = designer.compile(chain([1, 4, 4], ("Flatten", {}), ("Linear", {"out_features": 2})), seed=0)
    assert shadow.update(other) is not first


def test_early_nodes_do_not_run_the_rest_of_the_network():
    class Explode(nn.Module):
        def forward(self, x):
            raise AssertionError("ran past the node asked for")

    seq = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), Explode())
    x = torch.rand(1, 8, 8)
    assert insight.feature_maps(seq, x, "1").shape == (2, 6, 6)
    assert insight.maximize(seq, x, "0", 1, steps=2).image.shape == (1, 8, 8)
    assert insight.saliency(seq, x, "1", 0).values.shape == (8, 8)


def test_default_occlusion_patch_scales_with_the_image():
    module, g = left_half_model()
    occ = insight.occlusion(module, torch.rand(1, 8, 16), target=0, graph=g)
    assert (occ.patch, occ.stride) == (2, 1)  # a seventh of 8 pixels rounds to 1; the patch is at least 2
    big = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(1, 2))
    occ = insight.occlusion(big, torch.rand(1, 70, 70))
    assert (occ.patch, occ.stride) == (10, 5) and occ.values.shape == (70, 70)
