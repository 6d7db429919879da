"""The HTTP API: FastAPI routes over one Workspace, which keeps each collection's model loaded between
requests. Every error is JSON `{"error", "detail"}` with a 4xx status."""

from __future__ import annotations

import io
import logging
import shutil
import tempfile
from contextlib import asynccontextmanager
from functools import partial
from typing import Annotated, Literal

from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from embc import __version__
from embc.errors import EmbcError, NotFound, ParameterError, describe_error
from embc.export import check_vectors
from embc.ingest.items import point_id
from embc.queries import ORDERS, point_ids
from embc.report.plots import KINDS
from embc.results import ClusterSummary, Event, IngestResult, Report, Run
from embc.service import schedule, schemas, uploads
from embc.service.answers import PAGE, Answers
from embc.service.batches import Batches
from embc.service.bodies import bodies, describe_bodies, read_body
from embc.service.claims import Claims
from embc.service.jobs import LIVE, Jobs
from embc.service.map import WEB, id_bytes, label_codes, map_bytes, picture, thumbnail
from embc.service.keys import DOCS_FILES, KeyCheck, check_key
from embc.service.limits import BODY_WAIT, BodyLimit
from embc.service.logs import say
from embc.service.methods import HeadAsGet, allowed
from embc.service.metrics import Measured, Metrics
from embc.service.parameters import known_query
from embc.service.policy import PAGE_HEADERS, Guarded
from embc.service.streams import Streamed
from embc.service.stopping import Stoppable
from embc.store.vectors import check_name
from embc.workspace import Workspace

ERRORS = {400: {"model": schemas.Error}, 401: {"model": schemas.Error}, 403: {"model": schemas.Error},
          404: {"model": schemas.Error}, 409: {"model": schemas.Error}, 422: {"model": schemas.Error}}
NAME = Path(..., pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$",
            description="A collection name: letters, digits, '_', '-' and '.'.")
STOP_WAIT = 30.0  # seconds a stopping server waits for its jobs to end at their next step, before closing the store
REQUEST_WAIT = 5  # seconds a stopping server waits for the requests in flight (a client may never end its body)
INDEX_CHECK = 5.0  # seconds between looks for a collection due for its vector index, or quiet (answers made ahead)
HUNG_UP = 499  # the status a request is counted under when its client closed the connection before its body was in
MAX_BODY = 64 << 20  # bytes of a request body: 10,000 records of a few KB each
DECODED = {**ERRORS, 200: {"content": {"image/png": {}, "application/json": {
    "schema": {"type": "object", "description": "a table collection's row, column -> value"}}}}}
EXPORT_TYPES = {"jsonl": "application/x-ndjson", "csv": "text/csv", "tsv": "text/tab-separated-values",
                "parquet": "application/vnd.apache.parquet"}
