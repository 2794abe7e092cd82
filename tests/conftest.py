"""Shared, seeded, session-scoped fixtures: a small synthetic ticket set and a router fitted on it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
TEDDY = SHARED_DATA / "teddycup2020" / "messages.csv"

#: Items of the small fixture model: every noise item plus a spread of others (seeded choice).
FIXTURE_SEED = 7


@pytest.fixture(scope="session", autouse=True)
def _isolated_home(tmp_path_factory):
    """Keep the default-model cache of the tests away from the user's cache."""
    home = tmp_path_factory.mktemp("sujian_home")
    old = os.environ.get("SUJIAN_ROUTER_HOME")
    os.environ["SUJIAN_ROUTER_HOME"] = str(home)
    yield home
    if old is None:
        os.environ.pop("SUJIAN_ROUTER_HOME", None)
    else:
        os.environ["SUJIAN_ROUTER_HOME"] = old


@pytest.fixture(scope="session")
def catalog():
    from sujian_router import load_catalog

    return load_catalog()


@pytest.fixture(scope="session")
def fixture_items(catalog):
    """All noise items and every 12th other item: ~390 items over all 18 categories."""
    codes = [it.code for it in catalog.items if it.category_code == "08"]
    others = [it.code for it in catalog.items if it.category_code != "08"]
    return codes + others[::12]


@pytest.fixture(scope="session")
def fixture_tickets(catalog, fixture_items):
    from sujian_router import generate_tickets

    return generate_tickets(catalog, n_per_item=8, seed=FIXTURE_SEED, split="train", items=fixture_items)


@pytest.fixture(scope="session")
def heldout_tickets(catalog, fixture_items):
    from sujian_router import generate_tickets

    return generate_tickets(catalog, n_per_item=2, seed=FIXTURE_SEED + 1, split="heldout", items=fixture_items)


@pytest.fixture(scope="session")
def router(catalog, fixture_tickets):
    """A router trained on the small synthetic fixture (not the full default model)."""
    from sujian_router import train

    return train(fixture_tickets, catalog=catalog, seed=FIXTURE_SEED, progress=False, synthetic=True,
                 min_examples_per_item=0)


@pytest.fixture(scope="session")
def saved_router(router, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "fixture-model"
    router.save(path)
    return path


@pytest.fixture(scope="session")
def teddy_path():
    if not TEDDY.is_file():
        pytest.skip(f"real data not available: {TEDDY} is absent (the shared folder is not mounted)")
    return TEDDY


@pytest.fixture(scope="session")
def tiny_saved_router(catalog, tmp_path_factory):
    """A three-level model over a few dozen catalog items, saved: quick to copy, tamper with, load and route."""
    from sujian_router import Router, TextClassifier, generate_tickets

    items = [it.code for it in catalog.items if it.category_code in ("01", "08")][::8]
    tickets = generate_tickets(catalog, n_per_item=3, seed=3, items=items)
    groups = [catalog.get(c).category_code for c in tickets["label"]]
    subgroups = [catalog.get(c).subcategory_code for c in tickets["label"]]
    clf = TextClassifier(min_df=1, hierarchy="three-level").fit(tickets["text"].tolist(), tickets["label"].tolist(),
                                                                groups=groups, subgroups=subgroups)
    path = tmp_path_factory.mktemp("tiny") / "model"
    Router(clf, catalog=catalog, review_threshold=0.3).save(path)
    return path


@pytest.fixture(scope="module")
def plt():
    """matplotlib.pyplot on the Agg backend (the test is skipped without matplotlib); figures closed after."""
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as pyplot

    yield pyplot
    pyplot.close("all")


@pytest.fixture(scope="session")
def true_units():
    """``f(router, df)``: the lead unit the rules give for each row's TRUE item (``label``) in its context."""
    import numpy as np

    from sujian_router.rules import RoutingContext

    def units(router, df):
        cat = router.catalog
        out = []
        for row in df.itertuples(index=False):
            ctx = RoutingContext(district=row.district, street=row.street, received_at=row.received_at)
            out.append(router.rules.apply(cat.get(row.label), row.text, ctx, cat.departments).lead_department)
        return np.asarray(out, dtype=object)

    return units
