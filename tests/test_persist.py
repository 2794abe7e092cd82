"""Tests of model directories: round trip, manifest verification, no pickle."""

import json

import numpy as np
import pytest

from sujian_router._persist import (
    environment_versions,
    load_model_dir,
    save_model_dir,
    version_differences,
)
from sujian_router.exceptions import ModelFileError

ARRAYS = {
    "w": np.arange(12, dtype=np.float32).reshape(3, 4),
    "labels": np.array(["01-01-001", "08-02-003"]),
    "idx": np.array([0, 5, 7], dtype=np.int32),
}
META = {"labels": ["01-01-001", "08-02-003"], "note": "噪音", "versions": {"numpy": "2"}}


@pytest.fixture
def model_dir(tmp_path):
    return save_model_dir(tmp_path / "model", ARRAYS, META, "# 模型说明\n")


def test_round_trip(model_dir):
    arrays, meta = load_model_dir(model_dir)
    assert meta == META
    assert sorted(arrays) == sorted(ARRAYS)
    for k, v in ARRAYS.items():
        np.testing.assert_array_equal(arrays[k], v)
        assert arrays[k].dtype == v.dtype


def test_files_and_manifest(model_dir):
    assert sorted(p.name for p in model_dir.iterdir()) == [
        "MODEL_CARD.md", "arrays.npz", "manifest.json", "metadata.json"]
    manifest = json.loads((model_dir / "manifest.json").read_text(encoding="utf-8"))
    assert sorted(manifest["files"]) == ["MODEL_CARD.md", "arrays.npz", "metadata.json"]
    for name, entry in manifest["files"].items():
        assert entry["size"] == (model_dir / name).stat().st_size
        assert len(entry["sha256"]) == 64
    text = (model_dir / "metadata.json").read_text(encoding="utf-8")
    assert "噪音" in text  # ensure_ascii=False
    assert list(json.loads(text)) == sorted(META)


def test_resave_overwrites(model_dir):
    save_model_dir(model_dir, {"w": np.zeros(2)}, {"a": 1}, "card")
    arrays, meta = load_model_dir(model_dir)
    assert meta == {"a": 1} and arrays["w"].tolist() == [0.0, 0.0]


def test_save_rejects_object_arrays(tmp_path):
    with pytest.raises(ModelFileError, match="object dtype"):
        save_model_dir(tmp_path / "m", {"bad": np.array([{}, None], dtype=object)}, {}, "")


# ----------------------------------------------------------------- tampering
def _flip_byte(path, offset):
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("name", ["arrays.npz", "metadata.json", "MODEL_CARD.md"])
def test_flipped_byte_detected(model_dir, name):
    _flip_byte(model_dir / name, 3)
    with pytest.raises(ModelFileError, match=rf"{name}.*SHA-256 mismatch"):
        load_model_dir(model_dir)


@pytest.mark.parametrize("name", ["arrays.npz", "metadata.json"])
def test_truncated_file_detected(model_dir, name):
    p = model_dir / name
    p.write_bytes(p.read_bytes()[:-5])
    with pytest.raises(ModelFileError, match=rf"{name}.*size mismatch"):
        load_model_dir(model_dir)


def test_extra_file_detected(model_dir):
    (model_dir / "evil.pkl").write_bytes(b"\x80\x04N.")
    with pytest.raises(ModelFileError, match=r"evil\.pkl.*unexpected file"):
        load_model_dir(model_dir)


@pytest.mark.parametrize("name", ["arrays.npz", "metadata.json", "MODEL_CARD.md"])
def test_missing_payload_detected(model_dir, name):
    (model_dir / name).unlink()
    with pytest.raises(ModelFileError, match=rf"{name}.*missing"):
        load_model_dir(model_dir)


def test_missing_manifest_detected(model_dir):
    (model_dir / "manifest.json").unlink()
    with pytest.raises(ModelFileError, match=r"manifest\.json.*missing"):
        load_model_dir(model_dir)


def test_corrupt_manifest_detected(model_dir):
    (model_dir / "manifest.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelFileError, match=r"manifest\.json.*unreadable"):
        load_model_dir(model_dir)


def test_missing_directory(tmp_path):
    with pytest.raises(ModelFileError, match="not found"):
        load_model_dir(tmp_path / "nope")


def _rewrite_manifest(model_dir):
    """Recompute the manifest, as an attacker who controls the directory could."""
    import hashlib

    files = {}
    for name in ("arrays.npz", "metadata.json", "MODEL_CARD.md"):
        data = (model_dir / name).read_bytes()
        files[name] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    manifest = json.loads((model_dir / "manifest.json").read_text(encoding="utf-8"))
    manifest["files"] = files
    (model_dir / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


def test_foreign_npz_with_object_array_is_refused(model_dir):
    with open(model_dir / "arrays.npz", "wb") as f:
        np.savez(f, payload=np.array([{"x": 1}], dtype=object))
    _rewrite_manifest(model_dir)  # the hash matches, so only allow_pickle=False protects us
    with pytest.raises(ModelFileError, match=r"arrays\.npz.*object arrays"):
        load_model_dir(model_dir)


def test_non_npz_payload_is_refused(model_dir):
    (model_dir / "arrays.npz").write_bytes(b"not a zip file at all")
    _rewrite_manifest(model_dir)
    with pytest.raises(ModelFileError, match=r"arrays\.npz.*cannot be read"):
        load_model_dir(model_dir)


def test_non_object_metadata_is_refused(model_dir):
    (model_dir / "metadata.json").write_text("[1, 2]", encoding="utf-8")
    _rewrite_manifest(model_dir)
    with pytest.raises(ModelFileError, match=r"metadata\.json.*must be an object"):
        load_model_dir(model_dir)


# ----------------------------------------------------------------- versions
def test_environment_versions_keys():
    v = environment_versions()
    assert set(v) == {"sujian_router", "scikit-learn", "numpy", "scipy", "jieba", "rjieba", "python"}
    assert v["numpy"] == np.__version__


@pytest.mark.parametrize(
    "saved, current, expected",
    [
        ({"numpy": "1"}, {"numpy": "1"}, []),
        ({"numpy": "1"}, {"numpy": "2"}, ["numpy: saved with 1, running 2"]),
        ({"jieba": "0.42"}, {"jieba": None}, ["jieba: saved with 0.42, not installed now"]),
        ({}, {"scipy": "1.14"}, ["scipy: not recorded in the model, running 1.14"]),
    ],
)
def test_version_differences(saved, current, expected):
    assert version_differences(saved, current) == expected


def test_classifier_state_round_trip_through_directory(tmp_path):
    from sujian_router._classifier import TextClassifier

    texts = ["广场舞 噪音", "广场舞 音响", "路面 坑洼", "道路 破损"] * 3
    clf = TextClassifier(min_df=1).fit(texts, ["a", "a", "b", "b"] * 3)
    d = save_model_dir(tmp_path / "clf", *clf.to_state(), "card")
    again = TextClassifier.from_state(*load_model_dir(d))
    np.testing.assert_array_equal(again.predict_proba(texts), clf.predict_proba(texts))
