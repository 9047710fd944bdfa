"""Canvas interaction modes: each mouse gesture (pan, rubber band, edge drag, move) is one class in its own file."""
