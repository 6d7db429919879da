"""Where a figure's labels go."""

from __future__ import annotations

import math
from typing import Sequence

Box = tuple[float, float, float, float]  # x0, y0, x1, y1

STEP = 10.0  # pixels between the rings of spots tried around a label's own place
RINGS = 30
SPOTS = 16  # on each ring


def overlaps(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def inside(box: Box, area: Box) -> bool:
    return area[0] <= box[0] and area[1] <= box[1] and box[2] <= area[2] and box[3] <= area[3]


def shifts() -> list[tuple[float, float]]:
    """The shifts tried, nearest first: none, then SPOTS on each of RINGS rings."""
    return [(0.0, 0.0)] + [(r * STEP * math.cos(a), r * STEP * math.sin(a)) for r in range(1, RINGS + 1)
                           for a in (2 * math.pi * s / SPOTS for s in range(SPOTS))]


def placed(boxes: Sequence[Box], area: Box, blocked: Sequence[Box] = ()) -> list[tuple[float, float]]:
    """For each label's box at its own place (in order of precedence), the shift that puts it nearest that place
    inside `area`, clear of `blocked` (a legend) and of the labels placed before it; where no spot tried is free,
    the nearest inside."""
    taken = list(blocked)
    chosen = []
    tries = shifts()
    for box in boxes:
        fitting = [(dx, dy) for dx, dy in tries if inside(moved(box, dx, dy), area)] or [(0.0, 0.0)]
        dx, dy = next((s for s in fitting if not any(overlaps(moved(box, *s), t) for t in taken)), fitting[0])
        taken.append(moved(box, dx, dy))
        chosen.append((dx, dy))
    return chosen


def moved(box: Box, dx: float, dy: float) -> Box:
    """`box` shifted by (dx, dy)."""
    return box[0] + dx, box[1] + dy, box[2] + dx, box[3] + dy
