"""How many examples each fuzz target runs: a short bounded run in ``make test``, a long
one in ``make fuzz``.

The short run is derandomised (the same examples on every run, so a red build is a real
regression, not a new random find) and bounded by ``max_examples``; ``make fuzz`` sets
``FUZZ_EXAMPLES`` (examples per target) and draws fresh random examples, keeping any
failure in Hypothesis' example database (``.hypothesis/``) so that the next run replays it.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

#: Examples per target in the long run (``make fuzz``); unset in ``make test``.
LONG_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "0") or 0)


def fuzz(examples: int = 150) -> settings:
    """Settings of one fuzz target: ``examples`` in the short run, ``FUZZ_EXAMPLES`` in
    the long one. No per-example deadline: the machine is shared, and a slow example is
    not a failure (input sizes are bounded by the strategies instead)."""
    long = LONG_EXAMPLES > 0
    return settings(
        max_examples=LONG_EXAMPLES if long else examples,
        deadline=None,
        derandomize=not long,
        # The short run keeps no example database (derandomised, it replays nothing).
        **({} if long else {"database": None}),
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
        ],
    )
