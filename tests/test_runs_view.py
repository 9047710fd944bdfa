"""The Runs view, driven with clicks: listing and sorting runs, overlaying curves, the Pareto front, importance,
opening, exporting and comparing a trial's design. (A real sweep from the view is in tests/test_runs_view_sweep.py.)"""

from __future__ import annotations

import optuna
import pytest
from PySide6.QtCore import QPoint, Qt

from designer.sweep.runner import SWEEP_FILE
from designer.sweep.study import make_storage
from designer.training import runs
from tests.test_runs import make_run
from widgets.panels.runs_view import RunsPanel


@pytest.fixture
def tree(tmp_path):
    """A sweep of three trials (two widths of conv) and one plain run, as the engine writes their files."""
    root = tmp_path / "runs"
    make_run(root / "20250101-000000", [(0.2, 2.0), (0.3, 1.9)], channels=4)
    sweep = root / "sweep-s"
    specs = [(0, [(0.5, 1.2), (0.7, 0.9)], 2, 0.1), (1, [(0.4, 1.0)], 8, 0.01), (2, [(0.9, 0.5)], 16, 0.05)]
    for number, epochs, channels, lr in specs:
        values = {"n1.out_channels": channels, "lr": lr}
        trial = dict(study="s", number=number, state="complete", values=values)
        make_run(sweep / f"trial-{number:04d}", epochs, trial=trial, channels=channels)
    return root


def panel_for(qtbot, tree, **callbacks):
    from tests.test_runs import design

    panel = RunsPanel(lambda: (design(), None), **callbacks)
    qtbot.addWidget(panel)
    panel.set_folder(tree)
    return panel


def column(panel, name):
    header = [panel.table.horizontalHeaderItem(c).text() for c in range(panel.table.columnCount())]
    return header.index(name)


def click_header(qtbot, panel, col):
    header = panel.table.horizontalHeader()
    x = header.sectionViewportPosition(col) + header.sectionSize(col) // 2
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, header.height() // 2))


def cells(panel, col):
    return [panel.table.item(r, col).text() for r in range(panel.table.rowCount())]


def test_runs_and_trials_are_listed_with_values_and_sort_by_a_header_click(qtbot, tree):
    panel = panel_for(qtbot, tree)
    trials = [f"sweep-s/trial-000{k}" for k in range(3)]
    assert sorted(cells(panel, 0)) == ["20250101-000000", *trials]
    header = {panel.table.horizontalHeaderItem(c).text() for c in range(panel.table.columnCount())}
    assert {"val_acc", "params", "lr", "n1.out_channels"} <= header
    acc = column(panel, "val_acc")
    header = panel.table.horizontalHeader()
    click_header(qtbot, panel, acc)
    if header.sortIndicatorOrder() != Qt.SortOrder.DescendingOrder:
        click_header(qtbot, panel, acc)
    assert header.sortIndicatorSection() == acc
    assert cells(panel, acc) == ["0.9", "0.7", "0.4", "0.3"]
    params = column(panel, "params")
    click_header(qtbot, panel, params)
    # numbers sort as numbers, not as text ("1,450" and "13,000" are not in text order)
    as_numbers = [int(c.replace(",", "")) for c in cells(panel, params)]
    descending = header.sortIndicatorOrder() == Qt.SortOrder.DescendingOrder
    assert as_numbers == sorted(as_numbers, reverse=descending) and len(set(as_numbers)) == 4


def test_selected_runs_overlay_their_curves_and_the_pareto_front_is_marked(qtbot, tree):
    panel = panel_for(qtbot, tree)
    panel.select(["sweep-s/trial-0000", "sweep-s/trial-0002"])
    assert sorted(r.name for r in panel.selected_rows()) == ["sweep-s/trial-0000", "sweep-s/trial-0002"]
    assert sorted(panel.curves.shown) == ["sweep-s/trial-0000", "sweep-s/trial-0002"]
    curves = panel.curves.acc_plot.listDataItems()
    assert sorted(list(c.yData) for c in curves) == [[0.5, 0.7], [0.9]]
    # 2 channels: fewest parameters and 0.7; 16 channels: most and 0.9; 4 (0.3) and 8 (0.4) are beaten by 2
    assert [r.name for r in panel.scatter.front] == ["sweep-s/trial-0000", "sweep-s/trial-0002"]
    assert len(panel.scatter.rows) == 4
    assert panel.compare_button.isEnabled() and not panel.open_button.isEnabled()
    # one legend entry per run, below both plots (never over a curve); ticks on whole epochs only
    legend, plots = panel.curves.legend, (panel.curves.loss_plot, panel.curves.acc_plot)
    assert [label.text for _, label in legend.items] == panel.curves.shown
    layout = panel.curves.ci.layout
    assert [layout.itemAt(r, 0) for r in range(3)] == [*plots, legend]
    ticks = panel.curves.acc_plot.getAxis("bottom").tickValues(0.8, 2.2, 400)
    assert ticks and all(float(v).is_integer() for _, values in ticks for v in values)


