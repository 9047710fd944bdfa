"""Where the insight dock of the window takes its model and samples from: the running training's model and data, or
else the open design compiled untrained with a few built-in samples fitting its input and task."""

from __future__ import annotations

from typing import Any

#: Samples of the built-in dataset drawn for an untrained design: enough to pick an example of each class.
PREVIEW_SAMPLES = 256


class WindowSources:
    """``models()`` and ``samples()`` of the insight dock, over the designer window's training panel and document."""

    def __init__(self, window: Any):
        self.window = window
        self._compiled: dict[str, Any] = {}  # the untrained design's module, rebuilt only when the design changed
        self._previews: dict[Any, Any] = {}  # the untrained design's sample images, by input shape and task

    def training(self) -> Any:
        """The training panel's latest run (a ``RemoteRun``: its model is compiled here with the run's weights)."""
        panel = getattr(self.window, "training_panel", None)
        return panel.trainer if panel is not None else None

    def models(self) -> Any:
        """``(module, design)`` of the run being trained, else of the open design (None while it has errors)."""
        trainer = self.training()
        model = trainer.model if trainer is not None else None  # read once: each read asks the run for new weights
        if model is not None:
            return model, trainer.graph
        document = self.window.document
        if document is None or not document.analysis.ok:
            return None
        if self._compiled.get("analysis") is not document.analysis:
            from designer.compiler import compile_graph

            module = compile_graph(document.graph, seed=0, analysis=document.analysis)
            self._compiled.update(analysis=document.analysis, pair=(module, document.graph))
        return self._compiled["pair"]

    def samples(self) -> Any:
        """The run's data bundle, else built-in samples for the open design's input shape and task."""
        trainer = self.training()
        if trainer is not None and getattr(trainer, "bundle", None) is not None:
            return trainer.bundle
        pair = self.models()
        if pair is None or len(pair[1].input_ids()) != 1:
            return None
        shape = self.window.document.analysis.shape(pair[1].input_ids()[0])
        if shape is None or len(shape) != 3:
            return None
        task = _task_data(pair[1])
        if (shape, task) not in self._previews:  # drawn once per input shape: at 224x224 each sample costs ~20 ms
            self._previews.clear()
            if task is None:
                from designer.training.data import load_data

                self._previews[shape, task] = load_data("shapes", shape, samples=PREVIEW_SAMPLES)
            else:
                from designer.training.task_data import load_task_data

                self._previews[shape, task] = load_task_data(task[0], task[1], shape, samples=PREVIEW_SAMPLES)
        return self._previews[shape, task]


def _task_data(graph: Any) -> tuple[str, str] | None:
    """``(task, built-in data)`` for previewing a segmentation or detection design untrained; None: classification."""
    from designer.training.config import ConfigError, read_section

    try:
        config = read_section(graph)
    except ConfigError:
        return None
    if config.task == "classification":
        return None
    builtin = config.data if config.data.startswith("shapes") else "shapes"
    return config.task, builtin
