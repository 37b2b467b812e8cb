"""The shift metrics: each a ``Metric`` object (``registry.py``: name, needs, direction, compute) over
a ``Batch`` (``batch.py``), with the pure numpy formulas in ``functional.py``. ``register_metric``
adds one of your own."""

from . import builtin  # (registers the built-in metrics)
from .batch import Batch
from .functional import *  # noqa: F403
from .functional import (
    EUCLIDEAN_LINKAGES,
    STATISTICS,
    Clustering,
    bootstrap_ci,
    cluster_views,
    cosine_distance_matrix,
    edge_map,
    grey,
    summarize,
)
from .registry import (
    DEFAULT_METRICS,
    METRICS,
    NEEDS,
    RANKING_METRIC,
    Metric,
    layered_names,
    metric_info,
    register_metric,
    split_layer,
    validate_metrics,
)
