"""Rewrite a saved model directory the way an attacker would: edit arrays or metadata, then fix the manifest."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from pathlib import Path

import numpy as np


def copy_model(src, dst) -> Path:
    shutil.copytree(src, dst)
    return Path(dst)


def read_raw(path):
    """The arrays and metadata of a model directory, read without any checks."""
    path = Path(path)
    with np.load(path / "arrays.npz", allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads((path / "metadata.json").read_text(encoding="utf-8"))
    return arrays, meta


def fix_manifest(path):
    """Recompute manifest.json so that it matches whatever the files now hold."""
    path = Path(path)
    files = {}
    for name in ("arrays.npz", "metadata.json", "MODEL_CARD.md"):
        data = (path / name).read_bytes()
        files[name] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    (path / "manifest.json").write_text(
        json.dumps({"format": "sujian_router.model_dir/1", "files": files}, sort_keys=True, indent=1),
        encoding="utf-8")


def write_raw(path, arrays=None, meta=None, *, meta_text=None, npz_bytes=None):
    """Overwrite the arrays and/or metadata of a model directory, then fix its manifest."""
    path = Path(path)
    if npz_bytes is not None:
        (path / "arrays.npz").write_bytes(npz_bytes)
    elif arrays is not None:
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        (path / "arrays.npz").write_bytes(buf.getvalue())
    if meta_text is not None:
        (path / "metadata.json").write_text(meta_text, encoding="utf-8")
    elif meta is not None:
        (path / "metadata.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    fix_manifest(path)
    return path
