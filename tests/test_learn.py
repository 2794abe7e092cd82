"""Learning from dispatchers' corrections: row checks, the correction memory, saving (undo), the CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from sujian_router import TicketSchemaError

WHEN = "2024-06-12 10:00"


@pytest.fixture(scope="module")
def mistakes(router, heldout_tickets, true_units):
    """Held-out tickets the fixture router sends to the wrong unit, with the right unit; and the others."""
    df = heldout_tickets.reset_index(drop=True)
    routed = np.asarray([d.lead_department for d in router.route_many(df, explain=False)], dtype=object)
    truth = true_units(router, df)
    wrong = routed != truth
    assert wrong.sum() >= 5, "the fixture router should make some mistakes on held-out wording"
    corrections = pd.DataFrame({"text": df["text"][wrong].values, "routed": routed[wrong],
                                "correct": truth[wrong], "time": WHEN})
    return df, wrong, corrections, truth


@pytest.fixture(scope="module")
def learnt(router, mistakes):
    return router.learn(mistakes[2])


class TestCorrectionRows:
    @pytest.mark.parametrize("bad, reason", [
        ({"text": "   "}, "text is empty"),
        ({"correct": "火星区气象站"}, "correct: '火星区气象站' is neither"),
        ({"routed": "不存在的单位"}, "routed: '不存在的单位' is neither"),
        ({"time": "昨天下午"}, "time '昨天下午' cannot be read"),
        ({"time": None}, "time is missing"),
        ({"correct": "福田区住房和建设局", "routed": "福田区住建局"}, "routed and correct are the same"),
    ])
    def test_bad_row_is_reported_and_good_rows_are_learnt(self, router, bad, reason):
        good = {"text": "楼下工地晚上施工噪音很大", "routed": "福田区城管局", "correct": "福田区住建局", "time": WHEN}
        rows = [good, {**good, **bad}, {**good, "text": "小区门口井盖缺失很危险"}]
        new = router.learn(rows)
        rep = new.learning_report
        assert (rep.rows_in, rep.learnt, len(rep.rejected)) == (3, 2, 1)
        assert rep.rejected[0].row == 2
        assert reason in rep.rejected[0].reason
        assert new.metadata["corrections"]["count"] == 2

    def test_missing_column_names_expected_and_found(self, router):
        with pytest.raises(TicketSchemaError, match=r"expected columns \['text', 'routed', 'correct', 'time'\]"):
            router.learn(pd.DataFrame({"text": ["路灯坏了"], "correct": ["福田区城管局"]}))

    def test_item_code_as_target(self, router, catalog):
        code = router.classifier.classes_[0]
        rep = router.learn([{"text": "路灯坏了好几天", "routed": "福田区城管局", "correct": code,
                             "time": "2024/06/12 10:00"}]).learning_report
        assert (rep.learnt, rep.item_targets, rep.unit_targets) == (1, 1, 0)

    def test_similarity_outside_range_is_refused(self, router):
        with pytest.raises(ValueError, match="similarity must be in"):
            router.learn([], similarity=1.5)


class TestMemory:
    def test_the_corrected_texts_now_go_to_the_right_unit(self, learnt, mistakes):
        df, wrong, _, truth = mistakes
        again = learnt.route_many(df[wrong], explain=False)
        fixed = np.mean([d.lead_department == t for d, t in zip(again, truth[wrong])])
        assert fixed >= 0.8

    def test_the_original_router_is_unchanged(self, router, learnt, mistakes):
        df, wrong, _, _ = mistakes
        assert "corrections" not in router.metadata
        before = [d.lead_department for d in router.route_many(df[wrong], explain=False)]
        assert before == list(mistakes[2]["routed"])

    def test_unrelated_routing_is_kept(self, router, learnt, mistakes):
        df, wrong, _, _ = mistakes
        spec = learnt.metadata["corrections"]
        remembered = {e["model_item"] for e in spec["entries"]}
        others = df[~wrong]
        before = router.route_many(others, explain=False)
        after = learnt.route_many(others, explain=False)
        untouched = [i for i, d in enumerate(before) if d.candidates[0].code not in remembered]
        assert len(untouched) > 0.5 * len(others)
        assert all(after[i].lead_department == before[i].lead_department for i in untouched)
        changed = np.mean([a.lead_department != b.lead_department for a, b in zip(after, before)])
        assert changed <= 0.05

    def test_learning_twice_accumulates_and_records_times(self, learnt, mistakes):
        more = mistakes[2].head(2).assign(time="2024-07-01 08:30")
        again = learnt.learn(more)
        spec = again.metadata["corrections"]
        assert spec["count"] == len(mistakes[2]) + 2
        assert (spec["first_time"], spec["last_time"]) == ("2024-06-12T10:00", "2024-07-01T08:30")


class TestSaving:
    def test_saved_model_keeps_the_memory_and_the_old_directory_stays_valid(self, learnt, saved_router, mistakes,
                                                                             tmp_path):
        from sujian_router import Router

        new_dir = learnt.save(tmp_path / "learnt")
        loaded = Router.load(new_dir)
        df, wrong, _, _ = mistakes
        assert loaded.metadata["corrections"]["count"] == len(mistakes[2])
        a = [d.lead_department for d in loaded.route_many(df[wrong], explain=False)]
        b = [d.lead_department for d in learnt.route_many(df[wrong], explain=False)]
        assert a == b
        old = Router.load(saved_router)
        assert "corrections" not in old.metadata


class TestCli:
    def test_learn_writes_a_new_directory_and_reports_rows(self, saved_router, mistakes, tmp_path, capsys):
        from sujian_router._cli import main

        path = tmp_path / "corrections.csv"
        bad = pd.DataFrame({"text": ["", "路灯坏了"], "routed": ["福田区城管局", "福田区城管局"],
                            "correct": ["福田区住建局", "火星区气象站"], "time": [WHEN, WHEN]})
        pd.concat([mistakes[2].head(3), bad]).to_csv(path, index=False, encoding="gbk")
        out = tmp_path / "new-model"
        assert main(["learn", "--model", str(saved_router), "--corrections", str(path), "--out", str(out),
                     "--json"]) == 0
        rep = json.loads(capsys.readouterr().out)
        assert (rep["learnt"], [r["row"] for r in rep["rejected"]]) == (3, [5, 6])  # spreadsheet rows: header is 1
        assert (out / "metadata.json").is_file()

    def test_out_must_differ_from_model(self, saved_router, tmp_path, capsys):
        from sujian_router._cli import main

        path = tmp_path / "c.csv"
        path.write_text(f"text,routed,correct,time\n路灯坏了,福田区城管局,福田区住建局,{WHEN}\n", encoding="utf-8")
        assert main(["learn", "--model", str(saved_router), "--corrections", str(path),
                     "--out", str(saved_router)]) == 2
        assert "--out must be a new directory" in capsys.readouterr().err
