"""`embc recluster`, once or on a schedule."""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone
from enum import Enum
from typing import Optional

import typer

from embc.cli.app import app, secret_keys, workspace
from embc.cli.ingest import COLLECTION
from embc.cli.output import AS_JSON, QUIET, choices, emit_json, progress_bar, say, tell
from embc.cli.report import print_report
from embc.cluster.params import ALGORITHMS, K_SWEPT, LINKAGES, PROJECTIONS, REDUCTIONS, REFIT_FRACTION
from embc.environment import LONGEST_WAIT
from embc.errors import ParameterError, describe_error
from embc.results import RunResult
from embc.wording import counted

_INTERVAL = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_UNITS = (86400, 3600, 60, 1)


Algorithm = choices("Algorithm", ALGORITHMS)
Linkage = choices("Linkage", LINKAGES)
Reduction = choices("Reduction", REDUCTIONS)
Projection = choices("Projection", PROJECTIONS)


def parse_interval(text: str) -> float:
    """Seconds in an interval such as 30s, 10m, 1h30m or 1d."""
    match = _INTERVAL.fullmatch(text.strip())
    seconds = sum(int(n) * unit for n, unit in zip(match.groups(), _UNITS) if n) if match else 0
    if not seconds:
        raise typer.BadParameter(f"'{text}' is not an interval: write it like 30s, 10m, 1h30m or 1d (a bare "
                                 "number has no unit)", param_hint="--every")
    if seconds > LONGEST_WAIT:
        raise typer.BadParameter(f"'{text}' is longer than a year ({LONGEST_WAIT // 86400}d at most)",
                                 param_hint="--every")
    return float(seconds)


def _k(value: Optional[str]) -> int | str | None:
    from embc.cluster.params import k_problem

    if value is None:
        return None
    k = int(value) if value.isascii() and value.isdigit() else value  # not '²', which isdigit() lets by
    if (problem := k_problem(k)) is not None:
        raise typer.BadParameter(f"'{value}' is not a number of clusters: give {problem}", param_hint="--k")
    return k


def _value(choice: Enum | None) -> str | None:
    return None if choice is None else choice.value


@app.command()
def recluster(
    ctx: typer.Context,
    collection: str = COLLECTION,
    algorithm: Optional[Algorithm] = typer.Option(None, "--algorithm", "-a", help="Default: the last run's, else "
                                                  "kmeans."),
    k: Optional[str] = typer.Option(None, "--k", "-k", metavar="K", help="Clusters (kmeans, agglomerative); auto: "
                                    f"the elbow of k-means inertia over k = {K_SWEPT[0]}-{K_SWEPT[1]} on a sample; a "
                                    "range as 4-12: the elbow over that range (default: 8)."),
    eps: Optional[float] = typer.Option(None, help="dbscan radius in the reduced space "
                                        "(default: the one whose clusters separate best)."),
    min_size: Optional[int] = typer.Option(None, min=2, help="dbscan min_samples (default: 10; a sixth of the "
                                           "points fitted, at least 3, on fewer than 60), hdbscan min_cluster_size "
                                           "(default: 1% of the points fitted, at least 5; an eighth, at least 3, "
                                           "on fewer than 40)."),
    linkage: Optional[Linkage] = typer.Option(None, help="agglomerative linkage (default: ward)."),
    reduce: Optional[Reduction] = typer.Option(None, help="dbscan/hdbscan run on: umap (5-D), pca (5-D) or the "
                                               "vectors (default: umap)."),
    sample_cap: Optional[int] = typer.Option(None, min=10, help="dbscan, hdbscan, agglomerative fit at most this "
                                             "many points and assign the rest (default: 10000)."),
    n_init: Optional[int] = typer.Option(None, min=1, help="kmeans: k-means++ starts, the best kept (default: 4)."),
    seed: Optional[int] = typer.Option(None, min=0, max=2**32 - 1, help="Random seed, recorded with the run "
                                       "(default: the last run's, else 0)."),
    projection: Optional[Projection] = typer.Option(None, "--projection", help="2-D map (default: the last "
                                                    "run's, else umap)."),
    full: bool = typer.Option(False, "--full", help="Refit every point even when few are new."),
    refit_fraction: float = typer.Option(REFIT_FRACTION, help="Refit when the points added since the last full "
                                         "fit exceed this share of it, in (0, 1]."),
    every: Optional[str] = typer.Option(None, "--every", metavar="INTERVAL", help="Run in the foreground on a "
                                        "schedule: 30s, 10m, 1h30m, 1d."),
    as_json: bool = AS_JSON, quiet: bool = QUIET,
) -> None:
    """Bring the clustering up to date: assign new points to the clusters, or refit when needed; write each
    point's cluster into Qdrant and record the run. Unset options reuse the last run's."""
    options = dict(algorithm=_value(algorithm), k=_k(k), eps=eps, min_size=min_size, linkage=_value(linkage),
                   reduce=_value(reduce), sample_cap=sample_cap, n_init=n_init, seed=seed,
                   projection=_value(projection), refit_fraction=refit_fraction)
    if every is None:
        _run_once(ctx, collection, full, as_json, quiet, options)
        return
    interval = parse_interval(every)
    workspace(ctx).collection(collection)  # a collection that is not there is a usage error, not a bad tick
    while True:
        started = time.monotonic()
        try:
            _run_once(ctx, collection, full, as_json, quiet, options, stamp=True)
        except ParameterError:
            raise  # the same parameters would be refused every time: stop at once
        except Exception as exc:  # a scheduled worker reports and tries again next time
            say(f"{_now()} embc: error: {describe_error(exc, secret_keys(ctx))}")
        full = False  # --full applies to the first run only
        time.sleep(max(0.0, interval - (time.monotonic() - started)))


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _run_once(ctx: typer.Context, collection: str, full: bool, as_json: bool, quiet: bool, options: dict,
              stamp: bool = False) -> None:
    with progress_bar("recluster", quiet=quiet, milestones=True) as advance:
        def progress(step: str, done: int, total: int) -> None:
            advance(0, description=step, completed=done, total=total or None)

        run = workspace(ctx).recluster(collection, full=full, progress=progress, **options)
    prefix = f"{_now()} " if stamp else ""
    if as_json:
        emit_json(run.to_dict())
    elif run.run_id is None:
        tell(f"{prefix}{collection}: {run.reason}")
    else:
        tell(f"{prefix}{_summary(run)}")
        if (hint := _density_hint(run)) is not None:
            say(hint)
        if run.mode == "full":
            print_report(workspace(ctx).report(collection, run.run_id))


def _summary(run: RunResult) -> str:
    return (f"run {run.run_id} ({run.mode}: {run.reason}): {counted(run.points, 'point')}, "
            f"{counted(run.n_clusters, 'cluster')} ({run.timings['total']:.1f} s)")


def _density_hint(run: RunResult) -> str | None:
    """What to try when a density fit found fewer than two clusters: its groups were smaller than it asks for, or
    too few points to tell groups from noise."""
    if run.mode != "full" or run.algorithm not in ("dbscan", "hdbscan") or run.n_clusters >= 2:
        return None
    noise = sum(c.size for c in run.clusters if c.id < 0) / max(run.points, 1)
    return (f"note: {run.algorithm} found {'one cluster' if run.n_clusters else 'no clusters'} in {run.points} points "
            f"({noise:.0%} noise): try a smaller --min-size, or --algorithm kmeans with --k")
