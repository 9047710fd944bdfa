"""The segmentation templates: their heads fit their task, and a few steps of their own recipe lower the loss."""

from __future__ import annotations

from pathlib import Path

import pytest

from designer import analyze, loads
from designer.training.api import Finished, StepEnded, read_section, train

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
NAMES = ("fcn_shapes", "unet_shapes")


def _template(name: str):
    # Read from the checkout's folder: the installed designer.template_files may be another checkout's.
    return loads((TEMPLATES / f"{name}.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", NAMES)
def test_segmentation_template_scores_every_pixel_of_its_data(name):
    graph = _template(name)
    config = read_section(graph)
    assert config.task == "segmentation"
    analysis = analyze(graph)
    assert analysis.ok and not [d for d in analysis.diagnostics if d.code.startswith("head.")]
    (out,) = graph.output_ids()
    assert analysis.shape(out) == (5, 32, 32) and config.data == "shapes:4"  # the background and 4 shapes


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_a_few_steps_of_the_recipe_lower_the_loss(name, tmp_path):
    graph = _template(name)
    config = read_section(graph).replace(samples=160, val_split=0.1, epochs=1, workers=0, device="cpu")
    losses: list[float] = []
    end = train(
        graph, config, runs_root=tmp_path, on_event=lambda e: isinstance(e, StepEnded) and losses.append(e.loss)
    )
    assert isinstance(end, Finished), end
    assert len(losses) == 4 and sum(losses[-2:]) < sum(losses[:2]), losses
