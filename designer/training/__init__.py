"""The training engine, split by concern; ``designer.training.api`` is the public entry point."""
