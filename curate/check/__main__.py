"""``python -m curate.check FILE...``: the hook without the CLI's start-up cost."""

import sys

from curate.check import main

sys.exit(main())
