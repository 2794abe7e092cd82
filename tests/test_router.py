"""Router behaviour: the decision type, batches, context, persistence, threads, determinism."""

from __future__ import annotations

import math
import threading
from datetime import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sujian_router import ModelFileError, Router, RoutingDecision
from sujian_router._decision import Candidate

PINGSHAN = "晚上10点后经常有人在坪联路过河大桥下跳广场舞，噪声比较大，影响了我的休息。"


def _key(d: RoutingDecision):
    """Everything that must agree between two routings of the same input."""
    return (d.item_code, round(d.confidence, 6), tuple(c.code for c in d.candidates), d.lead_department,
            d.co_departments, d.urgency, d.needs_review, d.flags, d.dispatch_deadline)


class TestDecision:
    def test_route_returns_typed_decision(self, router):
        d = router.route(PINGSHAN, district="坪山区", street="坪山街道", received_at="2024-06-12 22:30")
        assert isinstance(d, RoutingDecision)
        assert all(isinstance(c, Candidate) for c in d.candidates)
        assert d.item_code == d.candidates[0].code
        assert 0.0 < d.confidence <= 1.0
        assert list(c.score for c in d.candidates) == sorted((c.score for c in d.candidates), reverse=True)
        assert d.lead_department and d.lead_department not in d.co_departments
        assert d.departments[0] == d.lead_department
        assert d.reasons and d.reasons[0].startswith("判定为")

    def test_pingshan_case_goes_to_police_station_and_river_centre(self, router):
        d = router.route(PINGSHAN, district="坪山区", street="坪山街道", received_at="2024-06-12 22:30")
        assert d.category == "噪声污染"
        assert "坪山派出所" in d.departments
        assert "深圳市龙岗河坪山河流域管理中心" in d.departments

    def test_same_text_in_futian_by_day_has_no_pingshan_unit(self, router):
        d = router.route(PINGSHAN, district="福田区", received_at="2024-06-12 15:00")
        assert not any("坪山" in u for u in d.departments), d.departments

    @pytest.mark.parametrize("urgency,minutes", [("一般", 120)])
    def test_deadlines_follow_urgency(self, router, urgency, minutes):
        d = router.route("小区门口的人行道砖松动了很久没人修", district="罗湖区", received_at="2024-03-01 09:00")
        if d.urgency == urgency:
            assert d.dispatch_deadline == datetime(2024, 3, 1, 9, 0) + (d.dispatch_deadline - d.received_at)
            assert (d.dispatch_deadline - d.received_at).total_seconds() == minutes * 60
        assert (d.contact_deadline - d.received_at).total_seconds() == 24 * 3600

    def test_to_dict_is_json_ready(self, router):
        import json

        d = router.route(PINGSHAN, district="坪山区", received_at="2024-06-12 22:30")
        data = json.loads(json.dumps(d.to_dict(), ensure_ascii=False))
        assert data["item_code"] == d.item_code
        assert data["departments"] == list(d.departments)
        assert data["dispatch_deadline"] == d.dispatch_deadline.isoformat(timespec="minutes")
        assert data["received_at"] == "2024-06-12T22:30"


class TestBadInput:
    @pytest.mark.parametrize("text", ["", "   ", "\n\t", "？？？！！！", "😀😀😀", "\x00\x01\x02"])
    def test_empty_or_content_free_text_is_flagged(self, router, text):
        d = router.route(text)
        assert d.needs_review and d.item_code is None
        assert "empty_text" in d.flags
        assert d.reasons

    def test_huge_text_is_truncated_and_flagged(self, router):
        d = router.route("楼下广场舞太吵了" * 20000)
        assert "truncated" in d.flags
        assert d.item_code is not None

    @pytest.mark.parametrize("value", [None, 3, 3.5, b"bytes", ["list"]])
    def test_route_rejects_non_str(self, router, value):
        with pytest.raises(TypeError, match="str"):
            router.route(value)

    def test_route_many_flags_none_and_nan(self, router):
        out = router.route_many(["楼下广场舞太吵", None, float("nan"), 5, ""])
        assert len(out) == 5
        assert out[0].item_code is not None
        assert [("invalid_input" in d.flags) for d in out[1:4]] == [True, True, True]
        assert "empty_text" in out[4].flags

    def test_bad_time_in_route_names_it(self, router):
        with pytest.raises(ValueError, match="received_at"):
            router.route("路灯不亮", received_at="yesterday-ish")

    def test_bad_time_in_batch_is_flagged_not_raised(self, router):
        import pandas as pd

        df = pd.DataFrame({"text": ["路灯不亮", "路灯不亮"], "received_at": ["2024-01-01 10:00", "not a time"]})
        out = router.route_many(df)
        assert "invalid_context" not in out[0].flags
        assert "invalid_context" in out[1].flags and out[1].needs_review

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.text(max_size=300))
    def test_route_never_raises_on_any_str(self, router, text):
        d = router.route(text)
        assert isinstance(d, RoutingDecision)
        assert math.isfinite(d.confidence)


