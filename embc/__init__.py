"""embc: semantic clustering backed by Qdrant."""

__version__ = "0.1.0"
