"""The inspector: the selected node's id, parameters (editors built from the schema), training fields, shapes,
counts, formulas, problems and, for a Conv2d, alternatives. Every edit goes through the document; the display
follows the analysis."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from designer.analysis.validate import Analysis, NodeInfo
from designer.editing.node_text import fmt_count, fmt_shape
from designer.layers.registry import get_spec
from designer.model.diagnostics import DesignError
from designer.model.graph import Node, port_ref
from designer.model.params import Kind, Param

from .. import theme
from .alternatives_box import AlternativesBox
from .param_editors import FloatSpinBox, OptionalEditor, ParamEditor, make_editor
from .steady_label import SteadyLabel

if TYPE_CHECKING:
    from ..document.document import Document

_MISSING = object()
#: lr_mult is edited like an optional float parameter; this schema gives it bounds and a tooltip.
_LR_MULT = Param("lr_mult", Kind.FLOAT, None, low=0, high=1000, doc="learning-rate multiplier for this node")


class Inspector(QScrollArea):
    """Shows one node (or a note about the selection) of the current document."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setMinimumWidth(340)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.document: Document | None = None
        self.node_id: str | None = None
        self._type: str | None = None
        #: The selected node's parameter editors, and the labels of the parameters it infers, by parameter name.
        self.editors: dict[str, ParamEditor] = {}
        self.inferred_labels: dict[str, QLabel] = {}
        self.alternatives: AlternativesBox | None = None
        self._show_empty("Select a node to see and edit its parameters.")

    # -- wiring ---------------------------------------------------------------------------------------------------

    def set_document(self, document: Document | None) -> None:
        """Follow ``document`` (None: show nothing)."""
        if self.document is not None:
            self.document.analysis_changed.disconnect(self._on_analysis_changed)
            self.document.graph.events.node_renamed.disconnect(self._on_node_renamed)
        self.document = document
        if document is not None:
            document.analysis_changed.connect(self._on_analysis_changed)
            document.graph.events.node_renamed.connect(self._on_node_renamed)
        self.show_node(None)

    def show_node(self, node_id: str | None, note: str = "") -> None:
        """Show ``node_id`` (None: show ``note`` or the empty hint)."""
        doc = self.document
        if doc is None or node_id is None or node_id not in doc.graph:
            self.node_id, self._type = None, None
            self._show_empty(note or "Select a node to see and edit its parameters.")
            return
        node = doc.graph[node_id]
        if (node_id, node.type) != (self.node_id, self._type):
            self.node_id, self._type = node_id, node.type
            self._build(node)
        self._refresh(doc.analysis)

    def _on_analysis_changed(self, analysis: Analysis) -> None:
        if self.node_id is not None:
            self.show_node(self.node_id)

    def _on_node_renamed(self, old: str, new: str) -> None:
        if self.node_id == old:
            self.node_id = new
            self.id_edit.setText(new)

    # -- building -------------------------------------------------------------------------------------------------

    def _show_empty(self, text: str) -> None:
        label = QLabel(text)
        label.setWordWrap(True)
        label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        label.setMargin(12)
        label.setStyleSheet(f"color: {theme.TEXT_MUTED.name()};")
        self.editors, self.inferred_labels = {}, {}
        self.setWidget(label)

    def _build(self, node: Node) -> None:
        spec = get_spec(node.type)
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(8, 8, 8, 8)
        color = theme.category_color(spec.category if spec else None).name()
        self.header = QLabel()
        self.header.setTextFormat(Qt.TextFormat.RichText)
        self.header.setWordWrap(True)
        self.header.setText(
            f"<span style='font-size:13pt;font-weight:600;color:{color}'>{html.escape(node.type)}"
            f"</span><br><span style='color:{theme.MUTED_HEX}'>{html.escape(spec.doc if spec else '')}</span>"
        )
        layout.addWidget(self.header)
        layout.addWidget(self._identity_box(node))
        layout.addWidget(self._params_box(node, spec.params if spec else ()))
        layout.addWidget(self._training_box())
        self.facts = self._text_box(layout, "Shapes and cost")
        self.formulas = self._text_box(layout, "Formulas")
        self.formulas.setFont(theme.font(11, mono=True))
        self.problems = self._text_box(layout, "Problems")
        self.alternatives = AlternativesBox(self.document) if node.type == "Conv2d" and self.document else None
        if self.alternatives is not None:
            layout.addWidget(self.alternatives)
        layout.addStretch(1)
        self.setWidget(body)

    def _identity_box(self, node: Node) -> QGroupBox:
        box = QGroupBox("Node")
        form = QFormLayout(box)
        self.id_edit = QLineEdit(node.id)
        self.id_edit.setToolTip("the node id; dots make groups (layer2.1.conv1)")
        self.id_edit.editingFinished.connect(self._on_id_edited)
        self.label_edit = QLineEdit(node.label or "")
        self.label_edit.setPlaceholderText("(none)")
        self.label_edit.editingFinished.connect(self._on_label_edited)
        form.addRow("id", self.id_edit)
        form.addRow("label", self.label_edit)
        return box

    def _params_box(self, node: Node, params: tuple[Param, ...]) -> QGroupBox:
        box = QGroupBox("Parameters")
        form = QFormLayout(box)
        self.editors, self.inferred_labels = {}, {}
        for p in params:
            name = QLabel(p.name)
            name.setToolTip(f"{p.doc}\n{p.describe()}" if p.doc else p.describe())
            if p.inferred:
                value = QLabel()
                value.setStyleSheet(f"color: {theme.MUTED_HEX};")
                self.inferred_labels[p.name] = value
                form.addRow(name, value)
                continue
            editor = make_editor(p)
            editor.edited.connect(lambda raw, merge, n=p.name: self._on_param_edited(n, raw, merge))
            self.editors[p.name] = editor
            form.addRow(name, editor)
        if not params:
            form.addRow(QLabel("no parameters"))
        return box

    def _training_box(self) -> QGroupBox:
        box = QGroupBox("Training")
        form = QFormLayout(box)
        self.frozen_box = QCheckBox("frozen (weights not trained)")
        self.frozen_box.toggled.connect(self._on_frozen_toggled)
        spin = FloatSpinBox()
        spin.setMinimumWidth(52)
        spin.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        spin.setDecimals(6)
        spin.setRange(0.0, 1000.0)
        spin.setSingleStep(0.1)
        spin.setKeyboardTracking(False)
        self.lr_editor = OptionalEditor(_LR_MULT, _FloatBox(_LR_MULT, spin), "default (1)")
        self.lr_editor.edited.connect(self._on_lr_edited)
        form.addRow(self.frozen_box)
        form.addRow("lr_mult", self.lr_editor)
        return box

    def _text_box(self, layout: QVBoxLayout, title: str) -> SteadyLabel:
        box = QGroupBox(title)
        inner = QVBoxLayout(box)
        label = SteadyLabel()  # new figures after an edit rarely change its height: no relayout of the form then
        inner.addWidget(label)
        layout.addWidget(box)
        return label

    # -- refreshing -----------------------------------------------------------------------------------------------

    def _refresh(self, analysis: Analysis) -> None:
        assert self.document is not None and self.node_id is not None
        node = self.document.graph[self.node_id]
        info = analysis.info.get(node.id)
        spec = get_spec(node.type)
        for p in spec.params if spec else ():
            if p.name in self.inferred_labels:
                _set_text(self.inferred_labels[p.name], _inferred_text(p, node, info))
            elif p.name in self.editors:
                _show_param(self.editors[p.name], p, node.params.get(p.name, _MISSING))
        if self.id_edit.text() != node.id and not self.id_edit.hasFocus():
            self.id_edit.setText(node.id)
        if self.label_edit.text() != (node.label or "") and not self.label_edit.hasFocus():
            self.label_edit.setText(node.label or "")
        self.frozen_box.blockSignals(True)
        self.frozen_box.setChecked(node.frozen)
        self.frozen_box.blockSignals(False)
        self.lr_editor.set_value(node.lr_mult)
        _set_text(self.facts, _facts_html(node, info, analysis))
        _set_text(self.formulas, "\n".join(info.explain()) if info is not None and info.explain() else "–")
        diags = analysis.for_node(node.id)
        _set_text(self.problems, "<br>".join(_diag_line(d) for d in diags) if diags else "none")
        colour = theme.ERROR_HEX if any(d.is_error for d in diags) else theme.WARNING_TEXT_HEX  # advice is a warning
        box, sheet = self.problems.parentWidget(), f"QGroupBox {{ color: {colour}; }}" if diags else ""
        if box is not None and box.styleSheet() != sheet:
            box.setStyleSheet(sheet)
        if self.alternatives is not None:
            self.alternatives.refresh(analysis, node.id)

    # -- edits ----------------------------------------------------------------------------------------------------

    def _on_param_edited(self, name: str, raw: Any, merge: bool) -> None:
        if self.document is not None and self.node_id is not None:
            self.document.set_param(self.node_id, name, raw, merge)

    def _on_id_edited(self) -> None:
        if self.document is None or self.node_id is None:
            return
        try:
            self.document.rename_node(self.node_id, self.id_edit.text())
            self.id_edit.setStyleSheet("")
        except ValueError as exc:
            self.id_edit.setStyleSheet(f"border: 1px solid {theme.ERROR_HEX};")
            self.id_edit.setToolTip(str(exc))

    def _on_label_edited(self) -> None:
        if self.document is not None and self.node_id is not None:
            self.document.set_field(self.node_id, "label", self.label_edit.text().strip() or None)

    def _on_frozen_toggled(self, checked: bool) -> None:
        if self.document is not None and self.node_id is not None:
            self.document.set_field(self.node_id, "frozen", checked)

    def _on_lr_edited(self, value: Any, merge: bool) -> None:
        if self.document is not None and self.node_id is not None:
            self.document.set_field(self.node_id, "lr_mult", value, merge)


