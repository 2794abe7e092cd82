"""The real-text category check (``benchmarks/bench_real_category.py``): mapping, sampling and scoring.

The mapping and the scoring are checked without the real data; the sample (train split only, no
development-check row, seeded) only when ``../shared/data`` is mounted.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

BENCH_DIR = Path(__file__).resolve().parents[1] / "benchmarks"
TEDDY_LABELS = {"城乡建设", "劳动和社会保障", "教育文体", "商贸旅游", "环境保护", "卫生计生", "交通运输"}


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(BENCH_DIR))
    try:
        spec = importlib.util.spec_from_file_location("bench_real_category", BENCH_DIR / "bench_real_category.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCH_DIR))
    return module


def _decision(code, **extra):
    return SimpleNamespace(item_code=code, item_name="x", lead_department="u", confidence=0.5, **extra)


class TestMapping:
    def test_every_teddy_cup_label_is_mapped(self, bench):
        assert set(bench.LABEL_CATEGORIES) == TEDDY_LABELS

    def test_mapping_names_only_catalog_categories(self, bench):
        from sujian_router import load_catalog

        codes = {item.code[:2] for item in load_catalog().items}
        bench.check_mapping()
        for primary, also in bench.LABEL_CATEGORIES.values():
            assert set(primary) | set(also) <= codes
        subcats = {item.code[:5] for item in load_catalog().items}
        for extra in bench.LABEL_SUBCATEGORIES.values():
            assert set(extra) <= subcats

    @pytest.mark.parametrize(
        ("mapping", "match"),
        [
            ({"城乡建设": (("01", "19"), ())}, r"unknown categories \['19'\]"),
            ({"城乡建设": ((), ("01",))}, "no primary"),
            ({"城乡建设": (("01",), ("01",))}, "listed twice"),
        ],
    )
    def test_bad_mapping_is_refused_with_the_label(self, bench, mapping, match):
        with pytest.raises(ValueError, match=match):
            bench.check_mapping(mapping)


class TestScoring:
    ROWS = [("城乡建设", "02-01-001"), ("城乡建设", "16-01-001"), ("城乡建设", "13-01-001"),
            ("商贸旅游", "02-10-001"), ("商贸旅游", "02-01-001"), ("环境保护", None)]

    def _judged(self, bench):
        import pandas as pd

        rows = pd.DataFrame({"row": range(len(self.ROWS)), "label": [r[0] for r in self.ROWS],
                             "text_source": "title+detail"})
        return bench.judge(rows, [_decision(code, tier="auto") for _, code in self.ROWS])

    def test_primary_also_and_subcategory_acceptance(self, bench):
        judged = self._judged(bench)
        assert [r["accepted"] for r in judged] == [True, True, False, True, False, False]
        assert [r["primary"] for r in judged] == [True, False, False, False, False, False]

    def test_summary_shares_per_label(self, bench):
        s = bench.summarise(self._judged(bench))
        assert s["accepted"] == pytest.approx(3 / 6)
        assert s["label"]["城乡建设"] == {"n": 3, "accepted": pytest.approx(2 / 3), "primary": pytest.approx(1 / 3)}
        assert s["confusion"]["城乡建设"] == {"13": 1}
        assert s["tier"]["auto"]["n"] == 6


@pytest.mark.shared_data
class TestSample:
    def test_sample_is_seeded_train_only_and_leaves_out_the_dev_rows(self, bench):
        if not bench.dev.DATA.is_file():
            pytest.skip(f"real data not available: {bench.dev.DATA} is absent")
        import pandas as pd

        a = bench.sample_rows(n=200, seed=3)
        b = bench.sample_rows(n=200, seed=3)
        assert a["row"].tolist() == b["row"].tolist()
        assert len(a) == 200 and a["row"].is_unique
        splits = pd.read_csv(bench.dev.DATA, encoding="utf-8-sig", usecols=["row", "split"]).set_index("row")
        assert set(splits.loc[a["row"], "split"]) == {"train"}
        dev_rows = set(pd.read_csv(bench.dev.LABELS, encoding="utf-8-sig")["row"])
        assert not dev_rows & set(a["row"])