ADVERSARIAL = [
    "",
    "\x00\x1b[31m\x7f",
    "<html><body><script>alert(1)</script><p>楼下 广场舞 太吵</p></body></html>",
    "投诉" * 60000,
    "😡😡😡 噪音!!! noise at night, 楼下KTV吵到凌晨三点",
    "\ud800\udfff 孤立代理项",
    "ＡＢＣ１２３　全角　路灯不亮",
    "Hello, the street light on Shennan Road is broken.",
    "電話13812345678，身份證440301199001011234，車牌粵B12345",
    "\u202e\u200b\u200d零宽字符和方向控制符\ufeff",
    None,
    float("nan"),
    12345,
]


class TestBatch:
    def test_adversarial_batch_keeps_every_row_in_order(self, router):
        out = router.route_many(ADVERSARIAL, received_at="2024-01-01 10:00", batch_size=4)
        assert len(out) == len(ADVERSARIAL)
        for raw, d in zip(ADVERSARIAL, out):
            assert isinstance(d, RoutingDecision)
            if not isinstance(raw, str):
                assert "invalid_input" in d.flags and d.needs_review
        assert "truncated" in out[3].flags
        assert out[2].item_code is not None and out[6].item_code is not None
        singles = [router.route(t, received_at="2024-01-01 10:00") for t in ADVERSARIAL if isinstance(t, str)]
        assert [_key(d) for d in out if "invalid_input" not in d.flags] == [_key(d) for d in singles]

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.lists(st.one_of(st.text(max_size=80), st.none(), st.integers()), max_size=12))
    def test_any_batch_gives_one_decision_per_row(self, router, rows):
        out = router.route_many(rows, received_at="2024-01-01 10:00", batch_size=5)
        assert len(out) == len(rows)
        for raw, d in zip(rows, out):
            assert (d.item_code is None) == (not isinstance(raw, str) or "empty_text" in d.flags)

    def test_batch_equals_single_in_order(self, router, heldout_tickets):
        texts = heldout_tickets["text"].tolist()[:60]
        when = "2024-05-01 08:00"
        batch = router.route_many(texts, district="南山区", received_at=when, batch_size=7)
        singles = [router.route(t, district="南山区", received_at=when) for t in texts]
        assert [_key(a) for a in batch] == [_key(b) for b in singles]

    def test_without_explanations_only_the_keywords_go(self, router, heldout_tickets):
        texts = heldout_tickets["text"].tolist()[:40]
        when = "2024-05-01 08:00"
        full = router.route_many(texts, received_at=when)
        bare = router.route_many(texts, received_at=when, explain=False)
        assert [_key(a) for a in full] == [_key(b) for b in bare]
        assert sum("关键词" in d.reasons[0] for d in full) >= 30
        assert not any("关键词" in d.reasons[0] for d in bare)
        for a, b in zip(full, bare):
            assert a.reasons[0].split("，关键词")[0] == b.reasons[0]
            assert a.reasons[1:] == b.reasons[1:]

    def test_dataframe_rows_carry_their_own_context(self, router):
        import pandas as pd

        df = pd.DataFrame({
            "text": [PINGSHAN, PINGSHAN],
            "district": ["坪山区", "福田区"],
            "street": ["坪山街道", None],
            "received_at": ["2024-06-12 22:30", "2024-06-12 15:00"],
        })
        a, b = router.route_many(df)
        assert "坪山派出所" in a.departments
        assert not any("坪山" in u for u in b.departments)

    def test_rank_matches_route(self, router):
        labels, probs = router.rank([PINGSHAN], top_k=3)
        d = router.route(PINGSHAN)
        assert labels[0, 0] == d.item_code
        assert probs.shape == (1, 3)


