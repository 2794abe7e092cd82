"""Model directories: arrays + JSON + model card + SHA-256 manifest, no pickle.

A model directory holds exactly four files::

    arrays.npz      numeric and string arrays (np.savez_compressed)
    metadata.json   JSON, sorted keys, UTF-8
    MODEL_CARD.md   human-readable description
    manifest.json   size and SHA-256 of the three files above (written last)

:func:`load_model_dir` checks the manifest before parsing anything and loads
the arrays with ``allow_pickle=False``, so a model file can never execute code;
it refuses symbolic links, oversized files and archive members the format
does not use before decompressing them. :func:`save_model_dir` writes a new
directory and swaps it in under a lock. Every problem raises
:class:`~sujian_router.exceptions.ModelFileError` naming the file and the reason.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import shutil
import stat
import tempfile
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


#: Largest ``arrays.npz`` file, total uncompressed array size and ``metadata.json`` accepted at load.
MAX_ARRAYS_FILE_BYTES = 1 << 31
MAX_ARRAY_BYTES = 1 << 32
MAX_METADATA_BYTES = 1 << 28
MAX_CARD_BYTES = 1 << 24
_MAX_FILE_BYTES = {ARRAYS: MAX_ARRAYS_FILE_BYTES, METADATA: MAX_METADATA_BYTES, CARD: MAX_CARD_BYTES,
                   MANIFEST: 1 << 20}


def _sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write_file(path: Path, data: bytes) -> None:
    """Create ``path`` (it must not exist: never written through a link) and fsync it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