FIGURE_TYPES = {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf"}  # the formats figures take


BODY_ERRORS = {**ERRORS, 413: {"model": schemas.Error}, 415: {"model": schemas.Error}}


def _status(exc: EmbcError) -> int:
    """404 for what is not there, 422 for a parameter out of bounds, 409 for a request the data refuses."""
    if isinstance(exc, ParameterError):
        return 422
    return 404 if isinstance(exc, NotFound) else 409


def make_app(workspace: Workspace, api_key: str | None = None, max_body: int = MAX_BODY,
             every: float | None = None, body_wait: float = BODY_WAIT, models_ahead: bool = True) -> FastAPI:
    """The service over `workspace`; with `api_key`, every path but the public ones (`keys.PUBLIC`: health, the
    map's page and files, the docs) wants `Authorization: Bearer KEY`; a request body over `max_body` bytes is
    refused with 413, and one of which nothing more arrives for `body_wait` seconds with 408; `every` (seconds):
    recluster every collection on that schedule, from the server's start; `models_ahead`: load each quiet
    collection's query model before its first question asks for it."""
    jobs, metrics, answers, claims = Jobs(), Metrics(), Answers(workspace), Claims()
    # Similarity questions asked at once share one search; those that embed a text or image share model calls
    # too, apart from the others, which need no model.
    similar_batches = Batches(lambda key, asks: workspace.similar_many(key[0], asks))

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await run_in_threadpool(recover_uploads, workspace)
        threads = [schedule.start(workspace, jobs, every)] if every else []
        threads.append(schedule.start(workspace, jobs, INDEX_CHECK, schedule.index_tick, answers,
                                      set() if models_ahead else None))
        yield
        # The workspace closes after this: its store must not be in use by a job or a tick then.
        await run_in_threadpool(jobs.stop, STOP_WAIT, *threads)
        similar_batches.close()

    app = FastAPIOffline(title="embc", version=__version__, description="Semantic clustering backed by Qdrant.",
                         lifespan=lifespan, static_url=DOCS_FILES, dependencies=[Depends(known_query)])
    app.add_middleware(BodyLimit, limit=max_body, wait=body_wait)
    if api_key is not None:
        check_key(api_key)
        app.add_middleware(KeyCheck, key=api_key)  # outside the body limit: no body is read without the key
    app.add_middleware(Stoppable)
    app.add_middleware(HeadAsGet)
    app.add_middleware(Measured, metrics=metrics)  # outside HEAD's GET and the stop's 503: counts what was sent
    app.add_middleware(Guarded)  # outermost: the errors that middleware sends itself carry its headers too

    # Routes that do no blocking work are `async`: FastAPI runs every plain `def` (and, for such a route, the
    # check of its response) in a worker thread, each hop a fraction of a millisecond.
    @app.exception_handler(EmbcError)
    async def embc_error(request: Request, exc: EmbcError):
        return JSONResponse({"error": describe_error(exc, (api_key,)), "detail": None}, _status(exc))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        headers = exc.headers
        if exc.status_code == 405:  # Starlette's Allow names the methods of only the first route that matched
            headers = {**(headers or {}), "Allow": allowed(app.router.routes, request.scope)}
        return JSONResponse({"error": str(exc.detail), "detail": None}, exc.status_code, headers=headers)

    @app.exception_handler(ClientDisconnect)
    async def hung_up(request: Request, exc: ClientDisconnect):
        """The client went before its body was in: nobody to answer and no fault to log."""
        return Response(status_code=HUNG_UP)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        """A fault of embc's own: the traceback to the server's log, one line to the client."""
        logging.getLogger("embc.service").error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return JSONResponse({"error": f"internal error: {describe_error(exc, (api_key,))}", "detail": None}, 500)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        # A validator's own message, without the "Value error, " that pydantic puts before it.
        detail = [{"loc": list(e["loc"]), "msg": str(e["ctx"]["error"]) if e.get("type") == "value_error" else e["msg"]}
                  for e in exc.errors()]
        return JSONResponse({"error": "invalid request", "detail": detail}, 422)

    @app.get("/healthz", response_model=schemas.Health)
    async def healthz():
        return {"status": "ok", "version": __version__, "max_body": max_body}

    @app.get("/metrics", response_class=PlainTextResponse)
    def prometheus():
        return PlainTextResponse(metrics.text(jobs, workspace.collections()), media_type="text/plain; version=0.0.4")

    @app.get("/v1/collections", response_model=list[schemas.Collection], responses=ERRORS)
    async def collections():
        return [c.to_dict() for c in await run_in_threadpool(workspace.collections)]

    @app.get("/v1/collections/{collection}", response_model=schemas.Collection, responses=ERRORS)
    def collection_info(collection: str = NAME):
        return workspace.collection(collection).to_dict()

    @app.delete("/v1/collections/{collection}", status_code=204, responses=ERRORS)
    def delete_collection(collection: str = NAME):
        """Delete the collection, its runs and its files; a 409 while a job on it runs."""
        with jobs.held_off(collection):
            workspace.delete(collection)

    @app.post("/v1/collections/{collection}/items", response_model=schemas.IngestResult, responses=BODY_ERRORS,
              openapi_extra=bodies(schemas.IngestRequest, schemas.Upload))
    async def ingest(request: Request, collection: str = NAME):
        """JSON records, or files uploaded as multipart/form-data (`files`, each file's name its key)."""
        body = await read_body(request, schemas.IngestRequest, schemas.Upload)
        if isinstance(body, schemas.IngestRequest):
            return (await run_in_threadpool(workspace.ingest, collection, body.records, model=body.model)).to_dict()
        named = uploads.named(body.files)
        async with claims.hold(collection, point_ids(list(named.uploads))):  # until their files are settled
            return (await run_in_threadpool(_ingest_uploads, workspace, collection, body, named)).to_dict()

    @app.get("/v1/collections/{collection}/items/{key:path}/image", responses={**ERRORS, 200: {"content": {
        "image/png": {}}}}, response_class=Response)
    def item_image(key: str, collection: str = NAME, size: int = Query(160, ge=16, le=1024)):
        """An image item's picture, at most `size` pixels on its longer side, as PNG."""
        return Response(picture(workspace.item(collection, key), size), media_type="image/png",
                        headers={"Cache-Control": "private, max-age=3600"})

    @app.get("/v1/collections/{collection}/items/{key:path}", response_model=schemas.Item, responses=ERRORS)
    async def item(key: str, collection: str = NAME):
        """One item, by key or point id (a key may hold slashes: a folder's file, `bag/x.png`)."""
        return (await run_in_threadpool(workspace.item, collection, key)).to_dict()

    @app.get("/v1/collections/{collection}/map", responses={**ERRORS, 200: {"content": {
        "application/octet-stream": {}}}}, response_class=Response)
    def map_points(collection: str = NAME, run: int | None = Query(None, ge=1)):
        """The run's 2-D map as little-endian typed arrays: n (uint32), then x and y (float32 x n), then the
        cluster of each point (int32 x n, -1: noise); points in the order `/map/{index}` counts them."""
        return Response(map_bytes(workspace.map_points(collection, run)), media_type="application/octet-stream")

    @app.get("/v1/collections/{collection}/map/thumbnail", responses={**ERRORS, 200: {"content": {
        "image/png": {}}}}, response_class=Response)
    def map_thumbnail(collection: str = NAME, run: int | None = Query(None, ge=1),
                      size: int = Query(160, ge=16, le=1024)):
        """The run's map as a small PNG, a pixel a point, coloured as the page colours clusters."""
        return Response(thumbnail(workspace.map_points(collection, run), size), media_type="image/png")

    @app.get("/v1/collections/{collection}/map/ids", responses={**ERRORS, 200: {"content": {
        "application/octet-stream": {}}}}, response_class=Response)
    def map_ids(collection: str = NAME, run: int | None = Query(None, ge=1)):
        """The point ids of the run's map, 16 bytes each (a UUID's), in the map's order: to find where an item
        (a search hit, say) is drawn."""
        return Response(id_bytes(workspace.map_points(collection, run)), media_type="application/octet-stream")

    @app.get("/v1/collections/{collection}/map/labels", response_model=schemas.MapLabels, responses=ERRORS)
    def map_labels(collection: str = NAME, run: int | None = Query(None, ge=1)):
        """Each map point's ground-truth label, as an index into `labels` (-1: none)."""
        return label_codes(workspace.map_points(collection, run)["point_id"], workspace.labels_of(collection))

    @app.get("/v1/collections/{collection}/map/{index}", response_model=schemas.Item, responses=ERRORS)
    def map_point(index: int, collection: str = NAME, run: int | None = Query(None, ge=1)):
        """The item drawn as point `index` of the run's map."""
        ids = workspace.map_points(collection, run)["point_id"]
        if not 0 <= index < len(ids):
            raise NotFound(f"no point {index} on the map of '{collection}' ({len(ids)} points)")
        return workspace.item(collection, str(ids[index])).to_dict()

    app.mount("/static", StaticFiles(directory=WEB / "static"), name="static")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def home():
        return HTMLResponse((WEB / "index.html").read_text(), headers=PAGE_HEADERS)

    @app.get("/c/{collection}", response_class=HTMLResponse, include_in_schema=False)
    def map_page(collection: str = NAME):
        return HTMLResponse((WEB / "map.html").read_text(), headers=PAGE_HEADERS)

    @app.delete("/v1/collections/{collection}/items/{key:path}", status_code=204, responses=ERRORS)
    async def delete_item(key: str, collection: str = NAME):
        async with claims.hold(collection, point_ids([key])):
            deleted = await run_in_threadpool(workspace.delete, collection, [key])
        if not deleted:
            raise NotFound(f"no item '{key}' in collection '{collection}'")

    @app.get("/v1/collections/{collection}/clusters", response_model=list[ClusterSummary], responses=ERRORS)
    async def clusters(collection: str = NAME, run: int | None = Query(None, ge=1)):
        return await answers.json(collection, answers.clusters(collection, run))

    @app.get("/v1/collections/{collection}/clusters/{cluster}", response_model=ClusterSummary, responses=ERRORS)
    async def cluster(cluster: Annotated[schemas.ClusterId, Path(description="A cluster id; -1 or noise: the noise")],
                      collection: str = NAME, run: int | None = Query(None, ge=1)):
        return await answers.json(collection, answers.cluster(collection, cluster, run))

    @app.get("/v1/collections/{collection}/clusters/{cluster}/items", response_model=schemas.ItemPage,
             responses=ERRORS)
    async def members(cluster: Annotated[schemas.ClusterId, Path(description="A cluster id; -1 or noise: the noise")],
                      collection: str = NAME, limit: int = Query(PAGE, ge=1, le=1_000),
                      cursor: str | None = Query(None, pattern=r"^\d{1,9}$"), run: int | None = Query(None, ge=1),
                      order: Literal[ORDERS] = Query("centre", description="centre: nearest the centre first; key: "
                                                     "by item key")):
        return await answers.json(collection, answers.members(collection, cluster, limit, int(cursor or 0), run, order))

    @app.post("/v1/collections/{collection}/similar", response_model=list[schemas.Hit], responses=BODY_ERRORS,
              openapi_extra=bodies(schemas.SimilarRequest, schemas.ImageQuery))
    async def similar(request: Request, collection: str = NAME):
        """Nearest to a text, a table row, a stored item or a vector (JSON), or to an image uploaded as
        multipart/form-data."""
        body = await read_body(request, schemas.SimilarRequest, schemas.ImageQuery)
        if isinstance(body, schemas.SimilarRequest):
            query = {"text": body.text, "row": body.row, "item": body.item, "vector": body.vector}
        else:
            query = {"image": await run_in_threadpool(uploads.image, body.image)}
        kind = "model" if any(query.get(q) is not None for q in ("text", "image", "row")) else "stored"
        hits = await similar_batches((collection, kind), {"cluster": body.cluster, "limit": body.limit, **query})
        return [h.to_dict() for h in hits]

    @app.post("/v1/collections/{collection}/recluster", status_code=202, response_model=schemas.Accepted,
              responses=ERRORS)
    def recluster(body: schemas.ReclusterRequest, collection: str = NAME):
        # Parameters the run would refuse are a 422 now, not a job that fails after the 202.
        workspace.recluster_plan(collection, **body.model_dump(exclude={"seed", "projection", "full",
                                                                        "refit_fraction"}))
        options = body.model_dump(exclude={"full"})
        return {"job_id": _started(jobs, collection, lambda progress: workspace.recluster(
            collection, full=body.full, progress=progress, **options).to_dict())}

    @app.post("/v1/collections/{collection}/decoder", status_code=202, response_model=schemas.Accepted,
              responses=ERRORS)
    def train_decoder(body: schemas.DecoderRequest, collection: str = NAME):
        """Train (or train again) the decoder that draws the collection's vectors as images or rows, as a job."""
        from embc.decode.job import kind_of

        kind_of(workspace.collection(collection))  # a collection with nothing to decode: a 409 before the 202
        return {"job_id": _started(jobs, collection, lambda progress: workspace.train_decoder(
            collection, body.size, body.epochs, progress).to_dict())}

    @app.get("/v1/collections/{collection}/decoder", response_model=schemas.DecoderState, responses=ERRORS)
    def decoder_state(collection: str = NAME):
        """Whether the collection has a decoder (`trained`), and what it draws and was trained on."""
        workspace.collection(collection)
        try:
            decoder = workspace.decoder(collection)
        except NotFound:
            return {"trained": False}
        return {"trained": True, "kind": decoder.kind, "size": decoder.size,
                **{k: decoder.facts.get(k) for k in ("items", "epochs", "best_epoch", "trained_at", "same_cluster")}}

    @app.post("/v1/collections/{collection}/decode", response_class=Response, responses=DECODED)
    def decode(body: schemas.DecodeRequest, collection: str = NAME):
        """What a stored item, a cluster's centre, a vector or a text looks like, drawn by the collection's
        decoder: a PNG, or a table collection's row as JSON."""
        return _decoded(workspace.decode(collection, **body.model_dump()))

    @app.get("/v1/collections/{collection}/clusters/{cluster}/decoded", response_class=Response,
             responses=DECODED)
    def decoded_centre(cluster: schemas.ClusterId, collection: str = NAME, run: int | None = Query(None, ge=1)):
        """A cluster's centre drawn by the collection's decoder (the map's panel shows it)."""
        return _decoded(workspace.decode(collection, cluster=cluster, run=run))

    @app.get("/v1/jobs", response_model=list[schemas.Job], responses=ERRORS)
    def all_jobs(collection: str | None = Query(None, description="Only the jobs on this collection."),
                 live: bool | None = Query(None, description="true: only the jobs queued or running; false: only "
                                           "those that have ended.")):
        """The jobs this server started, requested or scheduled, oldest first: all not yet ended, and the last
        thousand that have."""
        return [j.to_dict() for j in list(jobs.jobs.values())
                if collection in (None, j.collection) and live in (None, j.state in LIVE)]

    @app.get("/v1/jobs/{job_id}", response_model=schemas.Job, responses=ERRORS)
    def job(job_id: str):
        return jobs.get(job_id).to_dict()

    @app.delete("/v1/jobs/{job_id}", status_code=202, response_model=schemas.Job, responses=ERRORS)
    def cancel_job(job_id: str):
        """Cancel a job: it ends at its next step, as a stopped server ends it, and loses nothing (a recluster run
        cut short is recorded as failed, and the next one refits); a 409 once it has ended."""
        return jobs.cancel(job_id).to_dict()

    @app.put("/v1/collections/{collection}/clusters/{cluster}/name", status_code=204, responses=ERRORS)
    def rename(body: schemas.Rename, cluster: int, collection: str = NAME):
        """Name a cluster id; the name stays with the id in later runs."""
        workspace.rename(collection, cluster, body.name)

    @app.get("/v1/collections/{collection}/plots/{kind}", responses={**ERRORS, 200: {"content": {
        media: {} for media in FIGURE_TYPES.values()}}}, response_class=FileResponse)
    def figure(kind: Literal[KINDS], collection: str = NAME, run: int | None = Query(None, ge=1),
               cluster: Annotated[schemas.ClusterId | None, Query()] = None, per_cluster: int = Query(8, ge=1, le=100),
               start: str | None = Query(None, alias="from", min_length=1, max_length=1_000),
               end: str | None = Query(None, alias="to", min_length=1, max_length=1_000),
               format: Literal[tuple(FIGURE_TYPES)] = "png"):
        """A figure of the latest (or a given) run as a PNG (or an SVG or a PDF): map, elbow, silhouette,
        montage; with a decoder, centroids, interpolate (between the items `from` and `to`) and loss."""
        if (start is None) != (end is None):
            raise ParameterError("interpolate needs both from and to")
        folder = tempfile.mkdtemp(prefix=".plot-", dir=workspace.path)  # inside the data directory, as all it writes
        try:
            path = workspace.plot(collection, kind, f"{folder}/{kind}.{format}", run, cluster, per_cluster,
                                  None if start is None else (start, end))
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return FileResponse(path, media_type=FIGURE_TYPES[format],
                            background=BackgroundTask(shutil.rmtree, folder, True))

    @app.get("/v1/collections/{collection}/export", responses={**ERRORS, 200: {"content": {
        media: {} for media in EXPORT_TYPES.values()}}})
    def export(collection: str = NAME, format: Literal[tuple(EXPORT_TYPES)] = "jsonl",
               run: int | None = Query(None, ge=1), vectors: bool = False):
        """Every point with its cluster, cluster name, label and 2-D position; with `vectors`, its stored vector
        (jsonl and parquet)."""
        check_vectors(format, vectors)  # errors before the body starts: a 422, a 404
        if run is not None:
            workspace.clusters(collection, run)
        rows = workspace.collection(collection).points  # as the export begins: ingests may add more meanwhile
        body = Streamed(lambda sink: workspace.export(collection, sink, format, run, vectors))
        return StreamingResponse(body, media_type=EXPORT_TYPES[format], background=BackgroundTask(body.close),
                                 headers={"Content-Disposition": f'attachment; filename="{collection}.{format}"',
                                          "X-Embc-Rows": str(rows)})

    @app.get("/v1/collections/{collection}/report", response_model=Report, responses=ERRORS)
    def report(collection: str = NAME, run: int | None = Query(None, ge=1)):
        """A run's metrics, clusters and id events (default: the latest complete run), the run history, and the
        k sweep that chose its k."""
        return workspace.report(collection, run).to_dict()

    @app.get("/v1/collections/{collection}/events", response_model=list[Event], responses=ERRORS)
    def events(collection: str = NAME, run: int | None = Query(None, ge=1)):
        """What became of the cluster ids in a full run (default: the latest): birth, death, split, merge."""
        return [e.to_dict() for e in workspace.events(collection, run)]

    @app.get("/v1/collections/{collection}/runs", response_model=list[Run], responses=ERRORS)
    def runs(collection: str = NAME):
        """Every run of the collection, newest first, complete or not."""
        return [r.to_dict() for r in workspace.runs(collection)]

    @app.delete("/v1/collections/{collection}/runs/{run}", status_code=204, responses=ERRORS)
    def delete_run(run: int, collection: str = NAME):
        """Delete a run from the history: a failed one, or one that a later full run replaced."""
        workspace.delete_run(collection, run)

    describe_bodies(app)
    return app


def _started(jobs: Jobs, collection: str, work) -> str:
    """The id of a job started on the collection; a 409 while another job on it runs."""
    job = jobs.start(collection, work)
    if job is None:
        raise EmbcError(f"a job on '{collection}' is already running: job {jobs.active(collection).id}")
    return job.id


def _decoded(decoded) -> Response:
    """A decoder's drawing as a PNG, or a row as JSON."""
    if isinstance(decoded, dict):
        return JSONResponse(decoded)
    png = io.BytesIO()
    decoded.save(png, format="PNG")
    return Response(png.getvalue(), media_type="image/png")


def _ingest_uploads(workspace: Workspace, collection: str, body: schemas.Upload,
                    named: uploads.Named) -> IngestResult:
    """Ingest the uploaded files (`named`: the body's, by key) as `embc ingest` reads files, each under its name
    as key, with the uploads that have no usable name skipped."""
    check_name(collection)
    hashes = partial(_content_hashes, workspace, collection)
    saved, skipped = uploads.save(workspace.layout.uploads(collection), named, hashes, body.line_offset)
    result = IngestResult(collection)
    try:
        # An image's folder is its label, as for a folder ingested: when every upload names one (bag/x.png).
        if saved.files:
            result = workspace.ingest(collection, saved.files, model=body.model, text_field=body.text_field,
                                      label_field=body.label_field, id_field=body.id_field,
                                      folder_labels=all("/" in s.key for s in saved.files)
                                      if body.folder_labels is None else body.folder_labels)
    except BaseException:  # part of it may be stored: the store says which
        saved.settle(saved.stored(hashes))
        raise
    saved.settle({s.key for s in saved.files} - {s.source for s in result.skipped})
    result.skipped[:0] = skipped
    return result


def _content_hashes(workspace: Workspace, collection: str, keys: list[str]) -> dict[str, str]:
    """The content hash of each of these items that the collection holds."""
    ids = {point_id(key): key for key in keys}
    try:
        found = workspace.store.retrieve(collection, list(ids), keys=["content_hash"])
    except NotFound:
        return {}
    return {ids[r.id]: r.payload.get("content_hash") for r in found}


def recover_uploads(workspace: Workspace) -> None:
    """Settle the uploads a killed server left half-done, in every collection's folder (`uploads.recover`)."""
    root = workspace.layout.all_uploads
    for folder in sorted(root.iterdir()) if root.is_dir() else []:
        try:
            uploads.recover(workspace.layout.uploads(folder.name), partial(_content_hashes, workspace, folder.name))
        except EmbcError as exc:  # not a collection's name, or one that cannot be opened: its files wait
            say(f"the uploads of '{folder.name}' stay as they are: {exc}")
