"""``python -m curate.check FILE...``: the hook without the CLI's start-up cost."""

import gc
import sys

from curate.check import main
from curate.cli.guard import guarded

code = guarded(main)
gc.freeze()  # the process ends here: spare the final garbage collections (see curate.cli.main)
sys.exit(code)
