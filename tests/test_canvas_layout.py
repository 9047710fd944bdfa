"""The Qt-free half of the canvas overview: which groups a design opens collapsed, and where it wraps into columns."""

from __future__ import annotations

from designer.editing.layout import (
    OVERVIEW_BOXES,
    ROW_STEP,
    _band_heights,
    _shown_count,
    overview_groups,
    wrap_breaks,
)
from designer.editing.templates import load_template


def test_a_group_holding_most_of_the_design_is_refined_into_its_blocks():
    densenet = load_template("densenet121")
    collapsed = overview_groups(densenet)
    assert "features" not in collapsed, "one 'features' box would be the whole overview"
    assert {f"features.denseblock{i}" for i in range(1, 5)} <= collapsed
    assert {f"features.transition{i}" for i in range(1, 4)} <= collapsed
    assert _shown_count([str(i) for i in densenet.ids()], collapsed) <= OVERVIEW_BOXES


def test_stages_that_are_each_a_minority_stay_the_overview():
    assert overview_groups(load_template("resnet50")) == {"layer1", "layer2", "layer3", "layer4"}
    assert overview_groups(load_template("vgg16")) == set(), "41 nodes: a small design opens expanded"


def chain(n: int) -> dict[float, int]:
    return {i * ROW_STEP: 1 for i in range(n)}


def test_a_tall_chain_wraps_into_columns_that_fit_a_wide_view():
    rows = chain(41)
    breaks = wrap_breaks(rows, 184.0, (1000.0, 600.0))
    assert 2 <= len(breaks) + 1 <= 8
    heights = _band_heights(sorted(rows), breaks)
    assert max(heights) - min(heights) <= 3 * ROW_STEP, "columns of about equal height"
    assert max(heights) < 41 * ROW_STEP / 2


def test_a_short_design_or_a_narrow_view_stays_one_column():
    assert wrap_breaks(chain(5), 184.0, (1000.0, 600.0)) == []
    assert wrap_breaks(chain(41), 184.0, (250.0, 6000.0)) == [], "no room for a second column"
    assert wrap_breaks(chain(12), 184.0, (1000.0, 600.0), enough=0.4) == [], "readable enough uncut"


def test_cuts_move_to_where_a_block_begins_or_a_single_box_stands():
    rows = chain(40)
    plain = wrap_breaks(rows, 184.0, (600.0, 2400.0))
    assert len(plain) == 1
    ideal = plain[0]
    preferred = {ideal + 2 * ROW_STEP}
    assert wrap_breaks(rows, 184.0, (600.0, 2400.0), preferred=preferred) == [ideal + 2 * ROW_STEP]
    branched = dict(rows)
    branched[ideal] = 2  # parallel branches on the ideal row: cut next to them instead
    assert wrap_breaks(branched, 184.0, (600.0, 2400.0))[0] != ideal
