"""Vector store (Qdrant, embedded or server) and report store (DuckDB)."""
