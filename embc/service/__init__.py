"""`embc serve`: the HTTP API over a Workspace (FastAPI on uvicorn)."""
