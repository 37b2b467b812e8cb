"""The shift metrics: each a ``Metric`` object (``registry.py``: name, needs, direction, compute) over
a ``Batch`` (``batch.py``), with the pure numpy formulas in ``functional.py``. ``register_metric``
adds one of your own."""

from . import builtin  # noqa: F401  (registers the built-in metrics)
from .batch import Batch  # noqa: F401
from .functional import *  # noqa: F401,F403
from .functional import EUCLIDEAN_LINKAGES, Clustering, _grey, cluster_views, cosine_distance_matrix, edge_map  # noqa: F401
from .functional import STATISTICS, bootstrap_ci, summarize  # noqa: F401
from .registry import (DEFAULT_METRICS, METRICS, NEEDS, Metric, layered_names, metric_info,  # noqa: F401
                       register_metric, split_layer, validate_metrics)
