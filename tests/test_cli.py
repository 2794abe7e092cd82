"""The console script in-process: route, train, evaluate, route-file (JSON outputs and errors)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from sujian_router._cli import main

PINGSHAN = "晚上10点后经常有人在坪联路过河大桥下跳广场舞，噪声比较大，影响了我的休息。"


@pytest.fixture(scope="module")
def export(tmp_path_factory, catalog, fixture_items):
    """A small labelled synthetic export with Chinese column names, GBK-encoded."""
    from sujian_router import generate_tickets
    from sujian_router._synth import write_export

    df = generate_tickets(catalog, n_per_item=4, seed=21, items=fixture_items[:60])
    path = tmp_path_factory.mktemp("cli") / "export.csv"
    write_export(df, path, fmt="csv", encoding="gbk", columns="zh")
    return path


class TestRoute:
    def test_route_json_for_the_pingshan_case(self, saved_router, capsys):
        rc = main(["route", PINGSHAN, "--district", "坪山区", "--street", "坪山街道",
                   "--at", "2024-06-12 22:30", "--model", str(saved_router), "--json"])
        assert rc == 0
        data = json.loads(capsys.readouterr().out)
        assert "坪山派出所" in data["departments"]
        assert "深圳市龙岗河坪山河流域管理中心" in data["departments"]
        assert data["received_at"] == "2024-06-12T22:30"

    def test_route_reads_stdin_lines(self, saved_router, capsys, monkeypatch):
        import io

        monkeypatch.setattr("sys.stdin", io.StringIO("路灯不亮\n\n楼下广场舞太吵\n"))
        assert main(["route", "--model", str(saved_router), "--json"]) == 0
        lines = capsys.readouterr().out.strip().splitlines()
        assert len(lines) == 2
        assert all(json.loads(line)["item_code"] for line in lines)

    def test_table_output_names_units(self, saved_router, capsys):
        assert main(["route", PINGSHAN, "--district", "坪山区", "--street", "坪山街道",
                     "--at", "2024-06-12 22:30", "--model", str(saved_router)]) == 0
        out = capsys.readouterr().out
        assert "主办" in out and "坪山派出所" in out and "依据" in out

    def test_bad_time_is_a_clear_error(self, saved_router, capsys):
        assert main(["route", "路灯不亮", "--at", "next tuesday", "--model", str(saved_router)]) == 2
        assert "--at: cannot read 'next tuesday'" in capsys.readouterr().err

    def test_broken_model_dir_is_reported(self, tmp_path, capsys):
        (tmp_path / "m").mkdir()
        assert main(["route", "路灯不亮", "--model", str(tmp_path / "m")]) == 1
        assert "manifest.json is missing" in capsys.readouterr().err


class TestTrainEvaluate:
    def test_train_then_evaluate_json(self, export, tmp_path, capsys):
        out = tmp_path / "model"
        assert main(["train", "--tickets", str(export), "--out", str(out), "--quiet", "--json", "--seed", "3"]) == 0
        report = json.loads(capsys.readouterr().out)
        assert report["rows_in"] == report["rows_used"] + report["rows_quarantined"]
        assert (tmp_path / "model.quarantine.csv").is_file()
        assert main(["evaluate", "--model", str(out), "--tickets", str(export), "--json"]) == 0
        metrics = json.loads(capsys.readouterr().out)
        for key in ("macro_f1", "accuracy", "top3_accuracy", "n", "department_accuracy", "threshold",
                    "automatic_share"):
            assert key in metrics
        assert metrics["n"] == report["rows_in"]
        assert 0.0 <= metrics["macro_f1"] <= 1.0

    def test_missing_label_column_names_expected_and_found(self, tmp_path, capsys):
        path = tmp_path / "t.csv"
        pd.DataFrame({"诉求内容": ["路灯不亮"], "备注": ["x"]}).to_csv(path, index=False, encoding="utf-8-sig")
        assert main(["train", "--tickets", str(path), "--out", str(tmp_path / "m"), "--quiet"]) == 1
        err = capsys.readouterr().err
        assert "expected columns" in err and "found" in err and "备注" in err

    def test_free_labels_with_column_map_and_filter(self, tmp_path, capsys):
        rows = []
        for i in range(40):
            rows.append({"内容": f"小区{i}号楼电梯又坏了困人", "类别": "住建", "集": "train" if i < 30 else "test"})
            rows.append({"内容": f"{i}路公交车司机态度差不停站", "类别": "交通", "集": "train" if i < 30 else "test"})
        path = tmp_path / "free.csv"
        pd.DataFrame(rows).to_csv(path, index=False, encoding="gb18030")
        out = tmp_path / "free-model"
        assert main(["train", "--tickets", str(path), "--column-map", "内容=text", "类别=label",
                     "--filter", "集=train", "--free-labels", "--out", str(out), "--quiet", "--json"]) == 0
        rep = json.loads(capsys.readouterr().out)
        assert rep["rows_in"] == 60 and rep["free_labels"] is True
        assert main(["evaluate", "--model", str(out), "--tickets", str(path), "--column-map", "内容=text",
                     "类别=label", "--filter", "集=test", "--json"]) == 0
        metrics = json.loads(capsys.readouterr().out)
        assert metrics["n"] == 20 and metrics["department_accuracy"] is None


    @pytest.mark.parametrize("flags, refitted", [([], True), (["--no-refit", "--n-jobs", "1"], False)])
    def test_no_refit_keeps_the_training_split_model(self, tmp_path, capsys, flags, refitted):
        from sujian_router import Router

        rows = [{"text": f"小区{i}号楼电梯又坏了困人", "label": "住建"} for i in range(30)]
        rows += [{"text": f"{i}路公交车司机态度差不停站", "label": "交通"} for i in range(30)]
        path = tmp_path / "free.csv"
        pd.DataFrame(rows).to_csv(path, index=False)
        out = tmp_path / "m"
        assert main(["train", "--tickets", str(path), "--free-labels", "--out", str(out), "--quiet", "--json",
                     *flags]) == 0
        rep = json.loads(capsys.readouterr().out)
        fitted_on = Router.load(out).classifier.n_training_texts_
        assert (fitted_on == rep["rows_used"]) is refitted
        assert fitted_on < rep["rows_used"] or refitted


class TestRouteFile:
    def test_route_file_csv_json_report(self, export, saved_router, tmp_path, capsys):
        out = tmp_path / "routed.csv"
        assert main(["route-file", str(export), "--out", str(out), "--model", str(saved_router),
                     "--chunk-size", "64", "--quiet", "--json"]) == 0
        rep = json.loads(capsys.readouterr().out)
        got = pd.read_csv(out, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        assert rep["rows_written"] == len(got) == rep["rows_in"]
        assert {"ticket_id", "item_code", "lead_department", "needs_review"} <= set(got.columns)
