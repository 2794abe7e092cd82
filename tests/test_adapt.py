"""Adapting a router to unlabelled city texts: report, determinism, saving, errors, CLI."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from sujian_router import TicketSchemaError, adapt

QUICK = {"min_examples_per_item": 0, "n_jobs": 1}  # no catalog-wide synthetic top-up: a small quick model


@pytest.fixture(scope="module")
def small_base(catalog):
    """A small labelled base (two categories) and a router trained on it: quick to adapt twice."""
    from sujian_router import generate_tickets, train

    items = [it.code for it in catalog.items if it.category_code in ("01", "08")][::6]
    base = generate_tickets(catalog, n_per_item=4, seed=5, items=items)[["text", "label"]]
    router = train(base, catalog=catalog, seed=5, progress=False, min_examples_per_item=0, n_jobs=1)
    city = generate_tickets(catalog, n_per_item=2, seed=6, split="heldout", items=items)["text"].tolist()
    return base, router, city + ["", "你好"]


@pytest.fixture(scope="module")
def adapted(small_base):
    base, router, city = small_base
    return adapt(router, city, base_tickets=base, progress=False, train_params=QUICK)


class TestReport:
    def test_counts_are_consistent(self, adapted, small_base):
        rep = adapted.adaptation_report
        assert rep.texts_in == len(small_base[2])
        assert rep.texts_used == rep.texts_in - 1  # the empty text is not routed to an item
        assert 0 < rep.pseudo_labelled <= rep.texts_used
        assert rep.base_rows == len(small_base[0])
        assert 0.0 <= rep.unit_changed_share <= 1.0
        for shares in (rep.tier_shares_before, rep.tier_shares_after):
            assert set(shares) == {"auto", "suggest", "manual"}
            assert sum(shares.values()) == pytest.approx(1.0)

    def test_new_terms_come_from_the_city_texts(self, adapted, small_base):
        rep = adapted.adaptation_report
        old = set(small_base[1].classifier.get_feature_names_out())
        assert rep.new_terms > 0
        assert all(t not in old and len(t) >= 2 for t in rep.new_term_examples)
        city = "".join(small_base[2])
        assert all(t.replace(" ", "") in city for t in rep.new_term_examples[:5])

    def test_pseudo_labels_above_the_threshold_only(self, small_base, adapted):
        base, router, city = small_base
        strict = adapt(router, city, base_tickets=base, min_unit_confidence=0.99, progress=False, train_params=QUICK)
        sure = [d for d in router.route_many(city, explain=False) if d.item_code is not None]
        expected = sum(d.unit_confidence >= 0.99 and "vague_text" not in d.flags for d in sure)
        assert strict.adaptation_report.pseudo_labelled == expected
        assert expected < adapted.adaptation_report.pseudo_labelled

    def test_same_texts_and_seed_give_the_same_model(self, adapted, small_base):
        base, router, city = small_base
        again = adapt(router, city, base_tickets=base, progress=False, train_params=QUICK)
        a = [d.item_code for d in adapted.route_many(city, explain=False)]
        b = [d.item_code for d in again.route_many(city, explain=False)]
        assert a == b
        assert again.adaptation_report == adapted.adaptation_report

    def test_report_is_saved_with_the_model(self, adapted, tmp_path):
        from sujian_router import Router

        loaded = Router.load(adapted.save(tmp_path / "adapted"))
        assert loaded.metadata["adaptation"] == adapted.adaptation_report.to_dict()


class TestErrors:
    def test_a_trained_router_needs_its_base_tickets(self, small_base):
        with pytest.raises(ValueError, match="pass them as base_tickets"):
            adapt(small_base[1], ["路灯坏了"], progress=False)

    def test_dataframe_without_text(self, small_base):
        with pytest.raises(TicketSchemaError, match=r"expected columns \['text'\]"):
            adapt(small_base[1], pd.DataFrame({"内容x": ["a"]}), base_tickets=small_base[0], progress=False)

    @pytest.mark.parametrize("bad", ["路灯坏了", 3])
    def test_one_text_is_refused(self, small_base, bad):
        with pytest.raises(TypeError):
            adapt(small_base[1], bad, base_tickets=small_base[0], progress=False)

    def test_threshold_out_of_range(self, small_base):
        with pytest.raises(ValueError, match="min_unit_confidence must be in"):
            adapt(small_base[1], ["路灯坏了"], min_unit_confidence=2, base_tickets=small_base[0], progress=False)


class TestCli:
    def test_adapt_writes_the_model_and_prints_the_report(self, small_base, tmp_path, capsys, monkeypatch):
        from sujian_router import _train
        from sujian_router._cli import main

        monkeypatch.setattr(_train, "_augment", lambda *a: ([], []))  # no catalog-wide synthetic top-up: quick

        base, router, city = small_base
        model = router.save(tmp_path / "model")
        tickets = tmp_path / "city.csv"
        pd.DataFrame({"诉求内容": city[:-2]}).to_csv(tickets, index=False, encoding="gbk")
        base_path = tmp_path / "base.csv"
        base.to_csv(base_path, index=False)
        out = tmp_path / "adapted"
        assert main(["adapt", "--model", str(model), "--tickets", str(tickets), "--base-tickets", str(base_path),
                     "--out", str(out), "--quiet", "--json"]) == 0
        rep = json.loads(capsys.readouterr().out)
        assert rep["texts_in"] == len(city) - 2
        assert (out / "metadata.json").is_file()


class TestFoldCorrections:
    def test_folded_corrections_route_right_and_the_memory_is_kept(self, small_base):
        from sujian_router._adapt import fold_corrections

        base, router, city = small_base
        decisions = router.route_many(city[:-2], explain=False)
        other = {d.item_code for d in decisions}
        codes = [c for c in router.classifier.classes_ if c not in other][:1] or [router.classifier.classes_[0]]
        rows = [{"text": city[0], "routed": decisions[0].item_code, "correct": codes[0], "time": "2024-06-12 10:00"}]
        learnt = router.learn(rows)
        folded = fold_corrections(learnt, base_tickets=base, progress=False, train_params=QUICK)
        assert folded.metadata["corrections"]["folded"] == 1
        assert folded.route(city[0]).item_code == codes[0]

    def test_needs_corrections(self, small_base):
        from sujian_router._adapt import fold_corrections

        with pytest.raises(ValueError, match="holds no corrections"):
            fold_corrections(small_base[1], base_tickets=small_base[0])

    def test_cli_learn_refit(self, small_base, tmp_path, capsys, monkeypatch):
        import json as _json

        from sujian_router import Router, _train
        from sujian_router._cli import main

        monkeypatch.setattr(_train, "_augment", lambda *a: ([], []))  # no catalog-wide synthetic top-up: quick
        base, router, city = small_base
        model = router.save(tmp_path / "model")
        base.to_csv(tmp_path / "base.csv", index=False)
        code = router.classifier.classes_[0]
        (tmp_path / "fix.csv").write_text(f"text,routed,correct,time\n{city[0]},{code},{router.classifier.classes_[1]},"
                                          "2024-06-12 10:00\n", encoding="utf-8")
        out = tmp_path / "refit"
        assert main(["learn", "--model", str(model), "--corrections", str(tmp_path / "fix.csv"), "--refit",
                     "--base-tickets", str(tmp_path / "base.csv"), "--out", str(out), "--json"]) == 0
        assert _json.loads(capsys.readouterr().out)["learnt"] == 1
        assert Router.load(out).metadata["corrections"]["folded"] == 1
