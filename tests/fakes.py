"""Small stand-ins for the Router and DutyCatalog contracts that evaluation relies on."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np


class FakeModel:
    """Implements what ``evaluate`` uses of a Router: ``rank``, ``catalog``, ``review_threshold``.

    ``ranks`` maps a text to ``((label, label), top-1 probability)``.
    """

    def __init__(self, ranks, catalog=None, review_threshold=0.55):
        self.ranks = ranks
        self.catalog = catalog
        self.review_threshold = review_threshold

    def rank(self, texts, k=5):
        k = min(k, 2)
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
