"""Unit-level decisions, the three tiers, vague texts and the catalog-keyword prior."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sujian_router import TierThresholds, UnitCandidate
from sujian_router._decision import TIERS

VAGUE = ["噪音", "12345", "你好", "投诉", "！！！？", "您好，请问", "尊敬的领导：您好！谢谢", "喂，在吗"]


@pytest.fixture(scope="session")
def open_router(router):
    """The fixture router with every threshold at 0: only the text itself can keep a decision off auto."""
    return router.with_thresholds(auto=0.0, suggest=0.0)


class TestTierThresholds:
    @pytest.mark.parametrize("value, expected", [
        ((0.8, 0.3), (0.8, 0.3)),
        ([1, 0], (1.0, 0.0)),
        ({"auto": 0.6, "suggest": 0.6}, (0.6, 0.6)),
        (TierThresholds(0.5, 0.1), (0.5, 0.1)),
    ])
    def test_coerce_accepts_pairs_mappings_and_itself(self, value, expected):
        t = TierThresholds.coerce(value)
        assert (t.auto, t.suggest) == expected

    @pytest.mark.parametrize("value, match", [
        ((0.2, 0.5), "suggest <= auto"),
        ((1.5, 0.1), "suggest <= auto <= 1"),
        ({"auto": 0.5}, r"keys \['auto', 'suggest'\]"),
        ({"auto": 0.5, "suggest": 0.1, "manual": 0}, "keys"),
        ("high", "TierThresholds, a dict or"),
        (("x", 0.1), "must be numbers"),
    ])
    def test_bad_thresholds_name_the_value(self, value, match):
        with pytest.raises(ValueError, match=match):
            TierThresholds.coerce(value)

    @pytest.mark.parametrize("conf, tier", [(0.95, "auto"), (0.8, "auto"), (0.79, "suggest"), (0.3, "suggest"),
                                            (0.29, "manual"), (0.0, "manual")])
    def test_tier_for_is_inclusive_at_each_threshold(self, conf, tier):
        assert TierThresholds(0.8, 0.3).tier_for(conf) == tier


class TestUnitDecision:
    @pytest.mark.parametrize("text", [
        "晚上10点后经常有人在坪联路过河大桥下跳广场舞，噪声比较大。",
        "小区门口的路灯坏了好几天，晚上很黑",
        "楼上装修从早到晚电钻声不断",
        "餐馆油烟直排到居民楼，窗户都不敢开",
    ])
    def test_unit_confidence_sums_the_items_behind_the_lead(self, router, text):
        d = router.route(text, top_k=3)
        assert d.unit_candidates and d.lead_department == d.unit_candidates[0].unit
        assert d.unit_confidence == d.unit_candidates[0].probability
        probs = [u.probability for u in d.unit_candidates]
        assert probs == sorted(probs, reverse=True)
        assert d.item_code in d.unit_candidates[0].items
        assert d.unit_confidence >= d.confidence - 1e-4  # the item is one of the items summed
        items = [c for u in d.unit_candidates for c in u.items]
        assert len(items) == len(set(items))  # every item counted under one unit only

    def test_needs_review_follows_the_tier(self, router, heldout_tickets):
        decisions = router.route_many(heldout_tickets["text"].head(80).tolist())
        assert {d.tier for d in decisions} <= set(TIERS)
        assert all(d.needs_review == (d.tier != "auto") for d in decisions)

    def test_to_dict_carries_units_and_tier(self, router):
        d = router.route("楼上装修从早到晚电钻声不断").to_dict()
        assert d["tier"] in TIERS and isinstance(d["unit_confidence"], float)
        assert set(d["unit_candidates"][0]) == {"unit", "probability", "items"}
        json.dumps(d, ensure_ascii=False)

    def test_unit_candidate_is_typed(self):
        u = UnitCandidate("X局", 0.5, ("01-01-001",))
        assert u.to_dict() == {"unit": "X局", "probability": 0.5, "items": ["01-01-001"]}


class TestTiers:
    @pytest.mark.parametrize("text", VAGUE)
    def test_content_free_text_is_manual_whatever_the_thresholds(self, open_router, text):
        d = open_router.route(text)
        assert d.tier == "manual" and d.needs_review
        if "empty_text" not in d.flags:  # punctuation only is already empty
            assert "vague_text" in d.flags and any("没有说明具体问题" in r for r in d.reasons)

    @pytest.mark.parametrize("text", ["噪音扰民", "路灯坏了", "井盖丢了"])
    def test_short_text_is_at_most_suggest(self, open_router, text):
        d = open_router.route(text)
        assert d.tier == "suggest" and "short_text" in d.flags

    def test_a_specific_complaint_can_be_auto(self, open_router):
        d = open_router.route("楼上邻居每天晚上十二点以后还在装修，电钻声吵得没法睡觉")
        assert d.tier == "auto" and not d.needs_review

    @pytest.mark.parametrize("auto_above, suggest_above, tier", [
        (False, False, "auto"), (True, False, "suggest"), (True, True, "manual")])
    def test_thresholds_around_the_unit_confidence_decide_the_tier(self, open_router, auto_above,
                                                                   suggest_above, tier):
        text = "楼上邻居每天晚上十二点以后还在装修，电钻声吵得没法睡觉"
        c = open_router.route(text).unit_confidence
        assert 0.0 < c < 1.0, c
        step = (1.0 - c) / 2  # a threshold just above c
        moved = open_router.with_thresholds(auto=c + step * auto_above, suggest=c + step * suggest_above)
        assert moved.route(text).tier == tier

    def test_with_thresholds_leaves_the_original_alone(self, router):
        before = router.thresholds
        other = router.with_thresholds(auto=0.99, suggest=0.5)
        assert router.thresholds == before and other.thresholds == TierThresholds(0.99, 0.5)
        assert other.review_threshold == 0.99 and other.classifier is router.classifier
        with pytest.raises(ValueError, match="not both"):
            router.with_thresholds((0.9, 0.1), auto=0.5)

    def test_train_chooses_thresholds_for_its_targets(self, router):
        t = router.training_report.tier_thresholds
        assert 0.0 <= t["suggest"] <= t["auto"] <= 1.0
        assert router.thresholds == TierThresholds.coerce(t)
        m = router.training_report.metrics
        if m["val_auto_share"] > 0:
            assert m["val_auto_accuracy"] >= router.training_report.target_accuracy - 1e-9


class TestPersistence:
    def test_thresholds_and_prior_survive_save_and_load(self, router, tmp_path):
        from sujian_router import Router

        path = router.with_thresholds(auto=0.7, suggest=0.25).save(tmp_path / "m")
        loaded = Router.load(path)
        assert loaded.thresholds == TierThresholds(0.7, 0.25) and loaded.keyword_prior == router.keyword_prior

    def test_a_model_saved_before_tiers_loads_with_default_thresholds(self, saved_router, catalog):
        from sujian_router import Router
        from sujian_router._persist import load_model_dir
        from sujian_router._router import DEFAULT_SUGGEST_THRESHOLD

        arrays, meta = load_model_dir(saved_router)
        for key in ("tier_thresholds", "keyword_prior"):
            meta.pop(key, None)
        meta["review_threshold"] = 0.6
        old = Router._from_saved(arrays, meta, path=saved_router, catalog=catalog, rules=None, strict=False)
        assert old.thresholds == TierThresholds(0.6, min(0.6, DEFAULT_SUGGEST_THRESHOLD))
        assert old.route("楼上装修电钻声从早到晚不断").tier in TIERS


class TestKeywordPrior:
    def test_a_rare_keyword_lifts_its_item(self, catalog):
        from sujian_router._prior import KeywordPrior

        prior = KeywordPrior(catalog, strength=0.3)
        labels = np.array([["17-07-009", "01-02-001"]], dtype=object)
        new_labels, new_probs = prior.rescore(labels, np.array([[0.7, 0.2]]), ["楼道里贴满了小广告"])
        assert new_labels[0, 0] == "01-02-001"
        assert new_probs.sum() == pytest.approx(0.9)

    @pytest.mark.parametrize("strength", [0.0, 0.3])
    def test_text_without_keywords_is_left_alone(self, catalog, strength):
        from sujian_router._prior import KeywordPrior

        labels = np.array([["17-07-009", "01-02-001"]], dtype=object)
        probs = np.array([[0.7, 0.2]])
        got = KeywordPrior(catalog, strength=strength).rescore(labels, probs, ["今天天气不错"])
        assert got[0].tolist() == labels.tolist() and got[1].tolist() == probs.tolist()

    def test_negative_strength_is_refused(self, catalog):
        from sujian_router._prior import KeywordPrior

        with pytest.raises(ValueError, match="-1"):
            KeywordPrior(catalog, strength=-1)


class TestEvaluateTiers:
    def test_evaluate_reports_each_tier(self, router, heldout_tickets):
        from sujian_router import evaluate

        rep = evaluate(router, heldout_tickets.head(120))
        tiers = rep.tiers.set_index("tier")
        assert list(tiers.index) == [*TIERS, "all"]
        assert tiers.loc[list(TIERS), "n"].sum() == 120 and tiers.loc["all", "share"] == 1.0
        assert tiers.loc["all", "accuracy"] == pytest.approx(rep.unit_accuracy)
        d = rep.to_dict()
        assert {"unit_accuracy", "auto_share", "suggest_accuracy_top3", "manual_accuracy"} <= set(d)
        rec = rep.tier_records()
        assert len(rec["tiers"]) == 4 and rec["unit_curve"]
        json.dumps(rec)

    def test_tier_summary_takes_sets_of_accepted_units(self, router):
        from sujian_router._evaluate import tier_summary

        decisions = router.route_many(["楼上装修电钻声从早到晚不断", "噪音"])
        accepted = [{decisions[0].lead_department, "某局"}, "不存在的单位"]
        t = tier_summary(decisions, accepted).set_index("tier")
        assert t.loc["all", "accuracy"] == 0.5
        with pytest.raises(ValueError, match="2 decisions but 1"):
            tier_summary(decisions, accepted[:1])

    def test_cli_evaluate_json_has_tiers_and_curve(self, router, heldout_tickets, tmp_path, capsys):
        from sujian_router._cli import main

        model = router.save(tmp_path / "m")
        data = tmp_path / "t.csv"
        heldout_tickets.head(40)[["text", "label"]].to_csv(data, index=False)
        assert main(["evaluate", "--model", str(model), "--tickets", str(data), "--json",
                     "--auto-threshold", "0.9", "--suggest-threshold", "0.2"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["threshold"] == 0.9 and {t["tier"] for t in out["tiers"]} == {*TIERS, "all"}
        assert out["unit_curve"] and "auto_share" in out

    def test_cli_route_rejects_crossed_thresholds(self, router, tmp_path, capsys):
        from sujian_router._cli import main

        model = router.save(tmp_path / "m")
        assert main(["route", "路灯坏了", "--model", str(model), "--auto-threshold", "0.2",
                     "--suggest-threshold", "0.5"]) == 2
        assert "suggest <= auto" in capsys.readouterr().err
