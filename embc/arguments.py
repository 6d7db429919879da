"""Checks of the arguments that the Workspace and the Client take alike, so that both refuse the same values
with the same ParameterError."""

from __future__ import annotations

import os
from collections.abc import Iterable

from embc.cluster.assign import NOISE, NOISE_NAME
from embc.cluster.params import is_integer
from embc.errors import ParameterError


def check_limit(value: int | None, name: str = "limit") -> int:
    """`value` as queries take a limit: 0 for all."""
    if value is None:
        return 0
    if not is_integer(value, 0):
        raise ParameterError(f"{name} must be an integer >= 0 (0 or None: all), not {value!r}")
    return min(int(value), 2**63 - 1)  # the engine's largest: more than any collection holds


def check_cluster_id(value: object) -> int:
    """A cluster id as an int: an integer >= -1, or "noise" for -1."""
    if value == NOISE_NAME:
        return NOISE
    if not is_integer(value, NOISE):
        raise ParameterError(f"a cluster id is an integer >= -1, or 'noise' (-1), not {value!r}")
    return int(value)


def check_keys(items: object) -> None:
    """ParameterError unless `items` is a list (an iterable) of item keys, not one key."""
    if isinstance(items, (str, bytes)) or not isinstance(items, Iterable):
        raise ParameterError(f"items is a list of keys, not {repr(items)[:60]}")


def is_image(value: object) -> bool:
    """Whether `value` is a PIL image (told by what it does: PIL is imported only where images are read)."""
    return hasattr(value, "getpixel") and hasattr(value, "tobytes")


def check_image(image: object) -> None:
    """ParameterError unless `image` is a file path or a PIL image."""
    if not isinstance(image, (str, os.PathLike)) and not is_image(image):
        raise ParameterError(f"image is a file path or a PIL image, not {repr(image)[:60]}")


def check_export_target(target: object) -> None:
    """ParameterError unless `target` is a file path or a binary stream."""
    if not (isinstance(target, (str, os.PathLike)) and "\0" not in str(target)) and not hasattr(target, "write"):
        raise ParameterError(f"target is a file path or a binary stream, not {repr(target)[:60]}")
