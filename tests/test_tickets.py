"""Reading messy ticket exports and quarantining unusable rows."""

from __future__ import annotations

import openpyxl
import pandas as pd
import pytest

from sujian_router._tickets import (
    QUARANTINE_REASONS,
    iter_ticket_chunks,
    quarantine_tickets,
    read_tickets,
)
from sujian_router.exceptions import TicketEncodingError, TicketSchemaError

EXPORT = (
    "工单编号,诉求标题,诉求内容,事项编码,所属区,街道,受理时间\n"
    '000123,路灯不亮,"宝安大道的路灯坏了三天,晚上很黑",01-02-003,宝安区,新安街道,2024-06-01 08:00\n'
    '000124,噪音扰民,"楼下酒吧唱歌到凌晨\n第二行内容",08-01-001,南山区,粤海街道,2024-06-02 23:10\n'
)


def write(path, text, encoding):
    path.write_bytes(text.encode(encoding))
    return path


def write_xlsx(path, sheets):
    """sheets: list of (name, rows)."""
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets:
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
    wb.save(path)
    return path


# --------------------------------------------------------------------------- encodings


class TestEncodings:
    @pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
    def test_auto_detected(self, tmp_path, encoding):
        p = write(tmp_path / "export.csv", EXPORT, encoding)
        df = read_tickets(p)
        assert list(df["ticket_id"]) == ["000123", "000124"]
        assert df.loc[0, "district"] == "宝安区"
        assert df.columns[1] == "ticket_id"  # a BOM does not stick to the first name

    @pytest.mark.parametrize("encoding", ["utf-8-sig", "gbk", "gb18030"])
    def test_explicit_encoding(self, tmp_path, encoding):
        p = write(tmp_path / "export.csv", EXPORT, encoding)
        df = read_tickets(p, encoding=encoding)
        assert df.loc[1, "street"] == "粤海街道"

    def test_gb18030_only_characters(self, tmp_path):
        # 𠮷 is outside GBK but inside GB18030
        p = write(tmp_path / "x.csv", "诉求内容\n𠮷野家门口堆放垃圾\n", "gb18030")
        assert read_tickets(p)["text"].tolist() == ["𠮷野家门口堆放垃圾"]

    def test_undecodable_bytes_name_offset_and_line(self, tmp_path):
        p = tmp_path / "bad.csv"
        p.write_bytes("诉求内容\n好的\n".encode("utf-8") + b"\xff\xfe\xff\n")
        with pytest.raises(TicketEncodingError, match=r"bad\.csv.*offset 20, line 3"):
            read_tickets(p)

    def test_wrong_explicit_encoding_names_byte(self, tmp_path):
        p = write(tmp_path / "gbk.csv", EXPORT, "gbk")
        with pytest.raises(TicketEncodingError, match=r"gbk\.csv: cannot decode as utf-8 at byte \d+ \(line 1\)"):
            read_tickets(p, encoding="utf-8")

    def test_unknown_encoding(self, tmp_path):
        p = write(tmp_path / "a.csv", EXPORT, "utf-8")
        with pytest.raises(TicketEncodingError, match="unknown encoding 'klingon'"):
            read_tickets(p, encoding="klingon")


# --------------------------------------------------------------------------- content


