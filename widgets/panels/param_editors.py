"""Parameter editors built from the registry's Param schema: one editor class per value kind, never per layer.

Each editor shows a canonical value (``set_value``, signals blocked) and emits ``edited(raw, merge)`` with the value to
write to the file (pairs collapse to one number when both halves agree); ``merge`` is true for spin-box steps, so a
burst of them becomes one undo step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSizePolicy,
    QSpinBox,
    QWidget,
)

from designer.model.diagnostics import DesignError
from designer.model.params import MAX_SIZE, Kind, Param

from .. import theme


class ParamEditor(QWidget):
    """Base: a row widget editing one parameter."""

    edited = Signal(object, bool)

    def __init__(self, param: Param):
        super().__init__()
        self.param = param
        self.row = QHBoxLayout(self)
        self.row.setContentsMargins(0, 0, 0, 0)
        self.row.setSpacing(4)
        self.setToolTip(f"{param.doc}\n{param.name}: {param.describe()}" if param.doc else param.describe())

    def set_value(self, value: Any) -> None:
        """Show a canonical value without emitting ``edited``."""
        self.blockSignals(True)
        try:
            self._show(value)
        finally:
            self.blockSignals(False)

    def _show(self, value: Any) -> None:
        raise NotImplementedError

    def raw(self) -> Any:
        """The value shown, as written to the file (editors that can sit inside an ``OptionalEditor`` give it)."""
        raise NotImplementedError(f"{type(self).__name__} cannot be wrapped in an OptionalEditor")

    def set_problem(self, message: str | None) -> None:
        """Mark the editor red with the problem as tooltip (None clears it)."""
        sheet = f"QSpinBox, QDoubleSpinBox, QLineEdit, QComboBox {{ border: 1px solid {theme.ERROR_HEX}; }}"
        sheet = sheet if message else ""
        if sheet != self.styleSheet():  # restyling is costly; most refreshes change nothing
            self.setStyleSheet(sheet)
        if message:
            self.setToolTip(message)


def _bounds(p: Param, low_default: int = 1) -> tuple[int, int]:
    low = int(p.low) if p.low is not None else low_default
    high = int(p.high) if p.high is not None else MAX_SIZE
    return max(low, -MAX_SIZE), min(high, MAX_SIZE)


def _narrow(box: QWidget) -> QWidget:
    """Let a spin box shrink to its dock: its size hint is sized for the largest allowed value (8 digits)."""
    box.setMinimumWidth(52)
    box.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
    return box


def _spin(low: int, high: int, special: str = "") -> QSpinBox:
    box = QSpinBox()
    _narrow(box)
    box.setRange(low, high)
    box.setKeyboardTracking(False)  # typing "64" is one edit, not "6" then "64"
    box.setAccelerated(True)
    if special:
        box.setSpecialValueText(special)
    return box


class IntEditor(ParamEditor):
    def __init__(self, param: Param):
        super().__init__(param)
        self.box = _spin(*_bounds(param))
        self.row.addWidget(self.box)
        self.box.valueChanged.connect(lambda v: self.edited.emit(v, True))

    def _show(self, value: Any) -> None:
        self.box.blockSignals(True)
        self.box.setValue(value if isinstance(value, int) else self.box.minimum())
        self.box.blockSignals(False)

    def raw(self) -> int:
        return self.box.value()


class FloatSpinBox(QDoubleSpinBox):
    """A double spin box that shows 1e-05 as 1e-05, not 0.00."""

    def textFromValue(self, value: float) -> str:
        return f"{value:g}"

    def valueFromText(self, text: str) -> float:
        try:
            return float(text)
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int) -> tuple[QValidator.State, str, int]:
        try:
            float(text)
            return QValidator.State.Acceptable, text, pos
        except ValueError:
            return QValidator.State.Intermediate, text, pos


class FloatEditor(ParamEditor):
    def __init__(self, param: Param):
        super().__init__(param)
        self.box = FloatSpinBox()
        _narrow(self.box)
        self.box.setDecimals(10)
        self.box.setRange(param.low if param.low is not None else -1e9, param.high if param.high is not None else 1e9)
        self.box.setSingleStep(0.1)
        self.box.setKeyboardTracking(False)
        self.row.addWidget(self.box)
        self.box.valueChanged.connect(lambda v: self.edited.emit(float(v), True))

    def _show(self, value: Any) -> None:
        self.box.blockSignals(True)
        self.box.setValue(float(value) if isinstance(value, (int, float)) else 0.0)
        self.box.blockSignals(False)

    def raw(self) -> float:
        return self.box.value()


class BoolEditor(ParamEditor):
    def __init__(self, param: Param):
        super().__init__(param)
        self.box = QCheckBox()
        self.row.addWidget(self.box)
        self.box.toggled.connect(lambda v: self.edited.emit(bool(v), False))

    def _show(self, value: Any) -> None:
        self.box.blockSignals(True)
        self.box.setChecked(bool(value))
        self.box.blockSignals(False)


class ChoiceEditor(ParamEditor):
    def __init__(self, param: Param, choices: tuple[str, ...] | None = None):
        super().__init__(param)
        self.box = QComboBox()
        self.box.addItems(list(choices or param.choices))
        self.row.addWidget(self.box)
        self.box.activated.connect(lambda i: self.edited.emit(self.box.itemText(i), False))

    def _show(self, value: Any) -> None:
        self.box.blockSignals(True)
        self.box.setCurrentIndex(max(0, self.box.findText(str(value))))
        self.box.blockSignals(False)


class IntsEditor(ParamEditor):
    """Two or four spin boxes (kernel, stride, padding, ZeroPad2d's sides); equal values are written as one number."""

    def __init__(self, param: Param, count: int = 2, special: str = "", low_default: int = 1):
        super().__init__(param)
        low, high = _bounds(param, low_default)
        self.boxes = [_spin(low, high, special) for _ in range(count)]
        for k, box in enumerate(self.boxes):
            if k:
                self.row.addWidget(QLabel("×" if count == 2 else ","))
            self.row.addWidget(box, 1)
            box.valueChanged.connect(lambda _v: self.edited.emit(self.raw(), True))
        self._special = special

    def values(self) -> list[int | None]:
        """The shown numbers (None where a box shows its special ``keep`` text)."""
        return [None if self._special and b.value() == b.minimum() else b.value() for b in self.boxes]

    def raw(self) -> Any:
        """The value to write to the file: one number when every box agrees, else the list."""
        values = self.values()
        return values[0] if len(set(values)) == 1 and values[0] is not None else values

    def _show(self, value: Any) -> None:
        values = list(value) if isinstance(value, (tuple, list)) else [value] * len(self.boxes)
        for box, v in zip(self.boxes, values):
            box.blockSignals(True)
            box.setValue(v if isinstance(v, int) else box.minimum())
            box.blockSignals(False)


class PaddingEditor(ParamEditor):
    """A mode (numbers, ``same``, ``valid``) and the pair, enabled in number mode."""

    def __init__(self, param: Param):
        super().__init__(param)
        self.mode = QComboBox()
        self.mode.addItems(["size", "same", "valid"])
        self.pair = IntsEditor(param, 2, low_default=0)
        self.row.addWidget(self.mode)
        self.row.addWidget(self.pair, 1)
        self.mode.activated.connect(self._on_mode)
        self.pair.edited.connect(lambda raw, merge: self.edited.emit(raw, merge))

    def _on_mode(self, index: int) -> None:
        self.pair.setEnabled(index == 0)
        self.edited.emit(self.pair.raw() if index == 0 else self.mode.itemText(index), False)

    def _show(self, value: Any) -> None:
        self.mode.blockSignals(True)
        if isinstance(value, str):
            self.mode.setCurrentText(value)
        else:
            self.mode.setCurrentIndex(0)
            self.pair.set_value(value)
        self.mode.blockSignals(False)
        self.pair.setEnabled(not isinstance(value, str))


class OptionalEditor(ParamEditor):
    """A checkbox "default" in front of another editor: checked means null (stride = kernel, no size, ...)."""

    def __init__(self, param: Param, inner: ParamEditor, default_text: str = "default"):
        super().__init__(param)
        self.auto = QCheckBox(default_text)
        self.inner = inner
        self.row.addWidget(self.auto)
        self.row.addWidget(inner, 1)
        self.auto.toggled.connect(self._on_auto)
        inner.edited.connect(lambda raw, merge: self.edited.emit(raw, merge))

    def _on_auto(self, checked: bool) -> None:
        self.inner.setEnabled(not checked)
        self.edited.emit(None if checked else self.inner_raw(), False)

    def inner_raw(self) -> Any:
        """The inner editor's current value, as written to the file."""
        return self.inner.raw()

    def _show(self, value: Any) -> None:
        self.auto.blockSignals(True)
        self.auto.setChecked(value is None)
        self.auto.blockSignals(False)
        self.inner.setEnabled(value is not None)
        self.inner.set_value(value)


class OptBoolEditor(ParamEditor):
    def __init__(self, param: Param):
        super().__init__(param)
        self.box = QComboBox()
        self.box.addItems(["default", "true", "false"])
        self.row.addWidget(self.box)
        self.box.activated.connect(lambda i: self.edited.emit([None, True, False][i], False))

    def _show(self, value: Any) -> None:
        self.box.blockSignals(True)
        self.box.setCurrentIndex(0 if value is None else 1 if value else 2)
        self.box.blockSignals(False)


class ListEditor(ParamEditor):
    """A comma-separated list of integers (shapes); checked with the schema before it is applied."""

    def __init__(self, param: Param):
        super().__init__(param)
        self.edit = QLineEdit()
        self.row.addWidget(self.edit)
        self.edit.editingFinished.connect(self._on_finished)

    def parse(self) -> list[int] | None:
        """The typed list if the schema accepts it (else None, with the editor marked red)."""
        try:
            values = [
                int(t)
                for t in self.edit.text().replace("[", "").replace("]", "").replace("x", ",").split(",")
                if t.strip()
            ]
            self.param.read(values)
        except (ValueError, DesignError) as exc:
            self.set_problem(str(exc) if isinstance(exc, DesignError) else f"not a list of integers: {exc}")
            return None
        self.set_problem(None)
        return values

    def _on_finished(self) -> None:
        values = self.parse()
        if values is not None:
            self.edited.emit(values, False)

    def _show(self, value: Any) -> None:
        text = ", ".join(str(v) for v in value) if isinstance(value, (tuple, list)) else ""
        if text != self.edit.text():
            self.edit.setText(text)


class ScaleEditor(FloatEditor):
    """One factor for both axes (Upsample scale_factor); a pair shows its first value."""

    def _show(self, value: Any) -> None:
        super()._show(value[0] if isinstance(value, (tuple, list)) else value)


_FACTORIES: dict[Kind, Callable[[Param], ParamEditor]] = {
    Kind.INT: IntEditor,
    Kind.FLOAT: FloatEditor,
    Kind.BOOL: BoolEditor,
    Kind.CHOICE: ChoiceEditor,
    Kind.PAIR: lambda p: IntsEditor(p, 2, low_default=1),
    Kind.PADDING: PaddingEditor,
    Kind.OPT_INT: lambda p: OptionalEditor(p, IntEditor(p), "none"),
    Kind.OPT_PAIR: lambda p: OptionalEditor(p, IntsEditor(p, 2), "default"),
    Kind.OPT_FLOAT_PAIR: lambda p: OptionalEditor(p, ScaleEditor(p), "none"),
    Kind.OPT_BOOL: OptBoolEditor,
    Kind.ADAPTIVE: lambda p: IntsEditor(p, 2, special="keep", low_default=0),
    Kind.PAD4: lambda p: IntsEditor(p, 4, low_default=0),
    Kind.SHAPE: ListEditor,
    Kind.TARGET_SHAPE: ListEditor,
    Kind.INTS: ListEditor,
    Kind.DIMS: ListEditor,
}


def make_editor(param: Param) -> ParamEditor:
    """The editor for a parameter, chosen by its kind; bounds and choices come from the schema."""
    return _FACTORIES[param.kind](param)
