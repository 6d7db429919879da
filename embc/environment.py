"""Numbers that users set in the environment (EMBC_*), read with the bounds that make them mean something: a
value out of them is an error that names the variable, never a silent default."""

from __future__ import annotations

import math
import os

from embc.errors import EmbcError

LONGEST_WAIT = 366 * 86400  # seconds: the clocks that time a wait (a lock's, a schedule's) overflow not far beyond
NUMBERS = {  # name: (default, lowest, highest, whether an integer); what each means is where it is read
    "EMBC_MAX_IMAGE_PIXELS": (50_000_000, 1, math.inf, True),
    "EMBC_MAX_TEXT_CHARS": (20_000, 1, math.inf, True),
    "EMBC_WAIT_TIMEOUT": (600.0, 0.0, float(LONGEST_WAIT), False),
}


def setting(name: str) -> float:
    """The variable's value, its default when it is unset or empty; EmbcError when it is out of its bounds."""
    default, low, high, integer = NUMBERS[name]
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text) if integer else float(text)
    except ValueError:
        value = math.nan
    if not low <= value <= high:
        upper = f" and <= {high:.0f}" if high < math.inf else ""
        raise EmbcError(f"{name} must be {'an integer' if integer else 'a number'} >= {low:g}{upper}, not {text!r}")
    return value


def check_settings() -> None:
    """Refuse, before any work, an EMBC_* variable set to what it cannot be."""
    from embc.cluster.memory import budget
    from embc.ingest.precision import default_precision

    for name in NUMBERS:
        setting(name)
    budget()
    default_precision()
