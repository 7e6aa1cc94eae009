"""How many hypothesis examples a property runs: its CI count times ``HYPOTHESIS_SCALE``.

``HYPOTHESIS_SCALE=50 pytest tests/test_planning.py`` checks each property on fifty times
more random instances than CI does (explicit ``max_examples`` would otherwise override any
hypothesis profile).
"""

from __future__ import annotations

import os


def examples(n: int) -> int:
    return n * max(1, int(os.environ.get("HYPOTHESIS_SCALE", "1")))
