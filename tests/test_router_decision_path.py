"""The router's decision path: one place per finding, one builder, batch-level preparation."""

from __future__ import annotations

import pytest

from sujian_router._router import _TimeReader

NOISE = "晚上有人跳广场舞很吵"
WHEN = "2024-06-12 22:30"


class TestPlaceConflict:
    """A district that contradicts its street is found by the places layer and explained once."""

    @pytest.mark.parametrize("batch", [False, True])
    def test_conflict_is_flagged_and_explained_once(self, router, batch):
        ctx = {"district": "福田区", "street": "粤海街道", "received_at": WHEN}
        d = router.route_many([NOISE], **ctx)[0] if batch else router.route(NOISE, **ctx)
        assert {"jurisdiction_conflict", "invalid_context"} <= set(d.flags)
        said = [r for r in d.reasons if "粤海街道属于南山区" in r]
        assert len(said) == 1, d.reasons
        assert d.needs_review and d.tier != "auto" and d.street == "粤海街道"

    def test_unknown_names_are_still_explained_here(self, router):
        d = router.route(NOISE, district="福田区", street="火星街道", received_at=WHEN)
        assert "invalid_context" in d.flags and "jurisdiction_conflict" not in d.flags
        assert any(r.startswith("事发地有误：街道“火星街道”无法识别") for r in d.reasons)

    @pytest.mark.parametrize("text, flag", [("", "empty_text"), ("。。。", "empty_text")])
    def test_refused_row_states_the_conflict_too(self, router, text, flag):
        d = router.route(text, district="福田区", street="粤海街道", received_at=WHEN)
        assert d.flags[0] == flag and "jurisdiction_conflict" in d.flags and "invalid_context" in d.flags
        assert sum("粤海街道属于南山区" in r for r in d.reasons) == 1
        assert d.tier == "manual" and d.item_code is None

    def test_consistent_place_gets_neither_flag(self, router):
        d = router.route(NOISE, district="南山区", street="粤海街道", received_at=WHEN)
        assert not {"jurisdiction_conflict", "invalid_context"} & set(d.flags)


class TestOneBuilder:
    def test_review_follows_the_tier_on_every_kind_of_row(self, router, heldout_tickets):
        rows = heldout_tickets["text"].tolist()[:30] + ["", None, "你好", "噪音" * 3000]
        out = router.route_many(rows, received_at=WHEN)
        assert {d.tier for d in out} >= {"manual"}
        for d in out:
            assert d.needs_review == (d.tier != "auto")
            assert (d.dispatch_deadline is None) == (d.received_at is None)

    def test_repeated_texts_share_preparation_and_agree(self, router, heldout_tickets):
        texts = heldout_tickets["text"].tolist()[:10]
        out = router.route_many(texts * 3, received_at=WHEN)
        first = [d.to_dict() for d in out[:10]]
        assert [d.to_dict() for d in out[10:20]] == first == [d.to_dict() for d in out[20:]]


class TestTimeReader:
    def test_each_string_is_read_once_and_errors_name_the_value(self):
        default = object()
        reader = _TimeReader(default)
        ctx, errors = reader.contexts([("a", None, "2024-06-12 22:30", None), ("b", None, "昨天", None),
                                       ("c", None, "2024-06-12 22:30", None), ("d", None, None, None)])
        assert ctx[0][2] is ctx[2][2] and ctx[0][2].hour == 22
        assert ctx[1][2] is default and ctx[3][2] is default
        assert list(errors) == [1] and "'昨天'" in errors[1]


class TestRankNames:
    def test_top_k_is_the_name_and_k_still_works_with_a_warning(self, router, heldout_tickets):
        texts = heldout_tickets["text"].tolist()[:5] + [None, ""]
        la, pa = router.rank(texts, top_k=3)
        with pytest.warns(DeprecationWarning, match="top_k"):
            lb, pb = router.rank(texts, k=3)
        assert la.shape == (7, 3) and la.tolist() == lb.tolist() and pa.tolist() == pb.tolist()
        assert [la[i, 0] for i in range(5)] == [router.route(t).candidates[0].code for t in texts[:5]]


class TestExplainOnSingleRoutes:
    def test_route_without_explanation_drops_only_the_keywords(self, router, heldout_tickets):
        explained = 0
        for text in heldout_tickets["text"].tolist()[:10]:
            full = router.route(text, received_at=WHEN)
            explained += "关键词" in full.reasons[0]
            bare = router.route(text, received_at=WHEN, explain=False)
            assert "关键词" not in bare.reasons[0]
            assert full.reasons[0].split("，关键词")[0] == bare.reasons[0]
            assert full.to_dict() | {"reasons": None} == bare.to_dict() | {"reasons": None}
            assert full.reasons[1:] == bare.reasons[1:]
        assert explained >= 7
