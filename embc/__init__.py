"""embc: semantic clustering backed by Qdrant. `embc.Workspace` is the library, `embc.Client` the same over a
running `embc serve`; `embc` the command line."""

from embc.errors import EmbcError, NotFound, ParameterError
from embc.results import (ClusterStats, ClusterSummary, Entry, Event, IngestResult, Report, Run, RunResult,
                          Skipped, SweepPoint)
from embc.store.vectors import CollectionInfo
from embc.workspace import Workspace

__version__ = "0.2.0"
__all__ = ["Workspace", "Client", "CollectionInfo", "ClusterStats", "ClusterSummary", "Entry", "Event", "IngestResult",
           "Report", "Run", "RunResult", "Skipped", "SweepPoint", "EmbcError", "NotFound", "ParameterError",
           "__version__"]


def __getattr__(name: str):
    if name == "Client":  # imported on first use: its HTTP library costs every command-line start 0.2 s
        from embc.client import Client

        return Client
    raise AttributeError(f"module 'embc' has no attribute {name!r}")
