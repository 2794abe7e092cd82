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


# ---------------------------------------------------------------------------- fuzzing

_EXTREMES = (-1, -(2 ** 31), 2 ** 31 - 1, 2 ** 40, 0, 1, float("nan"), float("inf"), -float("inf"), 1e30, -1e30)
_JSON_VALUES = (None, -1, 0, 2, 1e308, -1e308, "x", "", [], {}, [[[]]], True, False, [1, 2, 3], {"a": None},
                "8" * 1000)


def _mutate_bytes(path, rng, name):
    data = bytearray((path / name).read_bytes())
    for _ in range(int(rng.integers(1, 4))):
        i = int(rng.integers(0, len(data)))
        data[i] = int(rng.integers(0, 256))
    (path / name).write_bytes(bytes(data))
    fix_manifest(path)
    return f"bytes of {name}"


def _mutate_value(path, rng):
    arrays, _ = read_raw(path)
    name = sorted(arrays)[int(rng.integers(0, len(arrays)))]
    a = arrays[name].copy()
    if a.size == 0 or a.dtype.kind not in "iuf":
        return _mutate_shape(path, rng)
    v = _EXTREMES[int(rng.integers(0, len(_EXTREMES)))]
    if a.dtype.kind in "iu" and not (isinstance(v, int) and np.iinfo(a.dtype).min <= v <= np.iinfo(a.dtype).max):
        v = int(rng.integers(-5, 5)) + int(a.max())
    a.flat[int(rng.integers(0, a.size))] = v
    arrays[name] = a
    write_raw(path, arrays=arrays)
    return f"a value of {name} set to {v}"


def _mutate_shape(path, rng):
    arrays, _ = read_raw(path)
    name = sorted(arrays)[int(rng.integers(0, len(arrays)))]
    a = arrays[name]
    how = int(rng.integers(0, 3))
    arrays[name] = (a.ravel()[:-1] if how == 0 and a.size else np.concatenate([a.ravel(), a.ravel()[:1]])
                    if how == 1 and a.size else a.reshape(-1, 1) if a.ndim == 1 else a.ravel())
    write_raw(path, arrays=arrays)
    return f"shape of {name} ({'shorter' if how == 0 else 'longer' if how == 1 else 'reshaped'})"


def _mutate_member(path, rng):
    arrays, _ = read_raw(path)
    name = sorted(arrays)[int(rng.integers(0, len(arrays)))]
    how = int(rng.integers(0, 3))
    if how == 0:
        del arrays[name]
    elif how == 1:
        arrays["x" + name] = arrays.pop(name)
    else:
        arrays["extra"] = np.zeros(3)
    write_raw(path, arrays=arrays)
    return f"member {name} {('dropped', 'renamed', 'kept; extra added')[how]}"


def _mutate_metadata(path, rng):
    _, meta = read_raw(path)
    target = meta if rng.random() < 0.4 else meta["classifier"]
    key = sorted(target)[int(rng.integers(0, len(target)))]
    if key in ("params", "tokenizer") and isinstance(target[key], dict) and rng.random() < 0.7:
        target, key = target[key], sorted(target[key])[int(rng.integers(0, len(target[key])))]
    target[key] = _JSON_VALUES[int(rng.integers(0, len(_JSON_VALUES)))]
    write_raw(path, meta=meta)
    return f"metadata {key} = {str(target[key])[:30]}"


def mutate(path, rng):
    """Apply one random mutation to a model directory (manifest rewritten to match); describe it."""
    kind = int(rng.integers(0, 6))
    if kind == 0:
        return _mutate_bytes(path, rng, ("arrays.npz", "metadata.json")[int(rng.integers(0, 2))])
    return (_mutate_value, _mutate_value, _mutate_shape, _mutate_member, _mutate_metadata)[kind - 1](path, rng)


FUZZ_TEXTS = ["晚上10点后有人跳广场舞，噪声很大", "路灯不亮", "", "垃圾没人清理，臭味很重", "施工噪音" * 50]


def fuzz(model_dir, workdir, n, seed):
    """Yield one result dict per mutation: outcome "ok", "refused" or "bad" (with the reason)."""
    import math
    import tempfile

    from sujian_router import Router
    from sujian_router.exceptions import ModelFileError

    rng = np.random.default_rng(seed)
    names = ("arrays.npz", "metadata.json", "manifest.json", "MODEL_CARD.md")
    for i in range(n):
        path = copy_model(model_dir, tempfile.mkdtemp(dir=workdir) + "/m")
        what = mutate(path, rng)
        try:
            router = Router.load(path)
        except ModelFileError as exc:
            named = str(path) in str(exc) or any(n in str(exc) for n in names)
            yield {"i": i, "what": what, "outcome": "refused" if named else "bad", "error": str(exc)[:200]}
            continue
        except Exception as exc:  # noqa: BLE001 - the point is to catch anything else
            yield {"i": i, "what": what, "outcome": "bad", "error": f"{type(exc).__name__}: {exc}"[:200]}
            continue
        try:
            decisions = router.route_many(FUZZ_TEXTS, received_at="2024-06-12 22:30") + [router.route(FUZZ_TEXTS[0])]
            bad = [d for d in decisions if not math.isfinite(d.confidence) or not 0 <= d.confidence <= 1
                   or "row_error" in d.flags]
            outcome = "bad" if bad else "ok"
            error = f"{len(bad)} bad decisions, e.g. {bad[0].flags} {bad[0].confidence}" if bad else ""
        except Exception as exc:  # noqa: BLE001
            outcome, error = "bad", f"routing raised {type(exc).__name__}: {exc}"[:200]
        yield {"i": i, "what": what, "outcome": outcome, "error": error}


if __name__ == "__main__":  # python tamper.py MODEL_DIR WORKDIR N SEED: one JSON line per mutation
    import sys

    for result in fuzz(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])):
        print(json.dumps(result, ensure_ascii=False), flush=True)
