"""Open the CNN Designer window: ``python main.py [FILE]`` (``make run``)."""

from __future__ import annotations

import sys

from widgets.app import main

if __name__ == "__main__":
    sys.exit(main())
