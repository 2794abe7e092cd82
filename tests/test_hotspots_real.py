"""Hot issues on the real Teddy Cup 2020 messages: the known clusters come out on top.

Needs ``../shared/data/teddycup2020/hotspot_messages.csv`` (read at run time, never copied here);
skipped with the reason when it is absent. Routing uses the small fixture router: the groups come
from places and texts, so the full default model is not needed to check them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.shared_data

_NAME = Path("teddycup2020") / "hotspot_messages.csv"
_CANDIDATES = [Path(__file__).resolve().parents[i] / "shared" / "data" / _NAME for i in (1, 2, 3)]
MAPPING = {"message_id": "ticket_id", "detail": "text", "posted_at": "received_at", "user": "caller",
           "likes": "support"}


@pytest.fixture(scope="module")
def real_report(router):
    path = next((p for p in _CANDIDATES if p.is_file()), None)
    if path is None:
        pytest.skip(f"real data not available: {_CANDIDATES[1]} is absent (the shared folder is not mounted)")
    from sujian_router import find_hotspots

    return find_hotspots(path, router=router, column_mapping=MAPPING)


class TestKnownClusters:
    @pytest.mark.parametrize("place, at_least", [("丽发新城", 40), ("滨河苑", 45), ("魅力之城", 15), ("58车贷", 10)])
    def test_known_cluster_is_in_the_top_15(self, real_report, place, at_least):
        found = [h for h in real_report.hotspots[:15] if h.place == place]
        assert found, [h.title for h in real_report.hotspots[:15]]
        assert found[0].n_tickets >= at_least

    def test_the_two_biggest_compounds_lead_the_ranking(self, real_report):
        assert {h.place for h in real_report.hotspots[:2]} == {"丽发新城", "滨河苑"}

    def test_every_message_is_in_at_most_one_hot_issue(self, real_report):
        ids = [t for h in real_report.hotspots for t in h.ticket_ids]
        assert len(ids) == len(set(ids)) and real_report.n_tickets == 4326
