"""The summary table's model answers the roles a view asks of each cell: texts, right-aligned counts, the error
colour on the rows of nodes with an error, the node id for a click; nothing for the roles it leaves to the style."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from designer.analysis.validate import analyze
from designer.model import fileformat
from widgets import theme
from widgets.panels.summary_dock import COLUMNS, SummaryModel

R = Qt.ItemDataRole


def test_each_role_of_each_cell(example_text):
    graph = fileformat.loads(example_text)
    conv = next(n for n in graph if n.type == "Conv2d")
    graph.set_param(conv.id, "kernel_size", 0)  # an error on that row
    analysis = analyze(graph)
    errors = {d.node_id for d in analysis.errors}
    assert conv.id in errors
    model = SummaryModel()
    model.set_analysis(analysis)
    for row, info in enumerate(model.rows):
        for col in range(len(COLUMNS)):
            index = model.index(row, col)
            assert model.data(index) == model.cell(info, col)
            assert model.data(index, R.UserRole) == info.node.id
            align = model.data(index, R.TextAlignmentRole)
            assert align == (
                int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter) if col in (3, 4) else None
            )
            colour = model.data(index, R.ForegroundRole)
            assert colour == (QColor(theme.ERROR_HEX) if info.node.id in errors else None)
            for role in (R.DecorationRole, R.FontRole, R.BackgroundRole, R.CheckStateRole, R.ToolTipRole):
                assert model.data(index, role) is None


def test_a_split_row_shows_every_part():
    from tests.test_split_export import parts_graph

    model = SummaryModel()
    model.set_analysis(analyze(parts_graph()))
    shapes = {
        info.node.id: model.data(model.index(row, COLUMNS.index("Output shape"))) for row, info in enumerate(model.rows)
    }
    assert shapes["body.split"] == "3 × 2×4"
    assert shapes["last"] == "2×1 | 2×3"
    assert shapes["merge"] == "2×4"
