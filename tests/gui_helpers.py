"""What the GUI tests share that needs Qt (kept out of conftest.py, which the core tests load without Qt)."""

from __future__ import annotations

from widgets.panels import dialogs as dlg


class ScriptedDialogs(dlg.Dialogs):
    """Answers every question from a script and records what was asked; never opens a modal dialog."""

    def __init__(self) -> None:
        self.save_answer = dlg.DISCARD
        self.paths: list[str | None] = []
        self.recover = True
        self.template: tuple[str, bool] | None = None
        self.asked: list[str] = []
        self.errors: list[str] = []

    def ask_save_changes(self, parent, name):
        self.asked.append(name)
        return self.save_answer

    def error(self, parent, title, text):
        self.errors.append(text)

    def info(self, parent, title, text):
        self.asked.append(text)

    def open_path(self, parent, directory):
        return self.paths.pop(0)

    def save_path(self, parent, directory, title="", file_filter=""):
        return self.paths.pop(0)

    def ask_recover(self, parent, text):
        self.asked.append(text)
        return self.recover

    def ask_text(self, parent, title, label, text=""):
        return self.paths.pop(0)

    def choose_template(self, parent):
        return self.template
