"""Each algorithm's parameters, their constraints and defaults, and how a run's parameters are chosen (no
sklearn import: a cron run with nothing to do stays fast).

Every parameter is checked before any work, as scikit-learn's `_parameter_constraints` do: a refused run
records nothing and changes nothing."""

from __future__ import annotations

import re
from numbers import Integral, Real

from embc.errors import ParameterError

ALGORITHMS = ("kmeans", "dbscan", "hdbscan", "agglomerative")
LINKAGES = ("ward", "average", "complete")
REDUCTIONS = ("umap", "pca", "none")
PROJECTIONS = ("umap", "tsne", "pca", "none")
SAMPLE_CAP = 10_000
K_SWEPT = (2, 22)  # the k that `k: "auto"` chooses from (embc.cluster.sweep)
K_SWEPT_MOST = 100  # the largest k a sweep fits: a range is given for its ends, not to fit thousands
K_RANGE = "([0-9]{1,4})-([0-9]{1,4})"  # k given as a range to choose from, "LO-HI" (also the API schema's pattern)
REFIT_FRACTION = 0.3  # a run refits once the points added since the last full fit exceed this share of it

DEFAULTS: dict[str, dict] = {
    # Four k-means++ starts: on WordNet-8, refits with other seeds keep 98% of points together (67-81% with one).
    "kmeans": {"k": 8, "n_init": 4},
    # min_size None, dbscan: 10, one per 60 points fitted on fewer than 600, at least 5, or a sixth of them on
    # fewer than 30, at least 3 (core_samples);
    # hdbscan: 1% of them, at least 5, or an eighth on fewer than 40, at least 3 (smallest_cluster), both in
    # embc.cluster.algorithms.
    "dbscan": {"eps": None, "min_size": None, "reduce": "umap", "sample_cap": SAMPLE_CAP},
    "hdbscan": {"min_size": None, "reduce": "umap", "sample_cap": SAMPLE_CAP},
    "agglomerative": {"k": 8, "linkage": "ward", "sample_cap": SAMPLE_CAP},
}


def is_integer(value, low: int, high: int | None = None) -> bool:
    """Whether `value` is an integer (not a bool) from `low` up to, not including, `high`."""
    return (not isinstance(value, bool) and isinstance(value, Integral) and value >= low
            and (high is None or value < high))


def _integer(low: int):
    def check(value) -> str | None:
        return None if is_integer(value, low) else f"an integer >= {low}"
    return check


def k_range(k) -> tuple[int, int] | None:
    """The range a sweep chooses k from, for a `k` given as "auto" (K_SWEPT) or as "LO-HI"; None for a number (or
    any other value)."""
    if k == "auto":
        return K_SWEPT
    found = re.fullmatch(K_RANGE, k) if isinstance(k, str) else None
    return (int(found[1]), int(found[2])) if found else None


def k_problem(value) -> str | None:
    """What a value of k should be, or None where it is one: a number, auto, or a range to choose from."""
    span = k_range(value)
    if is_integer(value, 2) or (span is not None and 2 <= span[0] and span[0] + 2 <= span[1] <= K_SWEPT_MOST):
        return None
    return (f"an integer >= 2, 'auto' (chosen from {K_SWEPT[0]}-{K_SWEPT[1]}), or a range LO-HI to choose from, "
            f"as '4-12' (2 <= LO, LO + 2 <= HI <= {K_SWEPT_MOST})")


def _positive_or_none(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, Real) or not value > 0 or value == float("inf"):
        return "a finite number > 0, or unset (chosen from the data)"
    return None


def _one_of(choices: tuple[str, ...]):
    def check(value) -> str | None:
        return None if value in choices else f"one of {', '.join(choices)}"
    return check


CONSTRAINTS = {
    "k": k_problem,
    "n_init": _integer(1),
    "eps": _positive_or_none,
    "min_size": _integer(2),
    "linkage": _one_of(LINKAGES),
    "reduce": _one_of(REDUCTIONS),
    "sample_cap": _integer(10),
}


def _choice(what: str, value, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ParameterError(f"unknown {what} {value!r}: choose from {', '.join(choices)}")
    return value


def check_algorithm(algorithm: str) -> str:
    return _choice("algorithm", algorithm, ALGORITHMS)


def check_projection(projection: str) -> str:
    return _choice("projection", projection, PROJECTIONS)


def check_refit_fraction(share: float) -> None:
    if isinstance(share, bool) or not isinstance(share, Real) or not 0 < share <= 1:
        raise ParameterError(f"refit_fraction must be a number in (0, 1], not {share!r}")


def resolve(algorithm: str, given: dict, previous: dict | None = None, reused: bool = False) -> dict:
    """The parameters a run uses: those given, else the previous run's (same algorithm), else the defaults.
    Raises ParameterError for an unknown algorithm or parameter, or a value outside its constraint; `reused`:
    the algorithm is the last run's, kept because none was given, which the refusal says."""
    check_algorithm(algorithm)
    unknown = sorted(key for key, value in given.items() if value is not None and key not in DEFAULTS[algorithm])
    if unknown:
        takers = [a for a in ALGORITHMS if all(key in DEFAULTS[a] for key in unknown)
                  and (a == "kmeans" or k_range(given.get("k")) is None)]  # a choice of k is for kmeans alone
        hint = (f" ({algorithm} is the last run's algorithm, kept when none is given; {' or '.join(takers)} "
                f"take{'s' if len(takers) == 1 else ''} {', '.join(unknown)})" if reused and takers else "")
        raise ParameterError(f"{algorithm} does not take {', '.join(unknown)}: it takes "
                             f"{', '.join(DEFAULTS[algorithm])}{hint}")
    for key, value in given.items():
        problem = value is not None and CONSTRAINTS[key](value)
        if problem:
            raise ParameterError(f"{key} must be {problem}, not {value!r}")
    if algorithm != "kmeans" and k_range(given.get("k")) is not None:
        raise ParameterError(f"{algorithm} needs k as a number: {given['k']!r}, a choice of k, is for kmeans")
    params = {**DEFAULTS[algorithm], **(previous or {})}
    params.update({key: value for key, value in given.items() if value is not None})
    return {key: params[key] for key in DEFAULTS[algorithm]}


def check_size(params: dict, points: int, collection: str) -> None:
    """Refuse a fit that cannot be made on `points` points: too few, or more clusters than points."""
    k = params.get("k")
    if points < 3:
        raise ParameterError(f"collection '{collection}' has {points} point{'s' * (points != 1)}: too few to cluster")
    if isinstance(k, int) and k > points:
        raise ParameterError(f"k must be at most the collection's {points} points, not {k}: give a smaller k")
    span = k_range(k)
    if span is not None and span[0] >= points:
        raise ParameterError(f"k's range must begin below the collection's {points} points, not at {span[0]}")