class TestContent:
    def test_title_combined_and_cells_kept(self, tmp_path):
        p = write(tmp_path / "e.csv", EXPORT, "utf-8")
        df = read_tickets(p)
        assert df.loc[0, "text"] == "路灯不亮\n宝安大道的路灯坏了三天,晚上很黑"
        assert df.loc[1, "text"] == "噪音扰民\n楼下酒吧唱歌到凌晨\n第二行内容"
        assert df.loc[0, "title"] == "路灯不亮"
        assert df.loc[0, "received_at"] == "2024-06-01 08:00"

    def test_combine_title_off(self, tmp_path):
        p = write(tmp_path / "e.csv", EXPORT, "utf-8")
        df = read_tickets(p, combine_title=False)
        assert df.loc[0, "text"] == "宝安大道的路灯坏了三天,晚上很黑"

    def test_title_not_repeated_when_text_starts_with_it(self, tmp_path):
        p = write(tmp_path / "e.csv", "title,text\n路灯坏了,\"路灯坏了\n三天了\"\n", "utf-8")
        assert read_tickets(p).loc[0, "text"] == "路灯坏了\n三天了"

    def test_source_row_counts_records_not_lines(self, tmp_path):
        p = write(tmp_path / "e.csv", EXPORT + "000125,,第三条,01-01-001,,,\n", "utf-8")
        df = read_tickets(p)
        assert df["source_row"].tolist() == [2, 3, 4]

    def test_all_strings_and_leading_zeros(self, tmp_path):
        p = write(tmp_path / "e.csv", "text,label,ticket_id\n投诉,007,0001\n投诉二,NA,\n", "utf-8")
        df = read_tickets(p)
        assert df["label"].tolist() == ["007", "NA"]
        assert df["ticket_id"].tolist() == ["0001", ""]
        assert all(isinstance(v, str) for v in df["label"])

    def test_blank_rows_skipped_and_short_rows_padded(self, tmp_path):
        p = write(tmp_path / "e.csv", "text,label\n投诉一,a\n\n,\n投诉二\n", "utf-8")
        df = read_tickets(p)
        assert df["text"].tolist() == ["投诉一", "投诉二"]
        assert df["label"].tolist() == ["a", ""]
        assert df["source_row"].tolist() == [2, 5]

    def test_row_with_too_many_cells(self, tmp_path):
        p = write(tmp_path / "e.csv", "text,label\n投诉,a,多余\n", "utf-8")
        with pytest.raises(TicketSchemaError, match=r"row 2 has 3 cells but the header \(row 1\) has 2"):
            read_tickets(p)

    def test_truncated_file_names_row(self, tmp_path):
        text = EXPORT + '000125,标题,"被截断的内容\n还没有结束'
        p = write(tmp_path / "cut.csv", text, "utf-8")
        with pytest.raises(TicketSchemaError, match=r"cut\.csv: row 4 .*truncated"):
            read_tickets(p)

    def test_tsv(self, tmp_path):
        p = write(tmp_path / "e.tsv", "诉求内容\t事项编码\n路灯,坏了\t01\n", "utf-8")
        df = read_tickets(p)
        assert df.loc[0, "text"] == "路灯,坏了" and df.loc[0, "label"] == "01"


# --------------------------------------------------------------------------- columns


class TestColumns:
    def test_explicit_mapping_wins(self, tmp_path):
        p = write(tmp_path / "e.csv", "描述,分类,内容\n甲,a,乙\n", "utf-8")
        df = read_tickets(p, column_mapping={"描述": "text", "分类": "label"})
        assert df.loc[0, "text"] == "甲"
        assert df.loc[0, "label"] == "a"
        assert df.loc[0, "内容"] == "乙"  # the default candidate lost and keeps its name

    def test_default_priority_is_deterministic(self, tmp_path):
        p = write(tmp_path / "e.csv", "内容,诉求内容\n短,长的诉求\n", "utf-8")
        df = read_tickets(p)
        assert df.loc[0, "text"] == "长的诉求"
        assert df.loc[0, "内容"] == "短"

    def test_canonical_names_pass_through(self, tmp_path):
        p = write(tmp_path / "e.csv", "text,label,extra\n投诉,a,x\n", "utf-8")
        assert read_tickets(p, required=("text", "label")).columns.tolist() == [
            "source_row", "text", "label", "extra"]

    def test_missing_required_column_message(self, tmp_path):
        p = write(tmp_path / "e.csv", "编号,描述\n1,路灯\n", "utf-8")
        with pytest.raises(
            TicketSchemaError,
            match=r"e\.csv: expected columns \['text', 'label'\], found \['编号', '描述'\]",
        ):
            read_tickets(p, required=("text", "label"))

    def test_duplicated_extra_column_is_suffixed_with_note(self, tmp_path):
        p = write(tmp_path / "e.csv", "text,备注,备注,备注\n投诉,x,y,z\n", "utf-8")
        df = read_tickets(p)
        assert df.columns.tolist() == ["source_row", "text", "备注", "备注.1", "备注.2"]
        assert df.loc[0, "备注.2"] == "z"
        assert any("备注.1" in note for note in df.attrs["notes"])

    def test_duplicated_mapped_column_is_an_error(self, tmp_path):
        p = write(tmp_path / "e.csv", "诉求内容,诉求内容\n甲,乙\n", "utf-8")
        with pytest.raises(TicketSchemaError, match=r"'诉求内容' more than once \(columns 1 and 2\)"):
            read_tickets(p)

    def test_header_below_title_row(self, tmp_path):
        p = write(tmp_path / "e.csv", "2024年6月工单导出\n\n" + EXPORT, "gbk")
        df = read_tickets(p)
        assert df.attrs["header_row"] == 3
        assert df["source_row"].tolist() == [4, 5]


