"""The bundled default model's cache: where it lives, when it is reused and when rebuilt."""

from __future__ import annotations

import pytest


class TestDefaultModelCache:
    """``ensure_default_model`` reuses a cached default only if the catalog and the recipe are current."""

    @pytest.mark.parametrize("recipe,rebuilt", [(None, True), (1, True), ("current", False)])
    def test_stale_recipe_is_rebuilt(self, router, tmp_path, monkeypatch, recipe, rebuilt):
        import sujian_router._default_model as dm

        monkeypatch.setenv("SUJIAN_ROUTER_HOME", str(tmp_path))
        saved = type(router)(router.classifier, catalog=router.catalog, metadata=dict(router.metadata))
        saved.metadata.pop("default_recipe", None)
        if recipe is not None:
            saved.metadata["default_recipe"] = dm.DEFAULT_RECIPE if recipe == "current" else recipe
        saved.save(dm.default_model_dir())
        calls = []
        monkeypatch.setattr(dm, "build_default_model", lambda path, progress: calls.append(path) or path)
        assert dm.ensure_default_model(progress=False) == dm.default_model_dir()
        assert calls == ([dm.default_model_dir()] if rebuilt else [])
