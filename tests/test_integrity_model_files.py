"""Issue #14, hostile model files (items 7-10): the manifest is rewritten to match every edit."""

from __future__ import annotations

import io
import json
import os
import tracemalloc
import zipfile

import numpy as np
import pytest
from tamper import copy_model, read_raw, write_raw

from sujian_router import Router
from sujian_router._persist import load_model_dir, save_model_dir
from sujian_router.exceptions import ModelFileError


@pytest.fixture
def model(tiny_saved_router, tmp_path):
    return copy_model(tiny_saved_router, tmp_path / "m")


def _edit_array(path, name, change):
    arrays, meta = read_raw(path)
    arrays[name] = change(arrays[name].copy())
    write_raw(path, arrays=arrays)


def _set(index, value):
    def change(a):
        a[index] = value
        return a
    return change


class TestItem07ArraysAreValidated:
    @pytest.mark.parametrize("name, change, match", [
        ("w2_indices", _set(0, 2 ** 30), r"w2_indices has values outside \[0, \d+\)"),
        ("w2_indices", _set(-1, -5), r"w2_indices has values outside"),
        ("ws_indices", _set(3, 10 ** 6), r"ws_indices has values outside"),
        ("w1_indices", _set(3, -1), r"w1_indices has values outside"),
        ("perm", _set(0, 10 ** 6), r"perm is not a permutation"),
        ("perm", lambda a: np.zeros_like(a), r"perm is not a permutation"),
        ("bounds", lambda a: a[::-1].copy(), r"bounds must run from 0"),
        ("bounds", _set(5, 10 ** 5), r"bounds is not strictly increasing"),
        ("w2_indptr", _set(100, 10 ** 7), r"w2_indptr is not non-decreasing"),
        ("w2_indptr", lambda a: a[:-1].copy(), r"w2_indptr has \d+ entries, expected"),
        ("class_group", _set(0, 99), r"class_group has values outside"),
        ("leaf_bounds", _set(1, 0), r"leaf_bounds"),
        ("w2_data", _set(0, np.nan), r"w2_data holds NaN"),
        ("b2", _set(0, np.inf), r"b2 holds NaN or infinite"),
        ("idf", lambda a: a[:-3].copy(), r"idf has \d+ entries, expected"),
        ("classes", lambda a: np.full_like(a, "x"), r"classes has repeated entries"),
        ("w2_data", lambda a: a.astype(np.complex64), r"w2_data has dtype complex64"),
    ])
    def test_item07_out_of_range_or_inconsistent_arrays_are_refused_at_load(self, model, name, change, match):
        _edit_array(model, name, change)
        with pytest.raises(ModelFileError, match=match):
            Router.load(model)

    @pytest.mark.parametrize("temps", [[0, 0, 0], [-1.0, 1.0, 1.0], [1.0, 1.0], [1e9, 1, 1], ["1", 1, 1], None])
    def test_item07_temperatures_must_be_finite_and_positive(self, model, temps):
        arrays, meta = read_raw(model)
        meta["classifier"]["temperatures"] = temps
        write_raw(model, meta=meta)
        with pytest.raises(ModelFileError, match=r"metadata\.json: classifier\.temperatures"):
            Router.load(model)

    def test_item07_nan_temperatures_are_refused(self, model):
        arrays, meta = read_raw(model)
        meta["classifier"]["temperatures"] = [float("nan")] * 3  # json writes NaN, which json reads back
        write_raw(model, meta=meta)
        with pytest.raises(ModelFileError, match=r"temperatures"):
            Router.load(model)

    def test_item07_untouched_model_still_loads_and_routes(self, model):
        d = Router.load(model).route("晚上广场舞噪音太大")
        assert np.isfinite(d.confidence) and d.item_code


class TestItem08MembersAndSizes:
    def test_item08_unknown_member_is_refused_before_it_is_decompressed(self, model):
        data = (model / "arrays.npz").read_bytes()
        buf = io.BytesIO(data)
        with zipfile.ZipFile(buf, "a", compression=zipfile.ZIP_DEFLATED) as zf:
            with zf.open("payload.npy", "w") as fh:
                np.lib.format.write_array(fh, np.zeros(8_000_000))  # 64 MB of zeros, ~60 KB compressed
        write_raw(model, npz_bytes=buf.getvalue())
        tracemalloc.start()
        try:
            with pytest.raises(ModelFileError, match=r"unexpected member 'payload\.npy'"):
                Router.load(model)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 40_000_000

    def test_item08_member_declaring_a_larger_shape_than_it_holds_is_refused(self, tmp_path):
        path = save_model_dir(tmp_path / "m", {"w2_data": np.zeros(4, dtype=np.float32)}, {}, "")
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            header = io.BytesIO()
            np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False,
                                                          "shape": (2 ** 40,)})
            zf.writestr("w2_data.npy", header.getvalue() + b"\0" * 16)
        write_raw(path, npz_bytes=buf.getvalue())
        with pytest.raises(ModelFileError, match=r"declares shape"):
            load_model_dir(path)

    def test_item08_total_size_is_capped(self, model):
        with pytest.raises(ModelFileError, match=r"uncompressed, more than the 1000"):
            load_model_dir(model, max_array_bytes=1000)


