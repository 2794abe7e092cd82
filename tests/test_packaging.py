"""The built wheel works outside the checkout: package data, catalog, console script."""

from __future__ import annotations

import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

CHECK = """
import sys, sujian_router
from pathlib import Path
here = Path(sujian_router.__file__).resolve()
assert "site-packages" in here.parts and "{repo}" not in str(here), here
c = sujian_router.load_catalog()
assert len(c) == 4315, len(c)
assert len(c.categories) == 18
d = sujian_router.DepartmentDirectory.load()
assert d.resolve("派出所", street="坪山街道") == "坪山派出所"
assert d.resolve("流域管理中心", district="坪山区") == "深圳市龙岗河坪山河流域管理中心"
from importlib import resources
seeds = resources.files("sujian_router") / "data" / "seeds"
assert (seeds / "departments.yaml").is_file()
print("ok", len(c))
"""


def _run(cmd, cwd, timeout=180):
    out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, f"{cmd} failed:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}"
    return out


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """Build a wheel from a clean copy of the project and install it in a fresh venv."""
    tmp = tmp_path_factory.mktemp("packaging")
    project = tmp / "project"
    project.mkdir()
    # copy only what the build needs, so no build/ or egg-info lands in the checkout
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
    shutil.copytree(REPO / "src", project / "src", ignore=ignore)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (REPO / name).exists():
            shutil.copy(REPO / name, project / name)
    wheels = tmp / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", str(project), "--no-deps", "-q", "-w", str(wheels)], cwd=tmp)
    (wheel,) = wheels.glob("sujian_router-*.whl")
    env_dir = tmp / "venv"
    venv.EnvBuilder(system_site_packages=True, with_pip=False, symlinks=True).create(env_dir)
    python = env_dir / "bin" / "python"
    # the venv has no pip of its own: install with the outer pip into the venv
    _run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q",
         str(wheel)],
        cwd=tmp,
    )
    return env_dir, wheel


def test_wheel_contains_package_data(installed):
    import zipfile

    _, wheel = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in (
        "sujian_router/data/duty_catalog.csv",
        "sujian_router/data/departments.csv",
        "sujian_router/data/seeds/departments.yaml",
        "sujian_router/_cli/catalog.py",
        "sujian_router/_default_model.py",
        *(f"sujian_router/{m}.py" for m in ("catalog", "classifier", "decision", "exceptions", "hotspots", "places",
                                              "rules", "tickets")),
    ):
        assert expected in names


def test_installed_catalog_loads_from_elsewhere(installed, tmp_path):
    env_dir, _ = installed
    code = CHECK.format(repo=str(REPO))
    out = _run([str(env_dir / "bin" / "python"), "-c", code], cwd=tmp_path)
    assert out.stdout.split() == ["ok", "4315"]


def test_console_script_help(installed, tmp_path):
    env_dir, _ = installed
    script = env_dir / "bin" / "sujian-router"
    assert script.is_file()
    out = _run([str(script), "--help"], cwd=tmp_path)
    assert "catalog" in out.stdout
    out = _run([str(script), "catalog", "stats", "--json"], cwd=tmp_path)
    assert '"items": 4315' in out.stdout


def test_installed_and_checkout_share_the_default_model_location(installed, tmp_path):
    """The one location rule: the user cache, whether installed from a wheel or run from this checkout."""
    env_dir, _ = installed
    code = "from sujian_router._default_model import default_model_dir; print(default_model_dir())"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path / "user"), "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    installed_dir = subprocess.run([str(env_dir / "bin" / "python"), "-c", code], cwd=tmp_path, env=env,
                                   capture_output=True, text=True, timeout=60)
    checkout_dir = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                                  timeout=60)
    assert installed_dir.returncode == 0 and checkout_dir.returncode == 0, installed_dir.stderr + checkout_dir.stderr
    expected = str(tmp_path / "xdg" / "sujian-router" / "models" / "default")
    assert installed_dir.stdout.strip() == checkout_dir.stdout.strip() == expected


@pytest.fixture(scope="module")
def commands():
    """The README's text and the lines of its first ``bash`` block."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = text.split("```bash\n", 1)[1].split("```", 1)[0]
    return text, block.strip().splitlines()


class TestReadme:
    """The README's two first-use commands, and CI running exactly its test command."""

    def test_two_commands_first(self, commands):
        _, lines = commands
        assert len(lines) == 2
        assert lines[0].startswith("pip install . && sujian-router route ")
        assert lines[1] == 'python -m pip install -e ".[test]" && python -m pytest'

    def test_ci_runs_the_readme_test_command(self, commands):
        _, lines = commands
        ci = (REPO / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()
        assert ci[-1] == lines[1]

    def test_readme_is_short(self, commands):
        text, _ = commands
        assert len(text.splitlines()) < 200

    def test_readme_links_point_to_files(self, commands):
        import re

        text, _ = commands
        targets = {t.split("#")[0] for t in re.findall(r"\]\(([^)#][^)]*)\)", text) if "://" not in t}
        assert targets and all((REPO / t).exists() for t in targets), sorted(t for t in targets if not (REPO / t).exists())
