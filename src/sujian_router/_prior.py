"""The catalog's keywords as a second opinion on the classifier's candidate items.

The classifier learns from example tickets, which for the default model are
synthetic; a real complaint often says the one rare word that names its item
(``小广告``, ``井盖``) among words the training examples tied to another item.
:class:`KeywordPrior` re-weighs the classifier's top candidates by the catalog
keywords each one finds in the text, weighted by how rare the keyword is among
items (a keyword that many items list, such as ``小区`` or ``清理``, is weak
evidence for any one of them).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["KeywordPrior"]

#: Keywords listed by more than this share of the items carry no weight.
_MAX_DF_SHARE = 0.01


class KeywordPrior:
    """Multiply candidate probabilities by ``exp(strength * evidence)`` and renormalise.

    ``evidence`` of an item is the summed ``log(n_items / df)`` of its
    keywords found in the (prepared) text, ``df`` being the number of items
    listing the keyword. The candidates' total probability is kept, so the
    re-weighing moves probability between the candidates but never adds any.

    Parameters
    ----------
    catalog : DutyCatalog
        Source of the items' keywords.
    strength : float
        Weight of one unit of evidence; 0 switches the prior off.

    Examples
    --------
    >>> import numpy as np
    >>> from sujian_router import load_catalog
    >>> prior = KeywordPrior(load_catalog(), strength=0.3)
    >>> codes = np.array([["17-07-009", "01-02-001"]], dtype=object)
    >>> new_codes, new_probs = prior.rescore(codes, np.array([[0.69, 0.19]]), ["楼道里贴满了小广告"])
    >>> new_codes[0, 0], round(float(new_probs[0].sum()), 2)
    ('01-02-001', 0.88)
    """

    def __init__(self, catalog, *, strength):
        if not strength >= 0:
            raise ValueError(f"keyword prior strength must be >= 0, got {strength!r}")
        self.catalog = catalog
        self.strength = float(strength)
        self._table = None

    def _keywords(self):
        """``{code: ((keyword, weight), ...)}``, built on first use (keywords normalised like texts)."""
        if self._table is None:
            from ._text import normalize_text

            items = self.catalog.items
            per_item = {it.code: {normalize_text(k) for k in it.keywords if len(k) >= 2} for it in items}
            df = {}
            for kws in per_item.values():
                for k in kws:
                    df[k] = df.get(k, 0) + 1
            n = max(1, len(items))
            weight = {k: math.log(n / c) for k, c in df.items() if c <= max(1, _MAX_DF_SHARE * n)}
            self._table = {code: tuple((k, weight[k]) for k in sorted(kws) if k in weight)
                           for code, kws in per_item.items()}
        return self._table

    def evidence(self, code, text) -> float:
        """Summed weight of the keywords of item ``code`` found in ``text``."""
        return sum(w for k, w in self._keywords().get(code, ()) if k in text)

    def rescore(self, labels, probs, texts):
        """Re-weigh each row's candidates; return new ``(labels, probs)``, best first."""
        if self.strength == 0 or len(texts) == 0:
            return labels, probs
        labels = np.array(labels, dtype=object, copy=True)
        probs = np.array(probs, dtype=float, copy=True)
        table = self._keywords()
        for i, text in enumerate(texts):
            # plain Python: a row holds about ten candidates, too few for numpy to pay off
            ev = [sum(w for k, w in table.get(str(c), ()) if k in text) for c in labels[i]]
            top = max(ev)
            if top == 0:
                continue
            p = probs[i].tolist()
            w = [pi * math.exp(self.strength * (e - top)) for pi, e in zip(p, ev)]
            total = sum(w)
            if total <= 0:
                continue
            mass = sum(p)
            order = sorted(range(len(w)), key=lambda j: -w[j])
            labels[i] = labels[i][order]
            # divide before scaling: a tiny total must not turn zero weights into 0 * inf = NaN
            probs[i] = [w[j] / total * mass for j in order]
        return labels, probs
