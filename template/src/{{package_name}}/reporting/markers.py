"""The markers around the results block that the report stage writes into README.md.

Defined here, in a module that imports nothing of the project, because `provenance` (run with
only copier and PyYAML at hand) must recognise the block too: it is generated, not the author's.
"""

from __future__ import annotations

import re

RESULTS_START = "<!-- results:start (written by `make report`; edit outside these markers) -->"
RESULTS_END = "<!-- results:end -->"
# The whole block, whatever follows "results:start" in the first marker (an older wording, say).
RESULTS_BLOCK = re.compile(r"<!-- results:start[^>]*-->.*?<!-- results:end -->", re.DOTALL)
