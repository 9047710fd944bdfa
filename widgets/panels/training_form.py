"""The training settings form: every ``TrainConfig`` field as a widget, read back as a config."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QToolButton,
    QWidget,
)

from designer.training.api import TrainConfig
from designer.training.config import OPTIMIZERS, PRECISIONS, SCHEDULES

DATA_KINDS = ("shapes", "mnist", "fashion-mnist", "cifar10", "folder")


class ConfigForm(QWidget):
    """Every training setting as a form; ``config()`` reads it, ``set_config()`` fills it."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        form = QFormLayout(self)
        self._add_data_rows(form)
        self._add_optimizer_rows(form)
        self._add_run_rows(form)
        self._extra: dict[str, Any] = {}

    def _add_data_rows(self, form: QFormLayout) -> None:
        self.data_kind = combo(DATA_KINDS)
        self.data_root = QLineEdit(placeholderText="folder with the dataset")
        form.addRow("Dataset", row(self.data_kind, (self.data_root, 1), tool_button("…", self._browse)))
        self.samples = spin(10, 1_000_000, 10_000, step=1000)
        self.val_split = dspin(0.0, 0.9, 0.1, 0.05, 2)
        self.aug = {
            name: QCheckBox(label)
            for name, label in (
                ("crop", "crop"),
                ("resized_crop", "resized crop"),
                ("hflip", "h-flip"),
                ("vflip", "v-flip"),
                ("affine", "affine"),
            )
        }
        self.rotation = dspin(0, 180, 0, 5, 0)
        self.color_jitter = dspin(0, 1, 0, 0.05, 2)
        for label, w in (
            ("Shapes samples", self.samples),
            ("Validation share", self.val_split),
            ("Augmentation", grid(list(self.aug.values()), columns=3)),
            ("Rotation (°)", self.rotation),
            ("Colour jitter", self.color_jitter),
        ):
            form.addRow(label, w)

    def _add_optimizer_rows(self, form: QFormLayout) -> None:
        self.optimizer = combo(OPTIMIZERS)
        self.lr = dspin(1e-6, 10.0, 1e-3, 1e-4, 6)
        self.find_lr_button = tool_button("Find…", lambda: None)
        self.find_lr_button.setToolTip("learning-rate range test: plot the loss against the learning rate")
        self.momentum = dspin(0, 0.999, 0.9, 0.01, 3)
        self.nesterov = QCheckBox("Nesterov")
        self.weight_decay = dspin(0, 1, 0, 1e-4, 6)
        self.schedule = combo(SCHEDULES)
        self.label_smoothing = dspin(0, 0.9, 0, 0.05, 2)
        self.warmup_epochs = dspin(0, 1000, 0, 0.1, 2)
        self.warmup_epochs.setToolTip("epochs over which the learning rate rises linearly from 0 (0.1: a tenth of one)")
        self.clip_grad_norm = dspin(0, 1e6, 0, 0.5, 3)
        self.clip_grad_norm.setToolTip("scale the gradients down to this total norm before each step (0: off)")
        for label, w in (
            ("Optimiser", self.optimizer),
            ("Learning rate", row((self.lr, 1), self.find_lr_button)),
            ("Momentum (SGD)", self.momentum),
            ("", self.nesterov),
            ("Weight decay", self.weight_decay),
            ("LR schedule", self.schedule),
            ("Label smoothing", self.label_smoothing),
            ("Warm-up (epochs)", self.warmup_epochs),
            ("Clip gradient norm", self.clip_grad_norm),
        ):
            form.addRow(label, w)

    def _add_run_rows(self, form: QFormLayout) -> None:
        self.epochs = spin(1, 10_000, 5)
        self.batch_size = spin(1, 65_536, 64)
        self.seed = spin(0, 2**31 - 1, 0)
        self.device = combo(("auto", "cpu", "cuda", "mps"))
        self.precision = combo(PRECISIONS)
        self.init_weights = QLineEdit(placeholderText="none: start from random weights")
        weights = row((self.init_weights, 1), tool_button("…", self._browse_weights))
        for label, w in (
            ("Epochs", self.epochs),
            ("Batch size", self.batch_size),
            ("Seed", self.seed),
            ("Device", self.device),
            ("Mixed precision", self.precision),
            ("Start from weights", weights),
        ):
            form.addRow(label, w)

    def _browse(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Dataset folder", self.data_root.text())
        if path:
            self.data_root.setText(path)

    def _browse_weights(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Weights", self.init_weights.text(), "Checkpoints (*.pt *.pth *.ckpt);;All files (*)"
        )
        if path:
            self.init_weights.setText(path)

    def config(self) -> TrainConfig:
        """The form's settings (settings the form does not show are kept from the last ``set_config``)."""
        kind = self.data_kind.currentText()
        root = self.data_root.text().strip()
        data = f"{kind}:{root}" if root or kind != "shapes" else kind  # shapes:N draws its first N classes
        augment: dict[str, Any] = {k: True for k, box in self.aug.items() if box.isChecked()}
        if self.rotation.value():
            augment["rotation"] = self.rotation.value()
        if self.color_jitter.value():
            augment["color_jitter"] = self.color_jitter.value()
        values = dict(
            self._extra,
            data=data,
            samples=self.samples.value(),
            val_split=self.val_split.value(),
            augment=augment,
            optimizer=self.optimizer.currentText(),
            lr=self.lr.value(),
            momentum=self.momentum.value(),
            nesterov=self.nesterov.isChecked(),
            weight_decay=self.weight_decay.value(),
            schedule=self.schedule.currentText(),
            label_smoothing=self.label_smoothing.value(),
            warmup_epochs=self.warmup_epochs.value(),
            clip_grad_norm=self.clip_grad_norm.value(),
            epochs=self.epochs.value(),
            batch_size=self.batch_size.value(),
            seed=self.seed.value(),
            device=self.device.currentText(),
            precision=self.precision.currentText(),
            init_weights=self.init_weights.text().strip() or None,
        )
        return TrainConfig.from_dict(values)

    def set_config(self, cfg: TrainConfig) -> None:
        self._extra = cfg.to_dict()
        kind, _, root = cfg.data.partition(":")
        self.data_kind.setCurrentText(kind)
        self.data_root.setText(root)
        for name, box in self.aug.items():
            box.setChecked(bool(cfg.augment.get(name)))
        self.rotation.setValue(float(cfg.augment.get("rotation", 0)))
        self.color_jitter.setValue(float(cfg.augment.get("color_jitter", 0)))
        for name in (
            "samples",
            "val_split",
            "lr",
            "momentum",
            "weight_decay",
            "label_smoothing",
            "warmup_epochs",
            "clip_grad_norm",
            "epochs",
            "batch_size",
            "seed",
        ):
            getattr(self, name).setValue(getattr(cfg, name))
        self.nesterov.setChecked(cfg.nesterov)
        self.init_weights.setText(cfg.init_weights or "")
        for name in ("optimizer", "schedule", "device", "precision"):
            getattr(self, name).setCurrentText(getattr(cfg, name).split(":")[0])


def row(*widgets: QWidget | tuple[QWidget, int]) -> QWidget:
    """Widgets side by side; a ``(widget, stretch)`` pair takes the spare room."""
    row = QWidget()
    lay = QHBoxLayout(row)
    lay.setContentsMargins(0, 0, 0, 0)
    for w in widgets:
        widget, stretch = w if isinstance(w, tuple) else (w, 0)
        lay.addWidget(widget, stretch)
    return row


def button(text: str, slot: Callable[[], None], enabled: bool = True) -> QPushButton:
    button = QPushButton(text)
    button.setEnabled(enabled)
    button.clicked.connect(slot)
    return button


def tool_button(text: str, slot: Callable[[], None]) -> QToolButton:
    button = QToolButton()
    button.setText(text)
    button.clicked.connect(slot)
    return button


def combo(items: tuple[str, ...]) -> QComboBox:
    box = QComboBox()
    box.addItems(list(items))
    return box


def spin(low: int, high: int, value: int, step: int = 1) -> QSpinBox:
    box = QSpinBox(minimum=low, maximum=high, singleStep=step)
    box.setValue(value)
    return box


def dspin(low: float, high: float, value: float, step: float, decimals: int) -> QDoubleSpinBox:
    box = QDoubleSpinBox(decimals=decimals, minimum=low, maximum=high, singleStep=step)
    box.setValue(value)
    return box


def grid(widgets: list[QWidget], columns: int) -> QWidget:
    """Widgets in rows of ``columns`` (check boxes that would not fit one row of a narrow dock)."""
    box = QWidget()
    layout = QGridLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    for i, w in enumerate(widgets):
        layout.addWidget(w, i // columns, i % columns)
    return box