class TestItem09Metadata:
    @pytest.mark.parametrize("key, value, match", [
        ("review_threshold", 2, r"review_threshold is 2"),
        ("review_threshold", None, r"review_threshold is None"),
        ("review_threshold", "0.5", r"review_threshold is '0.5'"),
        ("versions", ["numpy"], r"versions is \['numpy'\]"),
        ("versions", {"numpy": 2}, r"versions\.numpy must be a string"),
        ("uses_catalog", "yes", r"uses_catalog is 'yes'"),
        ("classifier", [], r"classifier is \[\]"),
        ("catalog_fingerprint", 7, r"catalog_fingerprint is 7"),
        ("keyword_prior", 8.9e29, r"keyword_prior is 8\.9e\+29"),
        ("keyword_prior", -1, r"keyword_prior is -1"),
        ("tier_thresholds", {"auto": 2, "suggest": 0.1}, r"tier_thresholds is .*suggest <= auto <= 1"),
        ("tier_thresholds", [1], r"tier_thresholds is \[1\]"),
    ])
    def test_item09_tampered_metadata_names_the_file(self, model, key, value, match):
        arrays, meta = read_raw(model)
        meta[key] = value
        write_raw(model, meta=meta)
        with pytest.raises(ModelFileError, match=r"metadata\.json: " + match):
            Router.load(model)

    @pytest.mark.parametrize("edit", [
        lambda c: c.update(vocabulary="abc"),
        lambda c: c.update(vocabulary=[1, 2]),
        lambda c: c.update(params={"exact_above": "x"}),
        lambda c: c.update(params={"no_such_param": 1}),
        lambda c: c.update(hierarchy="four-level"),
        lambda c: c.update(tokenizer={"user_words": "x"}),
    ])
    def test_item09_tampered_classifier_metadata_names_the_file(self, model, edit):
        arrays, meta = read_raw(model)
        edit(meta["classifier"])
        write_raw(model, meta=meta)
        with pytest.raises(ModelFileError, match=r"metadata\.json"):
            Router.load(model)

    def test_item09_deeply_nested_metadata_is_refused_without_recursion_error(self, model):
        deep = "[" * 100_000 + "]" * 100_000
        write_raw(model, meta_text='{"classifier": {}, "x": ' + deep + "}")
        with pytest.raises(ModelFileError, match=r"metadata\.json: not valid JSON \(RecursionError"):
            Router.load(model)


class TestItem10SymbolicLinks:
    def test_item10_symlinked_arrays_outside_the_directory_are_refused(self, model, tmp_path):
        outside = tmp_path / "outside.npz"
        os.replace(model / "arrays.npz", outside)
        os.symlink(outside, model / "arrays.npz")
        with pytest.raises(ModelFileError, match=r"arrays\.npz: is a symbolic link"):
            Router.load(model)

    def test_item10_metadata_linked_to_a_system_file_reveals_nothing(self, model):
        target = "/etc/hostname" if os.path.exists("/etc/hostname") else "/etc/passwd"
        (model / "metadata.json").unlink()
        os.symlink(target, model / "metadata.json")
        with pytest.raises(ModelFileError) as info:
            Router.load(model)
        message = str(info.value)
        assert "symbolic link" in message and "bytes" not in message

    def test_item10_save_never_writes_through_a_symlinked_model_card(self, router, model, tmp_path):
        victim = tmp_path / "victim.txt"
        victim.write_text("do not touch", encoding="utf-8")
        (model / "MODEL_CARD.md").unlink()
        os.symlink(victim, model / "MODEL_CARD.md")
        router.save(model)
        assert victim.read_text(encoding="utf-8") == "do not touch"
        assert not (model / "MODEL_CARD.md").is_symlink()
        assert Router.load(model).route("路灯不亮").item_code

    def test_item10_save_refuses_a_symlinked_target_directory(self, router, model, tmp_path):
        link = tmp_path / "link"
        os.symlink(model, link)
        with pytest.raises(ModelFileError, match="symbolic link"):
            router.save(link)
