"""The memory budget a job may use, and refusing a job that would exceed it instead of being killed."""

from __future__ import annotations

import math
import os

from embc.errors import EmbcError

_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def budget() -> int:
    """Bytes a job may use: EMBC_MEMORY_BUDGET (e.g. 4G), else half the memory available now."""
    raw = os.environ.get("EMBC_MEMORY_BUDGET", "").strip()
    given = raw.upper().removesuffix("B")
    if given:
        unit = given[-1] if given[-1] in _UNITS else ""
        try:
            size = float(given[:len(given) - len(unit)]) * _UNITS[unit]
        except ValueError:
            size = math.nan
        if not 0 < size < math.inf:
            raise EmbcError(f"EMBC_MEMORY_BUDGET must be a size like 4G or 512M, not {raw!r}")
        return int(size)
    try:
        with open("/proc/meminfo") as info:
            available = next(int(line.split()[1]) * 1024 for line in info if line.startswith("MemAvailable:"))
    except (OSError, StopIteration):
        available = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    return available // 2


def require(nbytes: float, job: str, advice: str) -> None:
    """Refuse `job` with `advice` when it needs more than the budget."""
    limit = budget()
    if nbytes > limit:
        raise EmbcError(f"{job} needs about {_size(nbytes)} of memory, over the {_size(limit)} budget: {advice} "
                        "(or set EMBC_MEMORY_BUDGET)")


def _size(nbytes: float) -> str:
    for unit in ("B", "KiB", "MiB"):
        if nbytes < 1024:
            return f"{nbytes:.1f} {unit}"
        nbytes /= 1024
    return f"{nbytes:.1f} GiB"
