"""The Qt front end of CNN Designer (PySide6). All Qt code lives in this package; ``designer`` knows nothing of it.

Rooms: ``canvas/`` (scene, view, items, interactions), ``document/`` (the document, its undo commands, files and
autosave), ``panels/`` (palette, inspector, summary, problems, training, insight, dialogs); the window itself, its
actions and the theme sit here.
"""
