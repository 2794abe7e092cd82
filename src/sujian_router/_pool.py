"""Forked worker processes that stop at once when the parent is interrupted.

A ``ProcessPoolExecutor`` left to its own shutdown after Ctrl-C can hang:
the terminal sends SIGINT to every process of the group, a worker killed
while holding the task queue's lock leaves the others waiting on the pipe,
and the parent waits for them forever. Here workers ignore SIGINT (the
parent alone decides), and when the parent leaves the pool by an exception
(``KeyboardInterrupt``, an error, or a consumer that stops iterating) the
workers are terminated, then killed if they do not exit within seconds.
"""

from __future__ import annotations

import signal
from contextlib import contextmanager

__all__ = ["worker_pool"]

_JOIN_SECONDS = 5.0


def _ignore_sigint():
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextmanager
def worker_pool(n_workers):
    """A ``ProcessPoolExecutor`` of ``n_workers`` forked processes that never outlives an interrupt.

    Examples
    --------
    >>> with worker_pool(1) as pool:
    ...     pool.submit(abs, -3).result()
    3
    """
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    pool = ProcessPoolExecutor(max_workers=n_workers, mp_context=mp.get_context("fork"),
                               initializer=_ignore_sigint)
    try:
        yield pool
    except BaseException:
        _terminate(pool)
        raise
    pool.shutdown(wait=True)


def _terminate(pool):
    """Stop every worker now: cancel queued tasks, terminate, then kill what is left."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        if p.is_alive():
            p.terminate()
    for p in procs:
        p.join(_JOIN_SECONDS)
        if p.is_alive():  # pragma: no cover - a worker stuck in uninterruptible I/O
            p.kill()
            p.join(_JOIN_SECONDS)
