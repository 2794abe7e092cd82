"""Model directories: arrays + JSON + model card + SHA-256 manifest, no pickle.

A model directory holds exactly four files::

    arrays.npz      numeric and string arrays (np.savez_compressed)
    metadata.json   JSON, sorted keys, UTF-8
    MODEL_CARD.md   human-readable description
    manifest.json   size and SHA-256 of the three files above (written last)

:func:`load_model_dir` checks the manifest before parsing anything and loads
the arrays with ``allow_pickle=False``, so a model file can never execute code;
every problem raises :class:`~sujian_router.exceptions.ModelFileError` naming
the file and the reason.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from pathlib import Path

import numpy as np

from .exceptions import ModelFileError

__all__ = ["save_model_dir", "load_model_dir", "environment_versions", "version_differences"]

ARRAYS = "arrays.npz"
METADATA = "metadata.json"
CARD = "MODEL_CARD.md"
MANIFEST = "manifest.json"
_PAYLOAD = (ARRAYS, METADATA, CARD)
_MANIFEST_FORMAT = "sujian_router.model_dir/1"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def save_model_dir(path, arrays: dict, metadata: dict, card_text: str) -> Path:
    """Write a model directory.

    Parameters
    ----------
    path : str or Path
        Directory to create (it may exist; the four files are overwritten and
        it must hold no other files).
    arrays : dict of str to ndarray
        Numeric or fixed-width string arrays (no ``object`` dtype).
    metadata : dict
        JSON-able metadata.
    card_text : str
        Markdown model card.

    Returns
    -------
    Path
        The directory.

    Raises
    ------
    ModelFileError
        When an array has ``object`` dtype or the directory holds other files.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> d = save_model_dir(tempfile.mkdtemp() + "/m", {"w": np.arange(3)}, {"k": "值"}, "# card")
    >>> arrays, meta = load_model_dir(d)
    >>> arrays["w"].tolist(), meta
    ([0, 1, 2], {'k': '值'})
    """
    path = Path(path)
    for name, a in arrays.items():
        a = np.asarray(a)
        if a.dtype.hasobject:
            raise ModelFileError(f"{path / ARRAYS}: array {name!r} has object dtype, which would need pickle")
    path.mkdir(parents=True, exist_ok=True)
    extra = sorted(p.name for p in path.iterdir() if p.name not in (*_PAYLOAD, MANIFEST))
    if extra:
        raise ModelFileError(f"{path}: directory holds other files {extra}; use an empty directory")
    manifest_path = path / MANIFEST
    if manifest_path.exists():
        manifest_path.unlink()  # an interrupted save then fails to load, as it should
    with open(path / ARRAYS, "wb") as f:
        np.savez_compressed(f, **{k: np.asarray(v) for k, v in arrays.items()})
    (path / METADATA).write_text(
        json.dumps(metadata, sort_keys=True, ensure_ascii=False, indent=1), encoding="utf-8"
    )
    (path / CARD).write_text(card_text, encoding="utf-8")
    files = {
        name: {"size": (path / name).stat().st_size, "sha256": _sha256(path / name)}
        for name in _PAYLOAD
    }
    tmp = path / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps({"format": _MANIFEST_FORMAT, "files": files}, sort_keys=True, indent=1),
                   encoding="utf-8")
    os.replace(tmp, manifest_path)
    return path


def _verify(path: Path) -> None:
    if not path.is_dir():
        raise ModelFileError(f"{path}: model directory not found")
    mpath = path / MANIFEST
    if not mpath.is_file():
        raise ModelFileError(f"{mpath}: manifest.json is missing (incomplete or foreign model directory)")
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
        files = manifest["files"]
        if manifest.get("format") != _MANIFEST_FORMAT or not isinstance(files, dict):
            raise ValueError(f"unknown format {manifest.get('format')!r}")
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{mpath}: manifest.json is unreadable ({exc})") from None
    if sorted(files) != sorted(_PAYLOAD):
        raise ModelFileError(f"{mpath}: manifest lists {sorted(files)}, expected {sorted(_PAYLOAD)}")
    present = sorted(p.name for p in path.iterdir())
    unexpected = [n for n in present if n not in (*_PAYLOAD, MANIFEST)]
    if unexpected:
        raise ModelFileError(f"{path / unexpected[0]}: unexpected file in model directory {unexpected}")
    for name in _PAYLOAD:
        fpath = path / name
        if not fpath.is_file():
            raise ModelFileError(f"{fpath}: {name} is missing")
        size = fpath.stat().st_size
        if size != files[name].get("size"):
            raise ModelFileError(
                f"{fpath}: size mismatch ({size} bytes, manifest says {files[name].get('size')}); "
                "file truncated or modified"
            )
        digest = _sha256(fpath)
        if digest != files[name].get("sha256"):
            raise ModelFileError(f"{fpath}: SHA-256 mismatch; file modified after saving")


def load_model_dir(path) -> tuple[dict, dict]:
    """Verify and load a model directory written by :func:`save_model_dir`.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    arrays : dict of str to ndarray
    metadata : dict

    Raises
    ------
    ModelFileError
        Missing directory, manifest or file; unexpected file; size or SHA-256
        mismatch; unreadable JSON; arrays that would need pickle.
    """
    path = Path(path)
    _verify(path)
    apath = path / ARRAYS
    with open(apath, "rb") as f:
        if f.read(4) != b"PK\x03\x04":
            raise ModelFileError(f"{apath}: cannot be read as npz (not a zip archive)")
    try:
        with np.load(apath, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except ValueError as exc:
        if "pickle" in str(exc).lower() or "object" in str(exc).lower():
            raise ModelFileError(f"{apath}: contains object arrays, which would need pickle") from None
        raise ModelFileError(f"{apath}: cannot be read as npz ({exc})") from None
    except Exception as exc:  # zipfile.BadZipFile, OSError, EOFError ...
        raise ModelFileError(f"{apath}: cannot be read as npz ({type(exc).__name__}: {exc})") from None
    mpath = path / METADATA
    try:
        metadata = json.loads(mpath.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{mpath}: not valid JSON ({exc})") from None
    if not isinstance(metadata, dict):
        raise ModelFileError(f"{mpath}: top level must be an object, got {type(metadata).__name__}")
    return arrays, metadata


def environment_versions() -> dict:
    """Versions of the library and the packages a saved model depends on.

    Examples
    --------
    >>> sorted(environment_versions())
    ['jieba', 'numpy', 'python', 'rjieba', 'scikit-learn', 'scipy', 'sujian_router']
    """
    from importlib import metadata as md

    def version(dist):
        try:
            return md.version(dist)
        except md.PackageNotFoundError:
            return None

    import sujian_router

    return {
        "sujian_router": sujian_router.__version__,
        "scikit-learn": version("scikit-learn"),
        "numpy": np.__version__,
        "scipy": version("scipy"),
        "jieba": version("jieba"),
        "rjieba": version("rjieba"),  # ships the dictionary the rjieba backend segments with
        "python": platform.python_version(),
    }


def version_differences(saved: dict, current: dict) -> list:
    """Describe, one line each, the packages whose versions differ.

    Examples
    --------
    >>> version_differences({"numpy": "1.26.4", "jieba": "0.42.1"}, {"numpy": "2.1.0", "jieba": "0.42.1"})
    ['numpy: saved with 1.26.4, running 2.1.0']
    >>> version_differences({}, {"scipy": "1.14"})
    ['scipy: not recorded in the model, running 1.14']
    """
    out = []
    for name in sorted(set(saved) | set(current)):
        a, b = saved.get(name), current.get(name)
        if a == b:
            continue
        if name not in saved:
            out.append(f"{name}: not recorded in the model, running {b}")
        elif b is None:
            out.append(f"{name}: saved with {a}, not installed now")
        else:
            out.append(f"{name}: saved with {a}, running {b}")
    return out
