"""Sweeps: a search space in the project file, trials run by Optuna as ordinary run folders, and comparisons.

``space`` and ``check`` read and check the ``search`` section (no torch, no Optuna); ``runner`` runs a sweep with
Optuna (imported when a sweep starts); ``table`` lists run folders and trials; ``diff`` compares two designs.
"""
