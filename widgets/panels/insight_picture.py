"""The insight dock's picture: an image page (an RGB base under a colour-mapped scalar image with its colour bar) and
a scatter page (embeddings), in the theme. It draws what ``designer.insight`` computed and holds nothing else."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QStackedWidget, QWidget

from designer.palette import colour

from .plot_style import style_plots


class InsightPicture(QStackedWidget):
    """Page 0 draws a ``designer.insight.View``, page 1 an ``Embedding`` coloured by class."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        image_page = pg.GraphicsLayoutWidget()
        self.viewbox = image_page.addViewBox(lockAspect=True, invertY=True)
        self.base_item = pg.ImageItem(axisOrder="row-major")
        self.values_item = pg.ImageItem(axisOrder="row-major")
        self.viewbox.addItem(self.base_item)
        self.viewbox.addItem(self.values_item)
        self.colorbar = pg.ColorBarItem(values=(0, 1), interactive=False, width=14)
        self.colorbar.setImageItem(self.values_item)
        image_page.addItem(self.colorbar)
        scatter_page = pg.GraphicsLayoutWidget()
        self.scatter_plot = scatter_page.addPlot()
        self.scatter_plot.addLegend()
        self.pages = [image_page, scatter_page]
        for page in self.pages:
            self.addWidget(page)
        self.restyle()

    def restyle(self) -> None:
        """Redraw the plots' frames in the current theme."""
        for page in self.pages:
            style_plots(page)

    def clear(self) -> None:
        """Show nothing (after a failed computation)."""
        self.base_item.clear()
        self.values_item.clear()

    def draw_view(self, view: Any) -> None:
        """A ``View``: its base picture, and its values colour-mapped over it with their colour bar."""
        from designer.insight.images import to_uint8

        self.setCurrentIndex(0)
        if view.base is not None:
            self.base_item.setImage(to_uint8(view.base), autoLevels=False, levels=(0, 255))
        else:
            self.base_item.clear()
        self.colorbar.setVisible(view.values is not None)
        if view.values is None:
            self.values_item.clear()
        else:
            self.values_item.setImage(np.asarray(view.values, dtype=np.float32), autoLevels=False)
            self.values_item.setOpacity(view.alpha if view.base is not None else 1.0)
            self.colorbar.setColorMap(_colormap(view.cmap))
            self.colorbar.setLevels(view.levels)
        self.viewbox.autoRange(padding=0.02)

    def draw_embedding(self, emb: Any, classes: Sequence[str]) -> None:
        """Samples as points, one colour per class (the colours of every class plot), with a legend."""
        self.setCurrentIndex(1)
        self.scatter_plot.clear()
        for label in sorted(set(int(v) for v in emb.labels)):
            pts = emb.points[emb.labels == label]
            self.scatter_plot.plot(
                pts[:, 0],
                pts[:, 1],
                pen=None,
                symbol="o",
                symbolSize=6,
                name=classes[label] if label < len(classes) else str(label),
                symbolBrush=pg.mkBrush(*colour(label)),
                symbolPen=None,
            )


def _colormap(name: str) -> pg.ColorMap:
    from designer.insight.images import COLORMAPS

    stops = np.asarray(COLORMAPS[name], dtype=np.ubyte)
    return pg.ColorMap(np.linspace(0, 1, len(stops)), stops)