class _FloatBox(ParamEditor):
    """A float spin box as a ParamEditor (for lr_mult inside an OptionalEditor)."""

    def __init__(self, param: Param, box: FloatSpinBox):
        super().__init__(param)
        self.box = box
        self.row.addWidget(box)
        box.valueChanged.connect(lambda v: self.edited.emit(float(v), True))

    def _show(self, value: Any) -> None:
        self.box.blockSignals(True)
        self.box.setValue(float(value) if value is not None else 1.0)
        self.box.blockSignals(False)

    def raw(self) -> float:
        return self.box.value()


def _set_text(label: QLabel | SteadyLabel, text: str) -> None:
    if label.text() != text:  # an unchanged text would still relayout the whole form
        label.setText(text)


def _show_param(editor: ParamEditor, p: Param, raw: Any) -> None:
    """Show a raw file value in canonical form; a value the schema refuses shows the default, marked red."""
    if raw is _MISSING:
        editor.set_value(p.canonical_default)
        editor.set_problem(None)
        return
    try:
        editor.set_value(p.read(raw))
        editor.set_problem(None)
    except DesignError as exc:
        editor.set_value(p.canonical_default)
        editor.set_problem(exc.message)


def _inferred_text(p: Param, node: Node, info: NodeInfo | None) -> str:
    value = info.ctx.p.get(p.name) if info is not None and info.ctx is not None else None
    shown = "?" if value is None else (", ".join(map(str, value)) if isinstance(value, tuple) else str(value))
    return f"{shown}  (from the input)"


