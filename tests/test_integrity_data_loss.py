"""Issue #14, data loss (items 1-6): route-file outputs, concurrent saves, batch sizes, catalog mismatch."""

from __future__ import annotations


import numpy as np
import pandas as pd
import pytest

from sujian_router import Router, route_file
from sujian_router._cli import main
from sujian_router.exceptions import ModelMismatchError, OutputFileError


@pytest.fixture(scope="module")
def export(tmp_path_factory, heldout_tickets):
    df = heldout_tickets.head(90).copy()
    path = tmp_path_factory.mktemp("loss") / "export.csv"
    df[["ticket_id", "text", "district", "street"]].to_csv(path, index=False, encoding="utf-8-sig")
    return path, len(df)


def _rows(path):
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


@pytest.fixture(scope="module")
def strict_router(router):
    """The fixture model with another review threshold: a different model for the progress record."""
    return Router(router.classifier, catalog=router.catalog, rules=None, review_threshold=0.999)


class TestItem01OutputEqualToInput:
    def test_item01_route_file_refuses_output_equal_to_input(self, router, export, tmp_path):
        src, _ = export
        same = tmp_path / "same.csv"
        same.write_bytes(src.read_bytes())
        before = same.read_bytes()
        with pytest.raises(OutputFileError, match="overwrite the input"):
            route_file(same, same, router=router, progress=False)
        assert same.read_bytes() == before

    def test_item01_cli_refuses_output_equal_to_input_through_another_spelling(self, saved_router, export,
                                                                               tmp_path, capsys):
        src, _ = export
        same = tmp_path / "same.csv"
        same.write_bytes(src.read_bytes())
        other_spelling = tmp_path / "." / "same.csv"
        rc = main(["route-file", str(same), "--out", str(other_spelling), "--model", str(saved_router), "--quiet"])
        assert rc == 1
        assert "overwrite the input" in capsys.readouterr().err
        assert same.read_bytes() == src.read_bytes()


class TestItem02OneWriterPerOutput:
    def test_item02_second_run_on_a_locked_output_is_refused(self, router, export, tmp_path):
        from sujian_router._stream import _OutputLock

        src, _ = export
        out = tmp_path / "out.csv"
        with _OutputLock(out):  # another run holds the output
            with pytest.raises(OutputFileError, match="another route-file run"):
                route_file(src, out, router=router, progress=False)
        assert not out.exists()

    def test_item02_rerunning_a_finished_output_neither_duplicates_nor_adds_a_header(self, router, export,
                                                                                     tmp_path):
        src, n = export
        out = tmp_path / "out.csv"
        route_file(src, out, router=router, chunk_size=40, progress=False)
        first = out.read_bytes()
        again = route_file(src, out, router=router, chunk_size=40, progress=False)
        assert out.read_bytes() == first
        assert len(_rows(out)) == n and again.rows_written == n
        assert first.count(b"source_row,") == 1


