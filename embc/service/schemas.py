"""The service's typed requests and responses (pydantic models; FastAPI derives the OpenAPI schema from them)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictFloat

from embc.arguments import check_cluster_id
from embc.cluster.assign import NOISE, NOISE_NAME
from embc.cluster.params import K_RANGE, K_SWEPT, REFIT_FRACTION, k_problem
from embc.results import ClusterStats, DecoderResult, Event

LINE_OFFSET_MAX = 10**12


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


Vector = Annotated[list[StrictFloat], Field(min_length=1, max_length=65_536)]
"""A vector as a client sends it: numbers, not true, false or numbers written as strings (which a lax check
would take as 1, 0 and the number)."""

ClusterId = Annotated[Annotated[int, Field(ge=NOISE)] | Literal[NOISE_NAME], AfterValidator(check_cluster_id)]
"""A cluster id as the command line takes it: an integer, or -1 or `noise` for the noise."""


class Error(BaseModel):
    error: str
    detail: Any = None


class Collection(BaseModel):
    name: str
    points: int
    model: str
    dim: int
    modality: str
    precision: str


class Item(BaseModel):
    id: str
    item: str | None
    label: str | None
    cluster: int | None
    text: str | None
    path: str | None
    values: dict[str, Any] | None = Field(description="A table row's columns; null for other items.")


class Hit(Item):
    score: float


class ItemPage(BaseModel):
    items: list[Item]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null after the last.")


class SimilarRequest(Strict):
    text: str | None = Field(None, min_length=1, max_length=20_000)
    row: dict[str, Any] | None = Field(None, max_length=10_000, description="A table row: column to value.")
    item: str | None = Field(None, min_length=1, max_length=1_000)
    vector: Vector | None = None
    cluster: ClusterId | None = None
    limit: int = Field(10, ge=1, le=1_000)


RECORD = {"type": "object", "additionalProperties": True, "properties": {
    "id": {"type": "string", "description": "The item's key (default: one made from the record's content, so "
           "that a record sent again is the same item)."},
    "text": {"type": "string"}, "label": {"type": "string", "description": "A ground-truth label, if known."},
    "vector": {"type": "array", "items": {"type": "number"}, "description": "A precomputed vector."}}}


def _served_model(name: str | None) -> str | None:
    from embc.ingest.registry import names_a_path

    if name is not None and names_a_path(name):
        raise ValueError(f"model {name!r} names a file or folder, and the service reads no path a client names: "
                         "name one that ships with embc or comes from a model hub, or make the collection with "
                         "the server stopped (`embc ingest --model ...`)")
    return name


# A model a client names; one read from a path it gives is refused (it would read outside the data directory).
ServedModel = Annotated[str | None, AfterValidator(_served_model)]


class IngestRequest(Strict):
    records: list[dict[str, Any]] = Field(
        min_length=1, max_length=10_000, json_schema_extra={"items": RECORD},
        description="Rows as `embc ingest` reads a JSONL file's lines: `text` (or `vector`), with `id` and "
        "`label`; in a table collection every other field is a feature. A record that cannot be used is "
        "skipped with its reason (`skipped_items`), and the others go in.")
    model: ServedModel = None


class Upload(Strict):
    """Ingest from uploaded files (multipart/form-data), read as `embc ingest FILE...` reads them."""

    files: list[Any] = Field(min_length=1, json_schema_extra={"items": {"type": "string", "format": "binary"}},
                             description="Text files, JSONL, CSV, .npy or Parquet tables, or images; each file's "
                             "name is its key.")
    model: ServedModel = None
    text_field: str | None = None
    label_field: str | None = None
    id_field: str | None = None
    folder_labels: bool | None = Field(None, description="An image's folder is its label (default: when every "
                                       "file's name has a folder, as bag/x.png).")
    line_offset: int = Field(0, ge=0, le=LINE_OFFSET_MAX, description="Added to the line of each JSONL, CSV or "
                             "TSV row, which keys it (FILE#LINE): a part of a larger table, sent alone with the "
                             "table's header, keeps its rows' keys.")


class ImageQuery(Strict):
    """Similar to an uploaded image (multipart/form-data)."""

    image: Any = Field(json_schema_extra={"type": "string", "format": "binary"})
    cluster: ClusterId | None = None
    limit: int = Field(10, ge=1, le=1_000)


class Skipped(BaseModel):
    source: str
    reason: str


class IngestResult(BaseModel):
    collection: str
    added: int
    updated: int
    unchanged: int
    skipped: int
    skipped_items: list[Skipped]
    pruned: int


def _k_of_a_kind(value):
    """A k of no kind embc takes gets what k should be, in one line, rather than one line per kind it is not."""
    if (value is None or isinstance(value, int) and not isinstance(value, bool)
            or isinstance(value, float) and value.is_integer()
            or isinstance(value, str) and re.fullmatch(f"auto|[0-9]+|{K_RANGE}", value)):
        return value
    raise ValueError(f"k must be {k_problem(value)}, not {value!r}")


class ReclusterRequest(Strict):
    algorithm: Literal["kmeans", "dbscan", "hdbscan", "agglomerative"] | None = None
    k: Annotated[int | Literal["auto"] | Annotated[str, Field(pattern=f"^{K_RANGE}$")] | None,
                 BeforeValidator(_k_of_a_kind)] = Field(
        None, description=f"Clusters; 'auto': chosen by the elbow over {K_SWEPT[0]}-{K_SWEPT[1]}; 'LO-HI': chosen "
        "by the elbow over that range.")
    eps: float | None = Field(None, gt=0)
    min_size: int | None = Field(None, ge=2)
    linkage: Literal["ward", "average", "complete"] | None = None
    reduce: Literal["umap", "pca", "none"] | None = None
    sample_cap: int | None = Field(None, ge=10)
    n_init: int | None = Field(None, ge=1, le=100)
    seed: int | None = Field(None, ge=0, lt=2**32)
    projection: Literal["umap", "tsne", "pca", "none"] | None = None
    full: bool = False
    refit_fraction: float = Field(REFIT_FRACTION, gt=0, le=1)


class DecoderRequest(Strict):
    size: Literal[16, 32, 64, 128] | None = Field(None, description="Image collections: the side of the images "
                                                  "drawn (default: as before, else 64).")
    epochs: int | None = Field(None, ge=1, le=10_000, description="Default: as before, else 20 for images, 300 "
                               "for rows.")


class DecoderState(BaseModel):
    """Whether the collection has a decoder, and what it draws and was trained on."""

    trained: bool
    kind: Literal["image", "row"] | None = None
    size: int | None = None
    items: int | None = None
    epochs: int | None = None
    best_epoch: int | None = None
    trained_at: str | None = None
    same_cluster: float | None = Field(None, description="Images: the share of held-out items whose decoded image, "
                                       "embedded again, lands in the item's own cluster (none without a run).")


class DecodeRequest(Strict):
    """Exactly one of item, cluster, vector or text (a CLIP collection)."""

    item: str | None = Field(None, min_length=1, max_length=1_000)
    cluster: ClusterId | None = None
    vector: Vector | None = None
    text: str | None = Field(None, min_length=1, max_length=20_000)
    run: int | None = Field(None, ge=1)


class MapLabels(BaseModel):
    labels: list[str]
    codes: list[int]


class Rename(Strict):
    name: str = Field(min_length=1, max_length=200, pattern=r"^[^\r\n]*\S[^\r\n]*$")


class Progress(BaseModel):
    step: str | None
    done: int
    total: int


class Reclustered(BaseModel):
    """A recluster job's run (`Workspace.recluster`'s RunResult)."""

    run_id: int
    mode: Literal["full", "incremental"]
    reason: str
    collection: str
    algorithm: str
    params: dict[str, Any]
    points: int
    clusters: list[ClusterStats]
    metrics: dict[str, float]
    events: list[Event]
    timings: dict[str, float]


class NothingNew(BaseModel):
    """A recluster job that found nothing new to cluster: no run was recorded."""

    run_id: None
    mode: Literal["none"]
    reason: str
    points: Literal[0]


class Job(BaseModel):
    id: str
    collection: str
    state: Literal["queued", "running", "done", "failed", "cancelled"]
    origin: Literal["request", "schedule"]
    progress: Progress
    result: Reclustered | NothingNew | DecoderResult | None = Field(
        None, description="What a done job made: a recluster's run (or nothing new), or a trained decoder.")
    error: str | None = None


class Accepted(BaseModel):
    job_id: str


class Health(BaseModel):
    status: Literal["ok"]
    version: str
    max_body: int = Field(description="The largest request body the server takes, in bytes (`--max-body`): "
                          "a client sends larger uploads in several requests.")
