"""The training report travels with the saved model: ``Router.load(path).training_report``."""

from __future__ import annotations

import json

import pytest


class TestSavedReport:
    def test_loaded_model_gives_back_the_training_report(self, router, saved_router):
        from sujian_router import Router

        loaded = Router.load(saved_router)
        assert loaded.training_report == router.training_report
        assert loaded.training_report.rows_in == router.training_report.rows_used + \
            router.training_report.rows_quarantined

    def test_model_without_training_section_has_no_report(self, tiny_saved_router):
        from sujian_router import Router

        assert Router.load(tiny_saved_router).training_report is None

    @pytest.mark.parametrize("training, expected", [
        ({"rows_in": 5, "rows_used": 4, "rows_quarantined": 1, "added_by_a_newer_version": 1}, 4),
        ({"rows_in": 5}, None),  # a required count is missing
        ("not a dict", None),
    ])
    def test_report_from_metadata_tolerates_other_versions(self, training, expected):
        from sujian_router._training_report import report_from_metadata

        report = report_from_metadata({"training": training})
        assert (None if report is None else report.rows_used) == expected

    def test_report_is_json_in_metadata(self, router, saved_router):
        meta = json.loads((saved_router / "metadata.json").read_text(encoding="utf-8"))
        assert meta["training"]["data_sha256"] == router.training_report.data_sha256
