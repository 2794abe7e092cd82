"""Streaming file routing: equals in-memory routing, resumes without loss or duplication."""

from __future__ import annotations

import pandas as pd
import pytest

from sujian_router import route_file
from sujian_router._stream import OUTPUT_COLUMNS

REF = "2024-02-02 09:30"


@pytest.fixture(scope="module")
def export(tmp_path_factory, heldout_tickets):
    from sujian_router._synth import write_export

    df = heldout_tickets.head(230).copy()
    df.loc[df.index[17], "text"] = ""            # an empty complaint mid-chunk
    df.loc[df.index[101], "text"] = "逗号,引号\"和\n换行都在正文里"  # awkward CSV content
    path = tmp_path_factory.mktemp("exp") / "export.csv"
    write_export(df, path, fmt="csv", encoding="gbk", columns="zh")
    return path, df


def _read(path):
    if str(path).endswith(".parquet"):
        return pd.read_parquet(path).sort_values("source_row").reset_index(drop=True)
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


class TestRouteFile:
    @pytest.mark.parametrize("suffix", [".csv", ".parquet"])
    def test_one_output_row_per_input_row_in_order(self, router, export, tmp_path, suffix):
        path, df = export
        out = tmp_path / f"routed{suffix}"
        rep = route_file(path, out, router=router, chunk_size=50, progress=False)
        got = _read(out)
        assert rep.rows_in == len(df) == rep.rows_written == len(got)
        assert list(got["source_row"].astype(int)) == list(range(2, len(df) + 2))
        for c in OUTPUT_COLUMNS:
            assert c in got.columns

    def test_streaming_equals_in_memory_routing(self, router, export, tmp_path):
        from sujian_router._tickets import read_tickets

        path, _ = export
        out = tmp_path / "routed.csv"
        route_file(path, out, router=router, chunk_size=40, progress=False)
        got = _read(out)
        tickets = read_tickets(path)
        tickets["received_at"] = tickets["received_at"].where(tickets["received_at"] != "", REF)
        expected = router.route_many(tickets)
        assert list(got["item_code"]) == [d.item_code or "" for d in expected]
        assert list(got["needs_review"]) == [str(d.needs_review) for d in expected]
        assert list(got["lead_department"]) == [d.lead_department or "" for d in expected]
        assert list(got["tier"]) == [d.tier for d in expected]
        assert [float(v) for v in got["unit_confidence"]] == pytest.approx(
            [round(d.unit_confidence, 4) for d in expected])

    def test_tier_column_agrees_with_review(self, router, export, tmp_path):
        path, _ = export
        out = tmp_path / "routed.csv"
        route_file(path, out, router=router, chunk_size=60, progress=False)
        got = _read(out)
        assert set(got["tier"]) <= {"auto", "suggest", "manual"} and len(set(got["tier"])) >= 2
        assert all((t == "auto") == (r == "False") for t, r in zip(got["tier"], got["needs_review"]))

    def test_empty_row_mid_chunk_is_flagged_not_dropped(self, router, export, tmp_path):
        path, _ = export
        out = tmp_path / "routed.csv"
        route_file(path, out, router=router, chunk_size=50, progress=False)
        got = _read(out)
        row = got[got["source_row"] == "19"].iloc[0]   # df row 17 -> spreadsheet row 19
        assert row["needs_review"] == "True" and "empty_text" in row["flags"]

    @pytest.mark.parametrize("suffix", [".csv", ".parquet"])
    def test_interrupted_run_resumes_to_the_same_file(self, router, export, tmp_path, suffix):
        path, df = export
        full = tmp_path / f"full{suffix}"
        route_file(path, full, router=router, chunk_size=30, progress=False)
        part = tmp_path / f"part{suffix}"
        first = route_file(path, part, router=router, chunk_size=30, progress=False, max_rows=95)
        assert first.rows_written == 95
        if suffix == ".csv":  # simulate a crash that left half a chunk behind the recorded progress
            with open(part, "a", encoding="utf-8") as fh:
                fh.write("999,garbage,half a row")
        second = route_file(path, part, router=router, chunk_size=30, progress=False)
        assert second.rows_resumed == 95
        assert second.rows_written == len(df)
        a, b = _read(full), _read(part)
        assert a.drop(columns=["dispatch_deadline", "contact_deadline"]).equals(
            b.drop(columns=["dispatch_deadline", "contact_deadline"]))

    def test_changed_input_starts_afresh(self, router, export, tmp_path):
        path, df = export
        out = tmp_path / "r.csv"
        route_file(path, out, router=router, chunk_size=50, progress=False, max_rows=60)
        small = tmp_path / "small.csv"
        df.head(10).rename(columns={"text": "诉求内容"}).to_csv(small, index=False, encoding="utf-8-sig")
        rep = route_file(small, out, router=router, chunk_size=50, progress=False)
        assert rep.rows_resumed == 0 and rep.rows_written == 10

    def test_bad_engine_is_named(self, router, export, tmp_path):
        path, _ = export
        with pytest.raises(ValueError, match="engine"):
            route_file(path, tmp_path / "x.csv", router=router, engine="spark")
