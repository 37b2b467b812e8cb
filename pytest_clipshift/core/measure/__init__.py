"""Measuring: the engine that runs images x cases x metrics in chunks (``engine``), the packed
embedding cache (``cache``) and the thread budget shared with xdist workers (``thread_budget``)."""