class TestPersistence:
    def test_save_load_round_trip_gives_identical_decisions(self, router, saved_router, heldout_tickets):
        loaded = Router.load(saved_router)
        texts = heldout_tickets["text"].tolist()[:40]
        a = router.route_many(texts, received_at="2024-01-01 10:00")
        b = loaded.route_many(texts, received_at="2024-01-01 10:00")
        assert [_key(x) for x in a] == [_key(y) for y in b]
        assert loaded.review_threshold == pytest.approx(router.review_threshold)

    def test_model_card_names_the_model(self, router, saved_router):
        card = (saved_router / "MODEL_CARD.md").read_text(encoding="utf-8")
        assert f"- labels: {router.classifier.classes_.size}" in card
        assert "- classifier: three-level sparse linear model" in card
        assert "SYNTHETIC" in card

    def test_missing_directory_is_a_model_file_error(self, tmp_path):
        with pytest.raises(ModelFileError, match="missing|not found|does not exist"):
            Router.load(tmp_path / "nope")

    def test_tampered_arrays_are_refused(self, saved_router, tmp_path):
        import shutil

        copy = tmp_path / "m"
        shutil.copytree(saved_router, copy)
        data = bytearray((copy / "arrays.npz").read_bytes())
        data[len(data) // 2] ^= 0xFF
        (copy / "arrays.npz").write_bytes(bytes(data))
        with pytest.raises(ModelFileError, match="arrays.npz"):
            Router.load(copy)

    @pytest.mark.parametrize("backend,warned", [("rjieba", True), ("jieba", False)])
    def test_rjieba_version_is_checked_only_for_models_that_segment_with_it(self, router, tmp_path,
                                                                           backend, warned):
        import copy
        import json

        from test_persist import _rewrite_manifest

        clf = copy.deepcopy(router.classifier)
        clf.tokenizer.backend = backend
        path = Router(clf, catalog=router.catalog, review_threshold=router.review_threshold).save(tmp_path / "m")
        meta = json.loads((path / "metadata.json").read_text(encoding="utf-8"))
        meta["versions"]["rjieba"] = "0.0.1"
        (path / "metadata.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        _rewrite_manifest(path)
        loaded = Router.load(path)
        assert loaded.classifier.tokenizer.backend == backend
        assert any(w.startswith("rjieba: saved with 0.0.1") for w in loaded.load_warnings) is warned

    def test_changing_a_department_in_the_catalog_needs_no_retraining(self, router, catalog, tmp_path):
        from sujian_router import load_catalog

        d = router.route("路灯不亮", district="罗湖区", street="东门街道", received_at="2024-01-01 10:00")
        item = catalog.get(d.item_code)
        frame = catalog.to_frame()
        new_role = "区应急管理局" if item.lead_department != "区应急管理局" else "区民政局"
        frame.loc[frame["code"] == item.code, "lead_department"] = new_role
        path = tmp_path / "catalog.csv"
        frame.to_csv(path, index=False, encoding="utf-8-sig")
        changed = Router(router.classifier, catalog=load_catalog(path), review_threshold=router.review_threshold)
        d2 = changed.route("路灯不亮", district="罗湖区", street="东门街道", received_at="2024-01-01 10:00")
        assert d2.item_code == d.item_code
        assert d2.lead_department != d.lead_department
        assert d2.lead_department == catalog.departments.resolve(new_role, district="罗湖区", street="东门街道")


class TestConcurrencyAndDeterminism:
    def test_eight_threads_give_the_serial_answers(self, router, heldout_tickets):
        texts = heldout_tickets["text"].tolist()[:80]
        serial = [_key(d) for d in router.route_many(texts, received_at="2024-01-01 10:00")]
        results = [None] * 8
        errors = []

        def work(i):
            try:
                results[i] = [_key(router.route(t, received_at="2024-01-01 10:00")) for t in texts]
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        assert all(r == serial for r in results)

    def test_same_seed_same_model(self, catalog, fixture_items):
        from sujian_router import generate_tickets, train

        items = fixture_items[:40]
        tickets = generate_tickets(catalog, n_per_item=6, seed=3, items=items)
        a = train(tickets, catalog=catalog, seed=5, progress=False, min_examples_per_item=0)
        b = train(tickets, catalog=catalog, seed=5, progress=False, min_examples_per_item=0)
        probe = generate_tickets(catalog, n_per_item=2, seed=4, split="heldout", items=items)["text"].tolist()
        la, pa = a.rank(probe, top_k=3)
        lb, pb = b.rank(probe, top_k=3)
        assert (la == lb).all()
        assert (pa == pb).all()
        assert a.review_threshold == b.review_threshold
