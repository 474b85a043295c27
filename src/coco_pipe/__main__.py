"""``python -m coco_pipe`` is the ``coco-pipe`` command."""

import sys

from .cli import main

sys.exit(main())
