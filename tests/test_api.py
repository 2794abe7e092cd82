"""The public surface: curated names, docstrings, a side-effect-free import, the console script."""

from __future__ import annotations

import subprocess
import sys

import pytest

import sujian_router


class TestPublicNames:
    @pytest.mark.parametrize("name", sujian_router.__all__)
    def test_every_public_name_resolves_and_is_documented(self, name):
        obj = getattr(sujian_router, name)
        assert obj.__doc__ and obj.__doc__.strip(), f"{name} has no docstring"

    def test_unknown_name_is_an_attribute_error(self):
        with pytest.raises(AttributeError, match="no attribute 'nope'"):
            sujian_router.nope  # noqa: B018

    def test_dask_submodule_is_documented(self):
        pytest.importorskip("dask")
        import sujian_router.dask as sd

        assert sd.route_dataframe.__doc__


class TestImportHasNoSideEffects:
    def test_import_reads_no_files_and_loads_no_heavy_modules(self):
        code = (
            "import builtins, io, sys\n"
            "opened = []\n"
            "real = builtins.open\n"
            "def spy(f, *a, **k):\n"
            "    opened.append(str(f)); return real(f, *a, **k)\n"
            "builtins.open = spy\n"
            "io.open = spy\n"
            "import logging\n"
            "handlers_before = list(logging.getLogger().handlers)\n"
            "import sujian_router\n"
            "import sujian_router._catalog, sujian_router._departments, sujian_router._rules\n"
            "data = [f for f in opened if f.endswith(('.csv', '.yaml', '.txt', '.json', '.npz'))]\n"
            "assert data == [], data\n"
            "heavy = [m for m in ('jieba', 'sklearn', 'pandas') if m in sys.modules]\n"
            "assert not heavy, heavy\n"
            "assert logging.getLogger().handlers == handlers_before\n"
            "print('ok')\n"
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == "ok"


class TestConsoleScript:
    def test_help_lists_every_subcommand(self, capsys):
        from sujian_router._cli import main

        with pytest.raises(SystemExit) as exc:
            main(["--help"])
        assert exc.value.code == 0
        text = capsys.readouterr().out
        for cmd in ("route", "catalog", "build-default", "train", "evaluate", "route-file"):
            assert cmd in text

    @pytest.mark.parametrize("cmd", ["route", "catalog", "build-default", "train", "evaluate", "route-file"])
    def test_each_subcommand_has_help(self, cmd, capsys):
        from sujian_router._cli import main

        with pytest.raises(SystemExit) as exc:
            main([cmd, "--help"])
        assert exc.value.code == 0
        assert "usage:" in capsys.readouterr().out

    def test_installed_entry_point_runs(self):
        import shutil

        exe = shutil.which("sujian-router")
        if exe is None:
            pytest.skip("console script not on PATH (package not installed in this environment)")
        out = subprocess.run([exe, "--help"], capture_output=True, text=True)
        assert out.returncode == 0 and "route-file" in out.stdout
