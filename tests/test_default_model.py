"""The bundled default model's cache: where it lives, when it is reused, copied or rebuilt."""

from __future__ import annotations

import filecmp

import pytest


@pytest.fixture
def dm(monkeypatch, tmp_path):
    """The default-model module with a private user cache (``XDG_CACHE_HOME``) and no ``SUJIAN_ROUTER_HOME``."""
    import sujian_router._default_model as dm

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("SUJIAN_ROUTER_HOME", raising=False)
    return dm


@pytest.fixture
def builds(dm, monkeypatch):
    """Records every build instead of building."""
    calls = []
    monkeypatch.setattr(dm, "build_default_model", lambda path, progress: calls.append(path) or path)
    return calls


def _save_default(router, path, recipe):
    """Save the small fixture router as if it were a default model built by ``recipe`` (None: no recipe)."""
    saved = type(router)(router.classifier, catalog=router.catalog, metadata=dict(router.metadata))
    saved.metadata.pop("default_recipe", None)
    if recipe is not None:
        saved.metadata["default_recipe"] = recipe
    saved.save(path)
    return path


class TestWhereItLives:
    """One rule: ``$SUJIAN_ROUTER_HOME/models/default`` if set, else the user cache, checkout or not."""

    def test_user_cache_by_default_even_from_a_checkout(self, dm, tmp_path):
        assert dm.default_model_dir() == tmp_path / "xdg" / "sujian-router" / "models" / "default"

    def test_home_variable_wins(self, dm, tmp_path, monkeypatch):
        monkeypatch.setenv("SUJIAN_ROUTER_HOME", str(tmp_path / "home"))
        assert dm.default_model_dir() == tmp_path / "home" / "models" / "default"

    def test_dot_cache_without_xdg(self, dm, tmp_path, monkeypatch):
        monkeypatch.delenv("XDG_CACHE_HOME")
        monkeypatch.setenv("HOME", str(tmp_path / "user"))
        assert dm.default_model_dir() == tmp_path / "user" / ".cache" / "sujian-router" / "models" / "default"


class TestDefaultModelCache:
    """``ensure_default_model`` reuses a cached default only if the catalog and the recipe are current."""

    @pytest.mark.parametrize("recipe,rebuilt", [(None, True), (1, True), ("current", False)])
    def test_stale_recipe_is_rebuilt(self, dm, builds, router, tmp_path, monkeypatch, recipe, rebuilt):
        monkeypatch.setenv("SUJIAN_ROUTER_HOME", str(tmp_path / "home"))
        _save_default(router, dm.default_model_dir(), dm.DEFAULT_RECIPE if recipe == "current" else recipe)
        assert dm.ensure_default_model(progress=False) == dm.default_model_dir()
        assert builds == ([dm.default_model_dir()] if rebuilt else [])

    def test_missing_model_is_built(self, dm, builds):
        assert dm.ensure_default_model(progress=False) == dm.user_cache_model_dir()
        assert builds == [dm.user_cache_model_dir()]


class TestReuseFromTheUserCache:
    """A separate ``SUJIAN_ROUTER_HOME`` (the test suite's, a service's) copies a current user cache, never rebuilds."""

    def test_current_user_cache_is_copied_not_rebuilt(self, dm, builds, router, tmp_path, monkeypatch):
        cache = _save_default(router, dm.user_cache_model_dir(), dm.DEFAULT_RECIPE)
        monkeypatch.setenv("SUJIAN_ROUTER_HOME", str(tmp_path / "home"))
        path = dm.ensure_default_model(progress=False)
        assert path == tmp_path / "home" / "models" / "default" and builds == []
        names = sorted(p.name for p in cache.iterdir())
        assert sorted(p.name for p in path.iterdir()) == names
        assert filecmp.cmpfiles(cache, path, names, shallow=False)[0] == names
        assert not [p for p in path.parent.iterdir() if p.name.startswith(".default-")]  # no temporary left

    @pytest.mark.parametrize("recipe", [None, 1])
    def test_stale_user_cache_is_not_copied(self, dm, builds, router, tmp_path, monkeypatch, recipe):
        _save_default(router, dm.user_cache_model_dir(), recipe)
        monkeypatch.setenv("SUJIAN_ROUTER_HOME", str(tmp_path / "home"))
        assert dm.ensure_default_model(progress=False) == tmp_path / "home" / "models" / "default"
        assert builds == [tmp_path / "home" / "models" / "default"]

    def test_current_user_cache_is_used_in_place(self, dm, builds, router):
        cache = _save_default(router, dm.user_cache_model_dir(), dm.DEFAULT_RECIPE)
        assert dm.ensure_default_model(progress=False) == cache and builds == []