def _facts_html(node: Node, info: NodeInfo | None, analysis: Analysis) -> str:
    ins = [f"{html.escape(s)}: {fmt_shape(analysis.shape(s))}" for s in node.inputs]
    rows = [("inputs", "<br>".join(ins) or "–"), _output_row(node, info)]
    if info is not None:
        trainable = "" if info.trainable_params == info.params else f" ({info.trainable_params:,} trainable)"
        rows += [
            ("parameters", f"{info.params:,}{trainable}"),
            ("mult-adds", f"{info.mult_adds:,} ({fmt_count(info.mult_adds)})"),
        ]
        if info.receptive_field is not None and info.rf_stride is not None:
            (rh, rw), (sh, sw) = info.receptive_field, info.rf_stride
            rows.append(("receptive field", f"{rh}×{rw}, stride {sh:g}×{sw:g}"))
    return theme.key_value_table(rows)


def _output_row(node: Node, info: NodeInfo | None) -> tuple[str, str]:
    """The output's shape; for a Split, each part's under the reference that reads it (``split1:1``)."""
    if info is None or len(info.ports) < 2:
        return "output", fmt_shape(info.shape) if info is not None else "?"
    parts = [f"{html.escape(port_ref(node.id, k))}: {fmt_shape(s)}" for k, s in enumerate(info.ports)]
    return "outputs", "<br>".join(parts)


def _diag_line(d: Any) -> str:
    color = theme.ERROR_HEX if d.is_error else theme.WARNING_TEXT_HEX
    hint = f"<br><i>{html.escape(d.hint)}</i>" if d.hint else ""
    return f"<span style='color:{color}'>{html.escape(d.message)}</span>{hint}"