class TestItem04ResumeChecksTheOutput:
    def test_item04_deleted_finished_output_is_rewritten(self, router, export, tmp_path):
        src, n = export
        out = tmp_path / "out.csv"
        route_file(src, out, router=router, chunk_size=40, progress=False)
        out.unlink()
        rep = route_file(src, out, router=router, chunk_size=40, progress=False)
        assert out.is_file() and len(_rows(out)) == n
        assert rep.rows_resumed == 0

    def test_item04_cut_output_is_not_grown_with_nul_bytes(self, router, export, tmp_path):
        src, n = export
        out = tmp_path / "out.csv"
        route_file(src, out, router=router, chunk_size=40, progress=False)
        full = out.read_bytes()
        out.write_bytes(full[: len(full) // 3])
        route_file(src, out, router=router, chunk_size=40, progress=False)
        data = out.read_bytes()
        assert b"\x00" not in data
        assert data == full

    def test_item04_resuming_with_another_model_starts_afresh(self, router, strict_router, export, tmp_path):
        src, n = export
        out, ref = tmp_path / "out.csv", tmp_path / "ref.csv"
        route_file(src, out, router=router, chunk_size=30, progress=False, max_rows=45)
        rep = route_file(src, out, router=strict_router, chunk_size=30, progress=False)
        route_file(src, ref, router=strict_router, chunk_size=30, progress=False)
        assert rep.rows_resumed == 0
        got, want = _rows(out), _rows(ref)
        assert got.drop(columns=["dispatch_deadline", "contact_deadline"]).equals(
            want.drop(columns=["dispatch_deadline", "contact_deadline"]))
        route_file(src, tmp_path / "lenient.csv", router=router, chunk_size=30, progress=False)
        assert not _rows(tmp_path / "lenient.csv")["needs_review"].equals(got["needs_review"])  # models differ

    def test_item04_finished_output_is_redone_with_another_model(self, router, strict_router, export, tmp_path):
        src, _ = export
        out = tmp_path / "out.csv"
        route_file(src, out, router=router, chunk_size=40, progress=False)
        before = _rows(out)
        route_file(src, out, router=strict_router, chunk_size=40, progress=False)
        route_file(src, tmp_path / "ref.csv", router=strict_router, chunk_size=40, progress=False)
        after = _rows(out)
        assert not after["needs_review"].equals(before["needs_review"])
        assert after["needs_review"].equals(_rows(tmp_path / "ref.csv")["needs_review"])

    def test_item04_another_column_mapping_starts_afresh(self, router, export, tmp_path):
        src, n = export
        out = tmp_path / "out.csv"
        route_file(src, out, router=router, chunk_size=30, progress=False, max_rows=30)
        rep = route_file(src, out, router=router, chunk_size=30, progress=False,
                         column_mapping={"ticket_id": "ticket_ref"})
        assert rep.rows_resumed == 0 and len(_rows(out)) == n
        assert "ticket_id" not in _rows(out).columns


class TestItem03ConcurrentSaves:
    def test_item03_a_save_interleaved_with_another_leaves_one_whole_model(self, tmp_path, monkeypatch):
        """Writer A is held inside its array writing while writer B saves a larger model to the same place."""
        import threading

        from sujian_router import _persist
        from sujian_router._persist import load_model_dir, save_model_dir

        path = tmp_path / "model"
        a_inside, b_done = threading.Event(), threading.Event()
        real = np.savez_compressed

        def held(*args, **kwargs):
            if threading.current_thread().name == "A":
                a_inside.set()
                assert b_done.wait(30)
            return real(*args, **kwargs)

        monkeypatch.setattr(_persist.np, "savez_compressed", held)
        rng = np.random.default_rng(0)

        def writer_b():
            assert a_inside.wait(30)
            save_model_dir(path, {"w": rng.random(200_000)}, {"writer": "B"}, "# B\n")
            b_done.set()

        a = threading.Thread(name="A", target=save_model_dir, args=(path, {"w": np.arange(10.0)}, {"writer": "A"},
                                                                    "# A\n"))
        b = threading.Thread(name="B", target=writer_b)
        a.start()
        b.start()
        a.join(60)
        b.join(60)
        arrays, meta = load_model_dir(path)
        assert meta == {"writer": "A"} and arrays["w"].tolist() == list(np.arange(10.0))  # the last save, whole


class TestItem05BatchSize:
    @pytest.mark.parametrize("bad", [0, -5, -1, 1.5, "2", True, None])
    def test_item05_route_many_refuses_a_batch_size_that_is_not_a_positive_int(self, router, bad):
        with pytest.raises(ValueError, match=r"batch_size must be a positive integer, got"):
            router.route_many(["路灯不亮", "楼下广场舞太吵", "噪音"], batch_size=bad)

    @pytest.mark.parametrize("size", [1, 2, 5, np.int64(2)])
    def test_item05_every_valid_batch_size_gives_one_decision_per_text(self, router, size):
        assert len(router.route_many(["路灯不亮", "楼下广场舞太吵", "噪音"], batch_size=size)) == 3


@pytest.fixture(scope="module")
def renamed_catalog(catalog, tmp_path_factory):
    """A custom catalog with the bundled codes but other item names (as a city's own list could have)."""
    from sujian_router import load_catalog

    frame = catalog.to_frame()
    frame["name"] = frame["name"] + "（本市）"
    path = tmp_path_factory.mktemp("cat") / "custom.csv"
    frame.to_csv(path, index=False, encoding="utf-8-sig")
    return path, load_catalog(path)


@pytest.fixture(scope="module")
def custom_model(router, renamed_catalog, tmp_path_factory):
    path = tmp_path_factory.mktemp("custom") / "model"
    Router(router.classifier, catalog=renamed_catalog[1], review_threshold=router.review_threshold).save(path)
    return path


class TestItem06CatalogFingerprint:
    def test_item06_model_of_a_custom_catalog_refuses_the_bundled_one(self, custom_model, renamed_catalog):
        with pytest.raises(ModelMismatchError, match=r"trained with catalog [0-9a-f]{12}.*route with catalog "
                                                     r"[0-9a-f]{12}"):
            Router.load(custom_model)
        loaded = Router.load(custom_model, catalog=renamed_catalog[1])
        assert loaded.route("路灯不亮").item_name.endswith("（本市）")

    def test_item06_department_changes_still_load_with_a_warning(self, saved_router, catalog, tmp_path):
        from sujian_router import load_catalog

        frame = catalog.to_frame()
        frame.loc[0, "lead_department"] = "区民政局" if frame.loc[0, "lead_department"] != "区民政局" else "区应急管理局"
        path = tmp_path / "moved.csv"
        frame.to_csv(path, index=False, encoding="utf-8-sig")
        loaded = Router.load(saved_router, catalog=load_catalog(path))
        assert any("catalog fingerprint differs" in w for w in loaded.load_warnings)

    def test_item06_metadata_records_the_catalog_identity(self, custom_model, renamed_catalog):
        import json

        meta = json.loads((custom_model / "metadata.json").read_text(encoding="utf-8"))
        assert meta["catalog_fingerprint"] == renamed_catalog[1].fingerprint
        assert len(meta["catalog_labels_sha256"]) == 64

    def test_item06_cli_catalog_option_and_refusal(self, custom_model, renamed_catalog, capsys):
        rc = main(["route", "路灯不亮", "--model", str(custom_model), "--json"])
        assert rc == 1 and "--catalog" in capsys.readouterr().err
        rc = main(["route", "路灯不亮", "--model", str(custom_model), "--catalog", str(renamed_catalog[0]), "--json"])
        assert rc == 0
        assert "（本市）" in capsys.readouterr().out

    def test_item06_cli_prints_load_warnings(self, saved_router, capsys, monkeypatch):
        monkeypatch.setattr("sujian_router._persist.environment_versions",
                            lambda: {"numpy": "0.0.0-test"})
        rc = main(["route", "路灯不亮", "--model", str(saved_router), "--json"])
        assert rc == 0
        assert "warning: numpy: saved with" in capsys.readouterr().err