# --------------------------------------------------------------------------- excel


class TestExcel:
    HEADER = ["工单编号", "诉求标题", "诉求内容", "事项编码"]

    def test_first_sheet_and_title_row(self, tmp_path):
        rows = [["深圳市民诉求工单导出（2024年6月）"], self.HEADER,
                ["000123", "路灯", "路灯坏了,很黑\n第二行", "01-02-003"],
                ["000124", "噪音", "夜间施工", "08-01-001"]]
        p = write_xlsx(tmp_path / "e.xlsx", [("工单", rows), ("说明", [["说明"], ["无关"]])])
        df = read_tickets(p)
        assert df["ticket_id"].tolist() == ["000123", "000124"]
        assert df["source_row"].tolist() == [3, 4]
        assert df.loc[0, "text"] == "路灯\n路灯坏了,很黑\n第二行"

    def test_merged_two_row_header(self, tmp_path):
        wb = openpyxl.Workbook()
        ws = wb.active
        ws.append(["工单信息", None, "诉求", None])
        ws.merge_cells("A1:B1")
        ws.merge_cells("C1:D1")
        ws.append(self.HEADER)
        ws.append(["0001", "井盖", "井盖丢失", "09-01-001"])
        wb.create_sheet("统计").append(["合计", 1])
        p = tmp_path / "merged.xlsx"
        wb.save(p)
        df = read_tickets(p, required=("text", "label"))
        assert df.attrs["header_row"] == 2
        assert df.to_dict("records") == [{"source_row": 3, "ticket_id": "0001", "title": "井盖",
                                          "text": "井盖\n井盖丢失", "label": "09-01-001"}]

    @pytest.mark.parametrize("sheet", ["第二", 1, "1"])
    def test_sheet_by_name_or_index(self, tmp_path, sheet):
        p = write_xlsx(tmp_path / "e.xlsx", [("第一", [["text"], ["甲"]]), ("第二", [["text"], ["乙"]])])
        assert read_tickets(p, sheet=sheet)["text"].tolist() == ["乙"]

    def test_unknown_sheet(self, tmp_path):
        p = write_xlsx(tmp_path / "e.xlsx", [("第一", [["text"], ["甲"]])])
        with pytest.raises(TicketSchemaError, match=r"no sheet named '汇总'; sheets are \['第一'\]"):
            read_tickets(p, sheet="汇总")

    def test_numbers_and_blank_rows(self, tmp_path):
        rows = [["text", "label", "count"], ["甲", "01-01-001", 3], [None, None, None], ["乙", "02", 2.5]]
        p = write_xlsx(tmp_path / "e.xlsx", [("s", rows)])
        df = read_tickets(p)
        assert df["count"].tolist() == ["3", "2.5"]
        assert df["source_row"].tolist() == [2, 4]

    def test_missing_column_in_workbook(self, tmp_path):
        p = write_xlsx(tmp_path / "e.xlsx", [("s", [["编号"], ["1"]])])
        with pytest.raises(TicketSchemaError, match=r"expected columns \['text'\], found \['编号'\]"):
            read_tickets(p)

    def test_not_a_workbook(self, tmp_path):
        p = tmp_path / "broken.xlsx"
        p.write_bytes(b"PK\x03\x04 not really a zip")
        with pytest.raises(TicketSchemaError, match=r"broken\.xlsx: not a readable \.xlsx"):
            read_tickets(p)

    def test_legacy_xls_refused(self, tmp_path):
        p = tmp_path / "old.xls"
        p.write_bytes(b"\xd0\xcf\x11\xe0")
        with pytest.raises(TicketSchemaError, match=r"old\.xls: legacy \.xls"):
            read_tickets(p)


# --------------------------------------------------------------------------- chunks


