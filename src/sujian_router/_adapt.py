"""Adapting a router to a city's own language from unlabelled history (self-training).

:func:`adapt` routes the city's past ticket texts with the current router,
keeps the tickets it routes confidently (unit confidence at or above a
threshold, the ``auto`` threshold by default), and retrains on the router's
own training tickets plus these confidently labelled city tickets. The
catalog stays the prior: the synthetic catalog tickets (or the ones given)
are all kept, so every item stays reachable, while the city's texts bring
their own vocabulary and term weights (IDF) into the TF-IDF features and the
city's wording of the problems it already routes well into the items' models.
Everything is seeded, so the same texts and seed give the same model.

An :class:`AdaptationReport` says what changed: the new terms (most frequent
in the city's texts first), the share of tickets whose lead unit changed and
the tier shares before and after.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

__all__ = ["adapt", "AdaptationReport", "fold_corrections"]

_EXAMPLE_TERMS = 30


@dataclass(frozen=True)
class AdaptationReport:
    """What :func:`adapt` did and what changed.

    Attributes
    ----------
    texts_in, texts_used : int
        City texts given; those routed to an item (empty and content-free
        texts are not).
    pseudo_labelled : int
        City texts added to training with the item the router chose
        (unit confidence at or above ``min_unit_confidence``).
    base_rows : int
        Training tickets of the original router kept as the catalog prior.
    new_terms : int
        Vocabulary terms of the new model that the old one did not have.
    new_term_examples : tuple of str
        Up to 30 new word terms, most frequent in the city's texts first.
    unit_changed_share : float
        Share of the used city texts whose lead unit differs after adapting.
    tier_shares_before, tier_shares_after : dict
        ``auto``/``suggest``/``manual`` shares of the city texts.
    """

    texts_in: int
    texts_used: int
    pseudo_labelled: int
    min_unit_confidence: float
    base_rows: int
    new_terms: int
    new_term_examples: tuple = ()
    unit_changed_share: float = 0.0
    tier_shares_before: dict = field(default_factory=dict)
    tier_shares_after: dict = field(default_factory=dict)
    seed: int = 0

    def to_dict(self) -> dict:
        """Return the report as a JSON-ready dict."""
        out = asdict(self)
        out["new_term_examples"] = list(self.new_term_examples)
        return out

    def summary(self) -> str:
        """A few readable lines for the console."""
        fmt = lambda d: ", ".join(f"{k} {v:.1%}" for k, v in sorted(d.items()))  # noqa: E731
        return (f"city texts {self.texts_in} (used {self.texts_used}); pseudo-labelled "
                f"{self.pseudo_labelled} at unit confidence >= {self.min_unit_confidence:.3f}; "
                f"base training tickets {self.base_rows}\n"
                f"new terms {self.new_terms}, e.g. {' '.join(self.new_term_examples[:15])}\n"
                f"lead unit changed on {self.unit_changed_share:.1%} of the city texts\n"
                f"tiers before: {fmt(self.tier_shares_before)}\ntiers after:  {fmt(self.tier_shares_after)}")


def _as_texts(texts):
    """A list of texts from a list, a Series or a DataFrame with a ``text`` column."""
    import pandas as pd

    from .exceptions import TicketSchemaError

    if isinstance(texts, pd.DataFrame):
        if "text" not in texts.columns:
            raise TicketSchemaError(f"adapt(): expected columns ['text'], found {list(texts.columns)}")
        texts = texts["text"]
    if isinstance(texts, str):
        raise TypeError("adapt() needs many texts (a list, Series or DataFrame), not one str")
    return ["" if t is None or t != t else str(t) for t in texts]


def _tiers(decisions):
    """Tier shares of decisions."""
    n = max(1, len(decisions))
    out = {"auto": 0, "suggest": 0, "manual": 0}
    for d in decisions:
        out[d.tier] = out.get(d.tier, 0) + 1
    return {k: v / n for k, v in out.items()}


def _base_training(router, base_tickets, seed):
    """The router's own training tickets and ``train`` arguments that rebuild it.

    The bundled default model is rebuilt from its recipe (synthetic catalog
    tickets); any other router needs ``base_tickets``.
    """
    from ._default_model import (DEFAULT_MODEL_AUTO_ACCURACY, DEFAULT_N_PER_ITEM, DEFAULT_SEED,
                                 _TIER_SEED_OFFSET)
    from ._synth import generate_tickets

    if base_tickets is not None:
        return base_tickets[["text", "label"]], {"seed": seed}
    if "default_recipe" not in router.metadata and router.metadata.get("base_recipe") != "default":
        raise ValueError("adapt(): this router is not the bundled default model, so its training tickets "
                         "cannot be rebuilt; pass them as base_tickets= (columns text, label)")
    catalog = router.catalog
    tickets = generate_tickets(catalog, n_per_item=DEFAULT_N_PER_ITEM, seed=DEFAULT_SEED, split="train")
    tier = generate_tickets(catalog, n_per_item=1, seed=DEFAULT_SEED + _TIER_SEED_OFFSET, split="heldout")
    return tickets[["text", "label"]], {"base_recipe": "default", "seed": DEFAULT_SEED, "refit": False, "tier_tickets": tier,
                                        "target_accuracy": DEFAULT_MODEL_AUTO_ACCURACY, "synthetic": True}


def _new_terms(old, new, texts):
    """Count of new vocabulary terms and the word terms among them most frequent in ``texts``."""
    import numpy as np

    from ._text import prepare_text

    old_terms = set(old.classifier.get_feature_names_out())
    names = new.classifier.get_feature_names_out()
    fresh = np.asarray([t not in old_terms for t in names])
    words = fresh & np.asarray([":" not in t and len(t) >= 2 for t in names])  # words, not single characters
    if not words.any() or not texts:
        return int(fresh.sum()), ()
    df = np.asarray((new.classifier.transform([prepare_text(t).text for t in texts]) > 0).sum(axis=0)).ravel()
    cols = np.flatnonzero(words)
    top = cols[np.lexsort((names[cols], -df[cols]))][:_EXAMPLE_TERMS]
    return int(fresh.sum()), tuple(str(names[c]) for c in top if df[c] > 0)


def adapt(router, texts, *, min_unit_confidence=None, base_tickets=None, seed=0, progress=True, train_params=None):
    """Adapt a router to a city's language with its unlabelled ticket texts.

    Parameters
    ----------
    router : Router
        A catalog router: the bundled default model, or any router when
        ``base_tickets`` are given.
    texts : list of str, pandas.Series or pandas.DataFrame
        The city's past ticket texts (a DataFrame needs a ``text`` column).
        No labels are used.
    min_unit_confidence : float, optional
        Unit confidence from which a city ticket is taken as labelled by the
        router's choice; the router's ``auto`` threshold by default.
    base_tickets : pandas.DataFrame, optional
        The labelled tickets (``text``, ``label``) the router was trained
        on; not needed for the bundled default model, whose synthetic
        tickets are rebuilt from its recipe.
    seed : int
        Seed of the retraining (the default model keeps its own seed).
    progress : bool
        Show progress bars.
    train_params : dict, optional
        Further :func:`train` arguments for the retraining with
        ``base_tickets`` (e.g. ``min_examples_per_item``, ``n_jobs``).

    Returns
    -------
    Router
        The adapted router; ``router.adaptation_report`` is an
        :class:`AdaptationReport` (also saved in the model's metadata).

    Raises
    ------
    ValueError
        A free-label router, a threshold outside [0, 1], or a router whose
        training tickets cannot be rebuilt and were not given.

    Examples
    --------
    >>> from sujian_router import Router, adapt
    >>> city = ["小区楼下烧烤摊油烟很大", "路灯不亮好几天了"]                 # doctest: +SKIP
    >>> adapted = adapt(Router.load(), city)                               # doctest: +SKIP
    >>> adapted.adaptation_report.pseudo_labelled                          # doctest: +SKIP
    2
    """
    if router.catalog is None:
        raise ValueError("adapt(): a free-label router has no catalog to adapt against")
    threshold = router.thresholds.auto if min_unit_confidence is None else float(min_unit_confidence)
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"adapt(): min_unit_confidence must be in [0, 1], got {min_unit_confidence!r}")
    texts = _as_texts(texts)
    base, kwargs = _base_training(router, base_tickets, seed)
    if train_params:
        if base_tickets is None:
            raise ValueError("adapt(): train_params apply only with base_tickets (the default model keeps its recipe)")
        kwargs = {**dict(train_params), **kwargs}
    return _adapt(router, texts, threshold, base, kwargs, progress)


def _adapt(router, texts, threshold, base, kwargs, progress):
    import pandas as pd

    from ._train import train

    before = router.route_many(texts, explain=False)
    used = [i for i, d in enumerate(before) if d.item_code is not None]
    chosen = [i for i in used if before[i].unit_confidence >= threshold and "vague_text" not in before[i].flags]
    pseudo = pd.DataFrame({"text": [texts[i] for i in chosen], "label": [before[i].item_code for i in chosen]})
    recipe = kwargs.pop("base_recipe", None)
    adapted = train(pd.concat([base, pseudo], ignore_index=True), catalog=router.catalog, progress=progress,
                    **kwargs)
    if recipe:
        adapted.metadata["base_recipe"] = recipe  # adapting or folding again rebuilds the same base
    after = adapted.route_many(texts, explain=False)
    n_new, examples = _new_terms(router, adapted, [texts[i] for i in used])
    changed = sum(before[i].lead_department != after[i].lead_department for i in used)
    report = AdaptationReport(
        texts_in=len(texts), texts_used=len(used), pseudo_labelled=len(chosen), min_unit_confidence=threshold,
        base_rows=len(base), new_terms=n_new, new_term_examples=examples,
        unit_changed_share=changed / len(used) if used else 0.0,
        tier_shares_before=_tiers([before[i] for i in used]), tier_shares_after=_tiers([after[i] for i in used]),
        seed=int(kwargs.get("seed", 0)))
    adapted.metadata["adaptation"] = report.to_dict()
    adapted.adaptation_report = report
    return adapted


def fold_corrections(router, *, base_tickets=None, progress=True, train_params=None):
    """Retrain a router with its remembered corrections as labelled tickets (a periodic full retrain).

    The correction memory (see ``Router.learn``) fixes near-repeats of a
    corrected text; folding the corrections into the model lets them
    generalise to other wordings. The router's training tickets (rebuilt for
    the bundled default model, else ``base_tickets``) plus every remembered
    correction (its text, labelled with its correct item) are trained on; the memory is kept, each entry re-anchored on the new
    model's own first item for its text.

    Parameters
    ----------
    router : Router
        A router holding corrections.
    base_tickets : pandas.DataFrame, optional
        As for :func:`adapt`.
    progress : bool
        Show progress bars.
    train_params : dict, optional
        As for :func:`adapt`.

    Returns
    -------
    Router
        The retrained router (``metadata["corrections"]["folded"]`` counts the
        corrections folded in).

    Raises
    ------
    ValueError
        The router holds no corrections.
    """
    import pandas as pd

    from ._learn import reanchor
    from ._train import train

    spec = router.metadata.get("corrections") or {}
    entries = list(spec.get("entries", ()))
    if not entries:
        raise ValueError("fold_corrections(): the router holds no corrections (use Router.learn first)")
    base, kwargs = _base_training(router, base_tickets, 0)
    if train_params:
        kwargs = {**dict(train_params), **kwargs}
    # once each: train() quarantines exact repeats of a (text, label) row as duplicates
    fixes = pd.DataFrame({"text": [e["text"] for e in entries], "label": [e["item"] for e in entries]})
    recipe = kwargs.pop("base_recipe", None)
    retrained = train(pd.concat([base, fixes], ignore_index=True), catalog=router.catalog, progress=progress,
                      **kwargs)
    if recipe:
        retrained.metadata["base_recipe"] = recipe
    return reanchor(retrained, spec, folded=len(entries))
