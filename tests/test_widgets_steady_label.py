"""SteadyLabel: a new text relays out the panel only when the label's height changes, and the layout follows it
when it does (a plain QLabel is the control: it asks for a relayout on every new text)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from widgets.panels.steady_label import SteadyLabel


class _Requests(QObject):
    """Counts the layout requests a widget receives."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        self.count += event.type() == QEvent.Type.LayoutRequest
        return False


def _panel(qtbot, label: QWidget) -> tuple[QWidget, _Requests]:
    panel = QWidget()
    qtbot.addWidget(panel)
    layout = QVBoxLayout(panel)
    layout.addWidget(label)
    layout.addStretch(1)
    panel.setFixedWidth(220)
    label.setText("parameters: 1,234")
    if isinstance(label, QLabel):
        label.setWordWrap(True)
    panel.show()
    qtbot.waitExposed(panel)
    qtbot.wait(10)  # the first layout's requests are not the test's
    requests = _Requests()
    panel.installEventFilter(requests)
    return panel, requests


@pytest.mark.parametrize("kind", [SteadyLabel, QLabel])
def test_a_new_figure_of_the_same_height_relays_out_only_a_plain_label(qtbot, qapp, kind):
    label = kind()
    _, requests = _panel(qtbot, label)
    label.setText("parameters: 5,678")
    qapp.processEvents()
    assert label.text() == "parameters: 5,678"
    assert requests.count == (0 if kind is SteadyLabel else 1)


def test_the_layout_follows_a_label_that_needs_more_lines(qtbot, qapp):
    label = SteadyLabel()
    _, requests = _panel(qtbot, label)
    one_line = label.height()
    label.setText("<br>".join(f"line {i}" for i in range(6)))
    qapp.processEvents()
    assert requests.count >= 1
    assert label.height() > 3 * one_line
    assert label.label.height() == label.height(), "the label fills its box"
    label.setText("short")
    qapp.processEvents()
    assert label.height() == one_line


def test_a_text_set_while_hidden_is_laid_out_when_shown(qtbot, qapp):
    label = SteadyLabel()
    panel, _ = _panel(qtbot, label)
    one_line = label.height()
    panel.hide()
    label.setText("<br>".join(f"line {i}" for i in range(6)))
    panel.show()
    qtbot.waitExposed(panel)
    qapp.processEvents()
    assert label.height() > 3 * one_line
