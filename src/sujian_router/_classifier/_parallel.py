"""Ordered map over forked worker processes, shared by featurising and model fitting."""

from __future__ import annotations

import os

_STATE = None  # what forked workers of ordered_map inherit instead of receiving it pickled


def _call_with_state(fn, item):
    return fn(_STATE, item)


def ordered_map(fn, items, state, n_jobs, window=None):
    """Yield ``fn(state, item)`` for every item, in order, on ``n_jobs`` forked processes.

    Workers are forked after ``state`` (texts, or the training matrix) exists,
    so they share it copy-on-write instead of receiving a pickled copy; only
    items and results cross processes. Processes rather than threads:
    tokenising is pure Python, and scikit-learn's liblinear draws from one
    process-wide random generator, so models fitted in concurrent threads
    would depend on timing. ``window`` bounds the tasks in flight (and so the
    results waiting to be consumed); ``None`` submits everything at once.
    Without ``fork`` (Windows) or with one job, runs in this process.
    """
    global _STATE
    import multiprocessing as mp

    items = list(items)
    n_workers = n_workers_for(n_jobs, len(items))
    if n_workers <= 1 or "fork" not in mp.get_all_start_methods():
        for item in items:
            yield fn(state, item)
        return
    from collections import deque

    from .._pool import worker_pool

    limit = len(items) if window is None else max(1, window) * n_workers
    _STATE = state
    try:
        with worker_pool(n_workers) as pool:  # workers stop at once on Ctrl-C
            todo = iter(items)
            pending = deque(pool.submit(_call_with_state, fn, item) for _, item in zip(range(limit), todo))
            while pending:
                result = pending.popleft().result()
                for item in todo:  # refill the window by one
                    pending.append(pool.submit(_call_with_state, fn, item))
                    break
                yield result
    finally:
        _STATE = None


def n_workers_for(n_jobs, n_tasks):
    """Worker processes for ``n_jobs`` (None: 1; negative: all cores + 1 + n_jobs), at most ``n_tasks``."""
    if n_jobs is None:
        return 1
    if n_jobs < 0:
        n_jobs = max(1, (os.cpu_count() or 1) + 1 + n_jobs)
    return max(1, min(int(n_jobs), n_tasks))
