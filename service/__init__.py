"""The edges: Redis adapters, the stream worker, the archive and the read side."""
