"""Entry point for `python -m emotion_core`."""

import sys

from .cli import main

sys.exit(main())
