"""The training engine, split by concern; ``designer.train`` is the public entry point."""
