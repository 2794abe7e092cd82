"""The real-text development check: its label file and its scoring.

The label file is checked without the real data (roles, ids, registers, no text); the rows'
split is checked only when ``../shared/data`` is mounted.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import SimpleNamespace

import pytest

from sujian_router import DepartmentDirectory

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_real_dev.py"
REGISTERS = {"letter", "question", "multi", "short", "long", "regulation", "vague", "other"}


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_real_dev", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def directory():
    return DepartmentDirectory.load()


@pytest.fixture(scope="module")
def labels(bench, directory):
    return bench.read_labels(bench.LABELS, directory)


def _decision(unit, *, confidence=0.9, review=False, **extra):
    return SimpleNamespace(lead_department=unit, item_name="x", confidence=confidence, needs_review=review, **extra)


class TestLabelFile:
    def test_at_least_220_distinct_messages(self, labels):
        assert len(labels) >= 220
        assert len({lab["row"] for lab in labels}) == len(labels)

    def test_holds_no_message_text(self, bench):
        import pandas as pd

        df = pd.read_csv(bench.LABELS, encoding="utf-8-sig", dtype=str, keep_default_na=False)
        assert list(df.columns) == list(bench.COLUMNS)
        assert df["note"].str.len().max() <= 30

    def test_registers_are_known_tags(self, labels):
        used = {tag for lab in labels for tag in lab["registers"]}
        assert used <= REGISTERS, used - REGISTERS

    @pytest.mark.parametrize("register", ["letter", "question", "short", "multi", "long"])
    def test_every_main_register_is_represented(self, labels, register):
        assert sum(register in lab["registers"] for lab in labels) >= 10

    @pytest.mark.shared_data
    def test_rows_come_from_the_train_split(self, bench, labels):
        if not bench.DATA.is_file():
            pytest.skip(f"real data not available: {bench.DATA} is absent")
        texts = bench.read_texts(labels, bench.DATA)
        assert len(texts) == len(labels)


class TestReadLabelsRejects:
    @pytest.mark.parametrize(
        ("content", "match"),
        [
            ("row,lead,co,register,note\n1,区教育局,,short,a\n1,区教育局,,short,b\n", "labelled twice"),
            ("row,lead,co,register,note\n1,,,short,a\n", "no acceptable lead"),
            ("row,lead,co,register,note\n1,区火星局,,short,a\n", r"not in the directory: \['区火星局'\]"),
            ("row,lead,note\n1,区教育局,a\n", "expected columns"),
        ],
    )
    def test_bad_files_name_the_problem(self, bench, directory, tmp_path, content, match):
        path = tmp_path / "labels.csv"
        path.write_text(content, encoding="utf-8")
        with pytest.raises(ValueError, match=match):
            bench.read_labels(path, directory)


class TestScoring:
    LABELS = [
        {"row": 1, "lead": frozenset({"区教育局"}), "co": frozenset(), "registers": ("short",), "note": ""},
        {"row": 2, "lead": frozenset({"区教育局"}), "co": frozenset({"市教育局"}), "registers": ("letter",),
         "note": ""},
        {"row": 3, "lead": frozenset({"派出所"}), "co": frozenset(), "registers": ("letter", "multi"), "note": ""},
    ]

    def test_only_listed_roles_count_and_co_roles_only_leniently(self, bench, directory):
        decisions = [_decision("福田区教育局"), _decision("深圳市教育局"), _decision(None, review=True)]
        judged = bench.judge(self.LABELS, decisions, directory)
        assert [r["correct"] for r in judged] == [True, False, False]
        assert [r["lenient"] for r in judged] == [True, True, False]
        s = bench.summarise(judged)
        assert s["unit_accuracy"] == pytest.approx(1 / 3)
        assert s["lenient_accuracy"] == pytest.approx(2 / 3)
        assert s["no_unit"] == 1
        assert s["registers"]["letter"] == {"n": 2, "share": pytest.approx(2 / 3), "accuracy": 0.0}
        assert s["review"]["needs_review"]["n"] == 1
        assert "tiers" not in s

    def test_tiers_are_reported_when_decisions_carry_them(self, bench, directory):
        decisions = [_decision("福田区教育局", tier="auto"), _decision("深圳市教育局", tier="auto"),
                     _decision("福田派出所", tier="manual")]
        s = bench.summarise(bench.judge(self.LABELS, decisions, directory))
        assert s["tiers"]["auto"] == {"n": 2, "share": pytest.approx(2 / 3), "accuracy": 0.5}
        assert s["tiers"]["manual"]["accuracy"] == 1.0

    def test_unknown_unit_name_is_no_role(self, bench, directory):
        assert bench.lead_role(_decision("不存在的单位"), directory) is None