class TestChunks:
    @pytest.mark.parametrize("chunk_size", [1, 3, 7, 100])
    def test_csv_source_row_across_chunks(self, tmp_path, chunk_size):
        body = "".join(f'{i:04d},"第{i}条\n多行",a\n' for i in range(10))
        p = write(tmp_path / "e.csv", "标题行\n工单编号,诉求内容,事项编码\n" + body, "gb18030")
        chunks = list(iter_ticket_chunks(p, chunk_size=chunk_size))
        assert all(len(c) <= chunk_size for c in chunks)
        whole = pd.concat(chunks, ignore_index=True)
        assert whole["source_row"].tolist() == list(range(3, 13))
        assert whole["ticket_id"].tolist() == [f"{i:04d}" for i in range(10)]
        pd.testing.assert_frame_equal(whole, read_tickets(p), check_dtype=False)

    def test_xlsx_chunks(self, tmp_path):
        rows = [["text"]] + [[f"投诉{i}"] for i in range(5)]
        p = write_xlsx(tmp_path / "e.xlsx", [("s", rows)])
        chunks = list(iter_ticket_chunks(p, chunk_size=2))
        assert [c["source_row"].tolist() for c in chunks] == [[2, 3], [4, 5], [6]]

    def test_empty_export_yields_one_empty_frame(self, tmp_path):
        p = write(tmp_path / "e.csv", "text,label\n", "utf-8")
        chunks = list(iter_ticket_chunks(p))
        assert len(chunks) == 1 and len(chunks[0]) == 0
        assert "source_row" in chunks[0].columns

    def test_bad_chunk_size(self, tmp_path):
        p = write(tmp_path / "e.csv", "text\n甲\n", "utf-8")
        with pytest.raises(ValueError, match="chunk_size must be a positive integer, got 0"):
            next(iter_ticket_chunks(p, chunk_size=0))


# --------------------------------------------------------------------------- quarantine


class TestQuarantine:
    @pytest.fixture
    def df(self):
        return pd.DataFrame(
            {
                "source_row": [2, 3, 4, 5, 6, 7, 8],
                "text": ["路灯坏了", "  ", "噪音 13812345678", "路灯坏了", "井盖丢了", "路灯坏了", "乱收费"],
                "label": ["01-01-001", "01-01-001", "", "01-01-001", "99-99-999", "02-01-001", "10-01-001"],
            }
        )

    def test_each_reason(self, df):
        res = quarantine_tickets(df, catalog={"01-01-001", "02-01-001", "10-01-001"})
        assert res.counts == {"empty text": 1, "missing label": 1, "unknown label": 1, "duplicate": 1}
        q = res.quarantined.set_index("source_row")
        assert q.loc[3, "reason"] == "empty text"
        assert q.loc[4, "reason"] == "missing label"
        assert q.loc[5, "reason"] == "duplicate" and q.loc[5, "duplicate_of"] == "2"
        assert q.loc[6, "reason"] == "unknown label"
        assert res.clean["source_row"].tolist() == [2, 7, 8]  # same text, other label: not a duplicate

    @pytest.mark.parametrize("kwargs", [{}, {"catalog": {"01-01-001"}, "free_labels": True}])
    def test_no_catalog_or_free_labels_skip_unknown_check(self, df, kwargs):
        res = quarantine_tickets(df, **kwargs)
        assert res.counts["unknown label"] == 0
        assert 6 in res.clean["source_row"].tolist()

    @pytest.mark.parametrize("catalog", [None, {"01-01-001"}])
    def test_accounting_invariant(self, df, catalog):
        res = quarantine_tickets(df, catalog=catalog)
        assert len(res.clean) + len(res.quarantined) == len(df)
        assert sum(res.counts.values()) == len(res.quarantined)
        assert set(res.counts) == set(QUARANTINE_REASONS)
        assert sorted(res.clean["source_row"].tolist() + res.quarantined["source_row"].tolist()) == list(
            range(2, 9))

    def test_personal_data_masked_in_report(self, df):
        res = quarantine_tickets(df)
        assert "13812345678" not in res.quarantined.to_csv()
        assert "13812345678" in df.to_csv()  # the input is untouched

    def test_catalog_object_with_items(self, df):
        class Item:
            def __init__(self, code):
                self.code = code

        class Catalog:
            items = (Item("01-01-001"),)

        res = quarantine_tickets(df, catalog=Catalog())
        assert res.counts["unknown label"] == 3

    def test_without_source_row_uses_position(self):
        res = quarantine_tickets(pd.DataFrame({"text": ["", "a"], "label": ["x", "y"]}))
        assert res.quarantined["source_row"].tolist() == [1]
        assert "quarantined 1 (empty text 1)" in res.summary()

    def test_missing_columns(self):
        with pytest.raises(TicketSchemaError, match=r"expected columns \['text', 'label'\], found \['text'\]"):
            quarantine_tickets(pd.DataFrame({"text": ["a"]}))

    def test_read_then_quarantine(self, tmp_path):
        p = write(tmp_path / "e.csv", EXPORT + EXPORT.split("\n", 1)[1], "gbk")
        df = read_tickets(p, required=("text", "label"))
        res = quarantine_tickets(df)
        assert res.counts["duplicate"] == 2
        assert res.quarantined["source_row"].tolist() == [4, 5]
