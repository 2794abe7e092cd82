"""The public surface: curated names, public submodules, docstrings, a side-effect-free import, the console script."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

import sujian_router

DOCS_API = Path(__file__).resolve().parents[1] / "docs" / "api.md"
#: Public submodules that need no optional extra.
SUBMODULES = ("catalog", "classifier", "decision", "exceptions", "hotspots", "places", "rules", "tickets")
SUBMODULE_NAMES = [(m, n) for m in SUBMODULES for n in importlib.import_module(f"sujian_router.{m}").__all__]


class TestPublicNames:
    @pytest.mark.parametrize("name", sujian_router.__all__)
    def test_every_public_name_resolves_and_is_documented(self, name):
        obj = getattr(sujian_router, name)
        assert obj.__doc__ and obj.__doc__.strip(), f"{name} has no docstring"

    def test_the_top_level_is_small(self):
        assert len(sujian_router.__all__) <= 16, sujian_router.__all__

    @pytest.mark.parametrize("name", ["Router", "RoutingDecision", "train", "evaluate", "route_file", "read_tickets",
                                      "generate_tickets", "load_catalog", "build_default_model", "SujianRouterError"])
    def test_newcomers_names_are_top_level(self, name):
        assert name in sujian_router.__all__

    def test_unknown_name_is_an_attribute_error(self):
        with pytest.raises(AttributeError, match="no attribute 'nope'"):
            sujian_router.nope  # noqa: B018

    def test_dir_lists_the_public_names_and_submodules_only(self):
        listed = set(dir(sujian_router))
        assert set(sujian_router.__all__) <= listed and set(SUBMODULES) <= listed
        assert not listed & set(sujian_router._MOVED)

    def test_dask_submodule_is_documented(self):
        pytest.importorskip("dask")
        import sujian_router.dask as sd

        assert sd.route_dataframe.__doc__


class TestSubmodules:
    @pytest.mark.parametrize("module,name", SUBMODULE_NAMES)
    def test_every_submodule_name_resolves_and_is_documented(self, module, name):
        mod = importlib.import_module(f"sujian_router.{module}")
        assert mod.__doc__ and mod.__doc__.strip(), f"sujian_router.{module} has no docstring"
        obj = getattr(mod, name)
        if callable(obj):
            assert obj.__doc__ and obj.__doc__.strip(), f"sujian_router.{module}.{name} has no docstring"

    @pytest.mark.parametrize("module", SUBMODULES)
    def test_submodule_is_an_attribute_of_the_package(self, module):
        assert getattr(sujian_router, module) is importlib.import_module(f"sujian_router.{module}")

    @pytest.mark.parametrize("module,name", [("exceptions", "NotFittedError"), ("rules", "Resolution"),
                                             ("catalog", "Resolved"), ("places", "Located"),
                                             ("tickets", "RouteFileReport"), ("tickets", "QuarantineResult")])
    def test_returned_and_raised_types_are_public(self, module, name):
        assert name in importlib.import_module(f"sujian_router.{module}").__all__


class TestOldNames:
    """Names that were top-level before the submodules keep working, from where they live now."""

    @pytest.mark.parametrize("name", sorted(sujian_router._MOVED))
    def test_old_top_level_name_still_resolves(self, name):
        obj = getattr(sujian_router, name)
        homes = [m for m in ("exceptions", *SUBMODULES) if name in importlib.import_module(f"sujian_router.{m}").__all__]
        assert homes, f"{name} has no public submodule"
        assert all(getattr(importlib.import_module(f"sujian_router.{m}"), name) is obj for m in homes)
        assert name not in sujian_router.__all__


@pytest.fixture(scope="module")
def text():
    return DOCS_API.read_text(encoding="utf-8")


class TestApiDocs:
    """docs/api.md names every public name and where it lives."""

    @pytest.mark.parametrize("name", sujian_router.__all__)
    def test_top_level_name_is_listed(self, text, name):
        assert re.search(rf"`sujian_router\.{re.escape(name)}`", text), name

    @pytest.mark.parametrize("module,name", SUBMODULE_NAMES)
    def test_submodule_name_is_listed(self, text, module, name):
        assert re.search(rf"`sujian_router\.{module}\.{re.escape(name)}`", text), f"{module}.{name}"


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
            "import sujian_router.catalog, sujian_router.rules, sujian_router.decision, sujian_router.exceptions\n"
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