class _DirLock:
    """An exclusive advisory lock on ``.NAME.lock`` beside a model directory (POSIX ``flock``).

    Two processes saving into one directory take turns instead of
    interleaving their bytes; where ``fcntl`` is missing (Windows) the
    atomic rename alone protects readers.
    """

    def __init__(self, path: Path):
        self.path = path.with_name(f".{path.name}.lock")
        self._fh = None

    def __enter__(self):
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            return self
        self._fh = open(self.path, "a+b")
        fcntl.flock(self._fh.fileno(), fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        if self._fh is not None:
            self._fh.close()  # closing releases the lock
        return False


def _check_target(path: Path) -> None:
    """Refuse a save target that is a link or holds files a model directory does not have."""
    if path.is_symlink():
        raise ModelFileError(f"{path}: is a symbolic link; save into a real directory")
    if not path.exists():
        return
    if not path.is_dir():
        raise ModelFileError(f"{path}: exists and is not a directory")
    extra = sorted(p.name for p in path.iterdir() if p.name not in (*_PAYLOAD, MANIFEST))
    if extra:
        raise ModelFileError(f"{path}: directory holds other files {extra}; use an empty directory")


def _payload_bytes(arrays: dict, metadata: dict, card_text: str) -> dict:
    buf = io.BytesIO()
    np.savez_compressed(buf, **{k: np.asarray(v) for k, v in arrays.items()})
    meta = json.dumps(metadata, sort_keys=True, ensure_ascii=False, indent=1).encode("utf-8")
    return {ARRAYS: buf.getvalue(), METADATA: meta, CARD: card_text.encode("utf-8")}


def save_model_dir(path, arrays: dict, metadata: dict, card_text: str) -> Path:
    """Write a model directory, atomically.

    The four files are written into a new sibling directory, which then
    replaces ``path`` by renaming, under an exclusive lock: two processes
    saving to one place take turns, and the last one wins whole; a symbolic
    link at the target is never written through. A reader racing a save
    may briefly find no directory (and get :class:`ModelFileError`), but
    never loads a mixture of two saves.

    Parameters
    ----------
    path : str or Path
        Directory to create or replace (when it exists it must hold only the
        four model files).
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
        An array has ``object`` dtype, the target is a symbolic link, or the
        directory holds other files.

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
        if np.asarray(a).dtype.hasobject:
            raise ModelFileError(f"{path / ARRAYS}: array {name!r} has object dtype, which would need pickle")
    payload = _payload_bytes(arrays, metadata, card_text)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _DirLock(path):
        _check_target(path)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.new-", dir=path.parent))
        try:
            for name, data in payload.items():
                _write_file(tmp / name, data)
            files = {name: {"size": len(data), "sha256": _sha256_bytes(data)} for name, data in payload.items()}
            manifest = json.dumps({"format": _MANIFEST_FORMAT, "files": files}, sort_keys=True, indent=1)
            _write_file(tmp / MANIFEST, manifest.encode("utf-8"))
            _swap_in(tmp, path)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return path


def _swap_in(new: Path, path: Path) -> None:
    """Replace directory ``path`` by ``new`` with renames (the old one is removed afterwards)."""
    old = None
    if path.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old-", dir=path.parent))
        os.rmdir(old)
        os.rename(path, old)
    os.rename(new, path)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)  # rmtree never follows links


def _read_regular(path: Path, limit: int, dir_fd=None) -> bytes:
    """Read a regular file that is not a symbolic link, refusing more than ``limit`` bytes.

    With ``dir_fd`` the file is opened relative to that open directory, so
    every file of one load comes from the same directory even if it is
    renamed meanwhile.
    """
    try:
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(path, flags) if dir_fd is None else os.open(path.name, flags, dir_fd=dir_fd)
    except OSError as exc:
        if path.is_symlink():
            raise ModelFileError(f"{path}: is a symbolic link; model files must be regular files") from None
        raise ModelFileError(f"{path}: cannot be opened ({exc.strerror})") from None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise ModelFileError(f"{path}: is not a regular file")
        if st.st_size > limit:
            raise ModelFileError(f"{path}: {st.st_size} bytes, more than the {limit} a model file may have")
        return fh.read(st.st_size)  # (read(limit) would allocate the whole limit up front)


def _check_entries(path: Path) -> None:
    """The directory holds exactly the payload and the manifest, none of them a link."""
    if path.is_symlink() and not path.is_dir():
        raise ModelFileError(f"{path}: model directory not found (dangling symbolic link)")
    if not path.is_dir():
        raise ModelFileError(f"{path}: model directory not found")
    present = sorted(p.name for p in path.iterdir())
    unexpected = [n for n in present if n not in (*_PAYLOAD, MANIFEST)]
    if unexpected:
        raise ModelFileError(f"{path / unexpected[0]}: unexpected file in model directory {unexpected}")
    for name in present:
        if (path / name).is_symlink():
            raise ModelFileError(f"{path / name}: is a symbolic link; model files must be regular files")
    if MANIFEST not in present:
        raise ModelFileError(f"{path / MANIFEST}: manifest.json is missing (incomplete or foreign model directory)")


def _read_manifest(path: Path, dir_fd=None) -> dict:
    mpath = path / MANIFEST
    try:
        manifest = json.loads(_read_regular(mpath, _MAX_FILE_BYTES[MANIFEST], dir_fd).decode("utf-8"))
        files = manifest["files"]
        if manifest.get("format") != _MANIFEST_FORMAT or not isinstance(files, dict):
            raise ValueError(f"unknown format {_short(manifest.get('format'))}")
        if not all(isinstance(v, dict) for v in files.values()):
            raise ValueError("each file entry must be an object")
    except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError, RecursionError) as exc:
        raise ModelFileError(f"{mpath}: manifest.json is unreadable ({type(exc).__name__}: {exc})") from None
    if sorted(files) != sorted(_PAYLOAD):
        raise ModelFileError(f"{mpath}: manifest lists {_short(sorted(files))}, expected {sorted(_PAYLOAD)}")
    return files


def _verify(path: Path) -> dict:
    """Check the directory against its manifest; return the verified bytes of each payload file."""
    _check_entries(path)
    dir_fd = None
    if os.open in os.supports_dir_fd and hasattr(os, "O_DIRECTORY"):
        try:
            dir_fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as exc:
            raise ModelFileError(f"{path}: cannot open the model directory ({exc.strerror})") from None
    try:
        return _verify_files(path, dir_fd)
    finally:
        if dir_fd is not None:
            os.close(dir_fd)


def _verify_files(path: Path, dir_fd) -> dict:
    files = _read_manifest(path, dir_fd)
    out = {}
    for name in _PAYLOAD:
        fpath = path / name
        if not (fpath.exists() or fpath.is_symlink()):
            raise ModelFileError(f"{fpath}: {name} is missing")
        data = _read_regular(fpath, _MAX_FILE_BYTES[name], dir_fd)
        if len(data) != files[name].get("size"):
            raise ModelFileError(
                f"{fpath}: size mismatch ({len(data)} bytes, manifest says {_short(files[name].get('size'))}); "
                "file truncated or modified"
            )
        if _sha256_bytes(data) != files[name].get("sha256"):
            raise ModelFileError(f"{fpath}: SHA-256 mismatch; file modified after saving")
        out[name] = data
    return out


def _short(value, limit=80) -> str:
    """``repr(value)`` cut to ``limit`` characters, for messages about untrusted values."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _npz_members(apath: Path, data: bytes, members, max_array_bytes: int) -> None:
    """Check the archive's member names and sizes before anything is decompressed."""
    import zipfile

    try:
        infos = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise ModelFileError(f"{apath}: cannot be read as npz ({type(exc).__name__}: {exc})") from None
    names = [i.filename for i in infos]
    if len(set(names)) != len(names):
        raise ModelFileError(f"{apath}: the archive names a member twice")
    for info in infos:
        key = info.filename[:-4] if info.filename.endswith(".npy") else None
        if key is None or (members is not None and key not in members):
            raise ModelFileError(f"{apath}: unexpected member {_short(info.filename)}; this format has "
                                 f"{sorted(members) if members is not None else 'only *.npy members'}")
    total = sum(i.file_size for i in infos)
    if total > max_array_bytes:
        raise ModelFileError(f"{apath}: the arrays would take {total} bytes uncompressed, more than the "
                             f"{max_array_bytes} a model may have")


def _load_npz(apath: Path, data: bytes, members, max_array_bytes: int) -> dict:
    if data[:4] != b"PK\x03\x04":
        raise ModelFileError(f"{apath}: cannot be read as npz (not a zip archive)")
    _npz_members(apath, data, members, max_array_bytes)
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            return {k: _read_member(npz, k, apath) for k in npz.files}
    except ModelFileError:
        raise
    except ValueError as exc:
        if "pickle" in str(exc).lower() or "object" in str(exc).lower():
            raise ModelFileError(f"{apath}: contains object arrays, which would need pickle") from None
        raise ModelFileError(f"{apath}: cannot be read as npz ({_short(str(exc), 200)})") from None
    except Exception as exc:  # zipfile.BadZipFile, OSError, EOFError, MemoryError ...
        raise ModelFileError(f"{apath}: cannot be read as npz ({type(exc).__name__}: {_short(str(exc), 200)})"
                             ) from None


def _read_member(npz, key: str, apath: Path):
    """Read one member after checking that its header's shape fits the member's real size."""
    from numpy.lib import format as npformat

    info = npz.zip.getinfo(key + ".npy")
    with npz.zip.open(info) as fh:
        version = npformat.read_magic(fh)
        reader = npformat.read_array_header_1_0 if version == (1, 0) else npformat.read_array_header_2_0
        shape, _fortran, dtype = reader(fh, max_header_size=10000)
        if dtype.hasobject:
            raise ModelFileError(f"{apath}: contains object arrays, which would need pickle")
        need = int(np.prod(shape, dtype=object)) * dtype.itemsize
        if need > info.file_size:
            raise ModelFileError(f"{apath}: member {key!r} declares shape {_short(shape)} ({need} bytes) but "
                                 f"holds {info.file_size} bytes")
    return npz[key]


def load_model_dir(path, *, members=None, max_array_bytes=MAX_ARRAY_BYTES) -> tuple[dict, dict]:
    """Verify and load a model directory written by :func:`save_model_dir`.

    Every file is read once, as a regular file (symbolic links are refused),
    and its bytes are checked against the manifest before they are parsed,
    so what is verified is what is loaded.

    Parameters
    ----------
    path : str or Path
    members : collection of str, optional
        The array names the format uses; any other member of ``arrays.npz``
        is refused before it is decompressed.
    max_array_bytes : int
        Refuse archives whose arrays would take more memory than this.

    Returns
    -------
    arrays : dict of str to ndarray
    metadata : dict

    Raises
    ------
    ModelFileError
        Missing directory, manifest or file; unexpected file or member;
        symbolic link; size or SHA-256 mismatch; oversized or unreadable
        JSON or arrays; arrays that would need pickle.
    """
    path = Path(path)
    data = _verify(path)
    arrays = _load_npz(path / ARRAYS, data[ARRAYS], members, max_array_bytes)
    mpath = path / METADATA
    try:
        metadata = json.loads(data[METADATA].decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ModelFileError(f"{mpath}: not valid JSON ({type(exc).__name__}: {_short(str(exc), 200)})") from None
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
