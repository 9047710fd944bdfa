"""pyqtgraph plots in the window's theme: pyqtgraph draws on black by default, whatever the desktop."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtGui import QColor

from .. import theme


def style_plots(widget: pg.GraphicsLayoutWidget) -> None:
    """Give ``widget`` and its plots the current theme's background, axes, titles and legends (call again on a
    theme change)."""
    widget.setBackground(theme.NODE_FILL)
    layout = widget.ci
    for item in layout.items:
        if isinstance(item, pg.LegendItem):  # a legend in its own row, below the plots (the Runs view's)
            item.setLabelTextColor(theme.TEXT)
            continue
        if not isinstance(item, pg.PlotItem):
            continue
        for side in ("left", "bottom", "right", "top"):
            axis = item.getAxis(side)
            axis.setPen(theme.TEXT_MUTED)
            axis.setTextPen(theme.TEXT)
        if item.titleLabel.text:
            item.setTitle(item.titleLabel.text, color=theme.TEXT)
        legend = item.legend
        if legend is not None:
            # Semi-transparent, so a curve under the legend stays visible (issue 12).
            fill = QColor(theme.NODE_FILL)
            fill.setAlpha(200)
            legend.setBrush(pg.mkBrush(fill))
            legend.setLabelTextColor(theme.TEXT)
