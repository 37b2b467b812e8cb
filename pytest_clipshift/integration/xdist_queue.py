"""Which items xdist has handed this worker and it has not yet finished.

A worker collects every item, but runs only those the controller sends it. Prefetching the whole
collection made every worker measure every cell (two workers, twice the work). xdist keeps the
pending indices in its ``WorkerInteractor`` plugin (``item_index``, ``nextitem_index`` and the
``torun`` queue); that is private API, so when it is not found the worker prefetches nothing
beyond the cell each test asks for: never more than its share.
"""

from __future__ import annotations


def pending_items(session) -> list:
    """This worker's current and queued items, in run order; [] when xdist's queue cannot be read."""
    for plugin in session.config.pluginmanager.get_plugins():
        if type(plugin).__name__ != "WorkerInteractor":
            continue
        queue = getattr(plugin, "torun", None)
        if queue is None or not hasattr(queue, "lock"):
            return []
        with queue.lock() as queued:
            indices = [i for i in queued if isinstance(i, int)]
        head = [getattr(plugin, name, None) for name in ("item_index", "nextitem_index")]
        order = [i for i in head if isinstance(i, int)] + indices
        return [session.items[i] for i in dict.fromkeys(order) if 0 <= i < len(session.items)]
    return []