def test_open_and_export_hand_over_the_trials_design(qtbot, tree):
    opened, exported = [], []
    panel = panel_for(qtbot, tree, open_design=opened.append, export_design=exported.append)
    panel.select(["sweep-s/trial-0001"])
    qtbot.mouseClick(panel.open_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(panel.export_button, Qt.MouseButton.LeftButton)
    expected = tree / "sweep-s" / "trial-0001" / runs.PROJECT
    assert opened == [expected] and exported == [expected]


def test_compare_outlines_what_differs_on_both_canvases(qtbot, tree):
    panel = panel_for(qtbot, tree)
    panel.select(["sweep-s/trial-0000", "sweep-s/trial-0002"])
    qtbot.mouseClick(panel.compare_button, Qt.MouseButton.LeftButton)
    (dialog,) = panel.compare_dialogs
    view = dialog.compare_view
    # n1 (Conv2d) is wider, so n2 (Flatten) gives and n3 (Linear) reads more features: outlined on both sides
    assert set(view.left.outlines) == set(view.right.outlines) == {"n1", "n2", "n3"}
    assert "n1 (Conv2d): out_channels 2 -> 16" in view.text.toPlainText()
    for pane in (view.left, view.right):
        frame = pane.outlines["n1"].rect()
        assert frame.contains(pane.scene.nodes["n1"].sceneBoundingRect())
    dialog.close()


def test_importance_is_computed_off_the_ui_thread_from_the_sweeps_study(qtbot, tree):
    sweep = tree / "sweep-s"
    storage = f"journal:{sweep / 'study.log'}"
    study = optuna.create_study(study_name="s", storage=make_storage(storage), direction="maximize")
    dists = {
        "lr": optuna.distributions.FloatDistribution(1e-4, 1.0, log=True),
        "width": optuna.distributions.IntDistribution(2, 16),
    }
    for k in range(8):
        lr, width = 10 ** (-4 + k / 2), 2 + k % 3
        value = -abs(k / 2 - 3)  # depends on lr alone
        study.add_trial(optuna.trial.create_trial(params={"lr": lr, "width": width}, distributions=dists, value=value))
    runs.write_json(sweep / SWEEP_FILE, {"storage": storage, "study": "s"})
    panel = panel_for(qtbot, tree)
    qtbot.mouseClick(panel.importance_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.importance.values != {}, timeout=30_000)
    values = panel.importance.values
    assert set(values) == {"lr", "width"} and values["lr"] > values["width"]


def test_a_design_without_a_search_space_is_not_swept(qtbot, tree):
    panel = panel_for(qtbot, tree)
    assert not panel.start_sweep()
    assert "no 'search' section" in panel.status.text() and not panel.sweeps.running


@pytest.mark.parametrize("look", ["light", "dark"])
def test_the_curves_legend_below_the_plots_is_readable_in_both_themes(qtbot, tree, look):
    from PySide6.QtWidgets import QApplication

    from tests.test_gui_theme import rendered_contrast
    from widgets import theme

    theme.use(theme.DARK if look == "dark" else theme.LIGHT)
    try:
        panel = panel_for(qtbot, tree)
        panel.resize(1000, 700)
        panel.show()
        panel.select(["sweep-s/trial-0000"])
        QApplication.processEvents()
        view, legend = panel.curves, panel.curves.legend
        ((_, label),) = legend.items
        rect = view.mapFromScene(label.sceneBoundingRect()).boundingRect()
        assert rect.width() > 20 and rendered_contrast(view, rect) >= 4.5
    finally:
        theme.use(theme.LIGHT)
