"""The notebooks run top to bottom (small mode) and show what they promise."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
#: Same location as conftest.TEDDY: the shared folder next to the repository.
TEDDY = Path(__file__).resolve().parents[2] / "shared" / "data" / "teddycup2020" / "messages.csv"
CELL_TIMEOUT = 300


def _kernel_available():
    """True when the python3 kernel is installed in this environment (ipykernel)."""
    try:
        import ipykernel  # noqa: F401
        from jupyter_client.kernelspec import KernelSpecManager
    except ImportError:
        return False
    return "python3" in KernelSpecManager().find_kernel_specs()


pytestmark = pytest.mark.skipif(not _kernel_available(), reason="ipykernel (python3 kernel) is not installed")


def run_notebook(name, tmp_path, monkeypatch, **env):
    """Execute a notebook in ``tmp_path`` and return (notebook, all text output, seconds)."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("SUJIAN_NOTEBOOK_SMALL", "1")
    monkeypatch.setenv("SUJIAN_ROUTER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    client = nbclient.NotebookClient(
        nb, kernel_name="python3", timeout=CELL_TIMEOUT, resources={"metadata": {"path": str(tmp_path)}}
    )
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    return nb, _text(nb), seconds


def _outputs(nb):
    return [out for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", [])]


def _text(nb):
    parts = []
    for out in _outputs(nb):
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type in ("execute_result", "display_data"):
            parts.append(out.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


def _assert_clean(nb):
    errors = [out for out in _outputs(nb) if out.output_type == "error"]
    assert not errors, [f"{e.ename}: {e.evalue}" for e in errors]
    stderr = "".join(out.text for out in _outputs(nb) if out.output_type == "stream" and out.name == "stderr")
    assert "Traceback" not in stderr and "Warning" not in stderr, stderr[:2000]


def _images(nb):
    return sum(1 for out in _outputs(nb) if "image/png" in out.get("data", {}))


class TestStoredNotebooks:
    @pytest.mark.parametrize("name", ["retrain_from_export", "real_data_benchmark"])
    def test_stored_without_outputs(self, name):
        nbformat = pytest.importorskip("nbformat")
        nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
        nbformat.validate(nb)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert code
        assert all(c.outputs == [] and c.execution_count is None for c in code)
        assert nb.metadata.kernelspec.name == "python3"


class TestRetrainFromExport:
    def test_runs_end_to_end(self, tmp_path, monkeypatch):
        nb, text, seconds = run_notebook("retrain_from_export", tmp_path, monkeypatch)
        _assert_clean(nb)
        assert seconds < 120, f"took {seconds:.0f} s"
        # the export was written as labelled synthetic GBK data and read back
        assert "SYNTHETIC tickets" in text and "合成数据" in text
        assert re.search(r"rows in \d+: used \d+", text)  # training report
        assert re.search(r"macro F1\s+0\.\d{4}", text)  # report.summary()
        assert "'macro_f1':" in text  # report.to_dict()
        assert _images(nb) >= 1  # the coverage curve
        # the Pingshan case: night-time square dancing under the river bridge
        assert "lead (主办): 坪山派出所" in text
        assert "深圳市龙岗河坪山河流域管理中心" in text
        assert "08-04-003" in text  # 广场舞噪声


class TestRealDataBenchmark:
    @pytest.mark.shared_data
    def test_small_run_on_real_data(self, tmp_path, monkeypatch):
        if not TEDDY.is_file():
            pytest.skip(f"real data not available: {TEDDY} is absent")
        nb, text, seconds = run_notebook(
            "real_data_benchmark", tmp_path, monkeypatch, SUJIAN_SHARED_DATA=str(TEDDY.parents[1])
        )
        _assert_clean(nb)
        assert "SKIPPED" not in text
        assert "training on 800, testing on 300" in text
        match = re.search(r"macro_f1 = (0\.\d{4}|1\.0000)", text)
        assert match, text[-2000:]
        assert float(match.group(1)) > 0.3  # far above chance (1/7) even on 800 rows
        assert _images(nb) == 3  # per-class F1, confusion, coverage

    def test_skips_cleanly_without_data(self, tmp_path, monkeypatch):
        empty = tmp_path / "no_shared_data"
        empty.mkdir()
        nb, text, _seconds = run_notebook("real_data_benchmark", tmp_path, monkeypatch, SUJIAN_SHARED_DATA=str(empty))
        _assert_clean(nb)
        assert "SKIPPED: real data not found at" in text
        assert str(empty) in text
        assert "macro_f1" not in text
        assert _images(nb) == 0
