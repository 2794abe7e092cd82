"""Small stand-ins for the Router and DutyCatalog contracts that evaluation relies on."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np


#: text -> (ranked labels, top-1 probability) for the evaluation tests; each test file pairs
#: the first texts with its own hand-checked truth.
RANKS = {
    "t1": (("a", "b"), 0.9),
    "t2": (("b", "a"), 0.8),
    "t3": (("b", "c"), 0.7),
    "t4": (("b", "a"), 0.6),
    "t5": (("a", "b"), 0.5),
    "t6": (("c", "a"), 0.4),
    "t7": (("b", "a"), 0.3),
}


class FakeModel:
    """Implements what ``evaluate`` uses of a Router: ``rank``, ``catalog``, ``review_threshold``.

    ``ranks`` maps a text to ``((label, label), top-1 probability)``.
    """

    #: a loaded Router reports what did not match on load; a stand-in has nothing to report
    load_warnings = ()

    def __init__(self, ranks, catalog=None, review_threshold=0.55):
        self.ranks = ranks
        self.catalog = catalog
        self.review_threshold = review_threshold

    def rank(self, texts, top_k=5):
        k = min(top_k, 2)
        labels = np.array([self.ranks[t][0][:k] for t in texts], dtype=object)
        top = np.array([self.ranks[t][1] for t in texts])
        return labels, np.column_stack([top, 1 - top])[:, :k]


class FakeCatalog:
    """The part of DutyCatalog that evaluation uses: membership and ``get(code)``."""

    def __init__(self, names, leads):
        self.names, self.leads = names, leads

    def __contains__(self, code):
        return code in self.leads

    def get(self, code):
        return SimpleNamespace(code=code, name=self.names[code], lead_department=self.leads[code])
