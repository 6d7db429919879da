"""Export a collection: every point with its cluster, the cluster's name, its label and its 2-D position."""

from __future__ import annotations

from pathlib import Path

from embc.queries import latest_run
from embc.store.reports import ReportStore
from embc.store.vectors import Store

COLUMNS = ["id", "item", "source", "kind", "label", "cluster", "cluster_name", "x", "y", "text", "path"]


def export_parquet(store: Store, reports: ReportStore, collection: str, out: Path) -> int:
    """Write the collection to a Parquet file a page at a time; returns the number of rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    store.collection(collection)
    run = latest_run(reports, collection)
    names = {c["id"]: c["name"] for c in reports.clusters(run["run_id"])}
    coords = reports.columns("coords", run["run_id"])
    position = {pid: n for n, pid in enumerate(coords["point_id"])}
    schema = pa.schema([("id", pa.string()), ("item", pa.string()), ("source", pa.string()), ("kind", pa.string()),
                        ("label", pa.string()), ("cluster", pa.int32()), ("cluster_name", pa.string()),
                        ("x", pa.float32()), ("y", pa.float32()), ("text", pa.string()), ("path", pa.string())])
    rows = 0
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fields = ["item", "source", "kind", "label", "cluster", "text", "path"]
    with pq.ParquetWriter(out, schema) as writer:
        for page in store.pages(collection, with_vectors=False, keys=fields):
            at = [position.get(pid) for pid in page.ids]
            xy = {axis: [None if n is None else float(coords[axis][n]) for n in at] for axis in ("x", "y")}
            columns = {key: [p.get(key) for p in page.payloads] for key in fields}
            columns["label"] = [None if v is None else str(v) for v in columns["label"]]
            columns["cluster_name"] = [names.get(c) for c in columns["cluster"]]
            writer.write_table(pa.table({"id": page.ids, **columns, **xy}, schema=schema).select(COLUMNS))
            rows += len(page.ids)
    return rows
