"""Department-only training: unit names through the directory, weak labels, the unmapped-name report."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from sujian_router import TicketSchemaError, train


@pytest.fixture(scope="module")
def matcher(catalog):
    from sujian_router._unit_names import UnitNameMatcher

    return UnitNameMatcher(catalog.departments)


class TestUnitNames:
    @pytest.mark.parametrize("name, role, unit, how", [
        ("福田区住房和建设局", "区住房和建设局", "福田区住房和建设局", "exact"),
        ("福田区住建局", "区住房和建设局", "福田区住房和建设局", "alias"),
        ("深圳市福田区住房和建设局", "区住房和建设局", "福田区住房和建设局", "alias"),
        ("区住建局", "区住房和建设局", "", "role"),
        ("龙华区城管局", "区城管和综合执法局", "龙华区城市管理和综合执法局", "alias"),
        ("福田街道办", "街道办事处", "福田街道办事处", "alias"),
        ("龙岗区交警大队", "交警大队", "深圳市公安局交通警察局龙岗大队", "alias"),
        ("福甜区住房和建设局", "区住房和建设局", "福田区住房和建设局", "fuzzy"),
        ("罗湖区住房和某设局", "区住房和建设局", "罗湖区住房和建设局", "fuzzy"),
        ("火星区气象站", "", "", "unmapped"),
        ("", "", "", "unmapped"),
    ])
    def test_match(self, matcher, name, role, unit, how):
        m = matcher.match(name)
        assert (m.role, m.unit, m.how) == (role, unit, how)

    def test_every_directory_unit_maps_to_itself(self, matcher, catalog):
        assert all(matcher.match(u.name).unit == u.name for u in catalog.departments.units)


@pytest.fixture(scope="module")
def department_export(router, catalog, fixture_items, true_units):
    """Fixture tickets with only the handling unit, spelt variously, plus misspelt and unknown names."""
    from sujian_router import generate_tickets

    df = generate_tickets(catalog, n_per_item=2, seed=41, items=fixture_items[:120]).reset_index(drop=True)
    units = list(true_units(router, df))
    names = [u.replace("住房和建设局", "住建局").replace("城市管理和综合执法局", "城管局") for u in units]
    names[0:3] = ["某某临时指挥部"] * 3
    names[3:5] = ["火星区气象站"] * 2
    names[5] = "福甜区住房和建设局"
    names[6] = ""
    return df.assign(department=names), np.asarray(units, dtype=object)


@pytest.fixture(scope="module")
def department_model(department_export, router, catalog):
    df, _ = department_export
    return train(df.drop(columns=["label"]), catalog=catalog, label_kind="department", base_router=router,
                 min_examples_per_item=0, progress=False, seed=3, n_jobs=1)


class TestDepartmentTraining:
    def test_unmapped_names_are_reported_with_row_counts(self, department_model):
        mapping = department_model.training_report.department_mapping
        assert mapping["unmapped"] == {"某某临时指挥部": 3, "火星区气象站": 2}
        assert mapping["rows_unmapped"] == 5
        assert mapping["fuzzy"] == {"福甜区住房和建设局": "福田区住房和建设局 (区住房和建设局)"}
        assert mapping["rows_empty"] == 1

    def test_every_row_is_accounted_for(self, department_model, department_export):
        rep = department_model.training_report
        mapping = rep.department_mapping
        assert rep.rows_in == len(department_export[0]) == rep.rows_used + rep.rows_quarantined
        assert mapping["rows_in"] == (mapping["rows_labelled"] + mapping["rows_unmapped"]
                                      + mapping["rows_without_items"] + mapping["rows_empty"])
        assert rep.quarantine_counts["missing label"] >= 6  # unmapped and empty units have no label
        assert rep.label_kind == "department"

    def test_weak_labels_lead_to_the_named_unit(self, department_export, router, catalog):
        from sujian_router._weak import department_labels

        df, units = department_export
        labelled, _ = department_labels(df.drop(columns=["label"]), catalog=catalog, base_router=router)
        ok = labelled["label"] != ""
        roles = [catalog.departments.unit(u).role for u in units[ok.to_numpy()]]
        leads = [catalog.get(c).lead_department for c in labelled["label"][ok]]
        assert np.mean([a == b for a, b in zip(roles, leads)]) >= 0.95

    def test_unmapped_error_policy_names_the_names(self, department_export, router, catalog):
        df, _ = department_export
        with pytest.raises(TicketSchemaError, match=r"'某某临时指挥部' \(3 rows\)"):
            train(df.drop(columns=["label"]), catalog=catalog, label_kind="department", base_router=router,
                  on_unmapped="error", progress=False)

    @pytest.mark.parametrize("kwargs, message", [
        ({"label_kind": "unit"}, "label_kind must be one of"),
        ({"label_kind": "department", "free_labels": True}, "cannot be combined with free_labels"),
    ])
    def test_bad_options(self, kwargs, message):
        with pytest.raises(ValueError, match=message):
            train(pd.DataFrame({"text": ["a"], "department": ["b"]}), progress=False, **kwargs)

    def test_missing_department_column(self):
        with pytest.raises(TicketSchemaError, match=r"expected columns \['text', 'department'\]"):
            train(pd.DataFrame({"text": ["路灯坏了"], "label": ["x"]}), label_kind="department", progress=False)


class TestCli:
    def test_train_department_column(self, department_export, tmp_path, capsys, monkeypatch, router):
        from sujian_router import _train, _weak
        from sujian_router._cli import main

        df, _ = department_export
        path = tmp_path / "dept.csv"
        df.drop(columns=["label", "department"]).assign(主办单位=df["department"]).to_csv(
            path, index=False, encoding="gbk")
        real = _weak.department_labels
        monkeypatch.setattr(_weak, "department_labels",
                            lambda *a, **k: real(*a, **{**k, "base_router": router}))  # the small fixture model
        monkeypatch.setattr(_train, "_augment", lambda *a: ([], []))  # no catalog-wide synthetic top-up: quick
        out = tmp_path / "model"
        assert main(["train", "--tickets", str(path), "--department-column", "主办单位", "--out", str(out),
                     "--quiet", "--n-jobs", "1", "--json"]) == 0
        rep = json.loads(capsys.readouterr().out)
        assert rep["department_mapping"]["unmapped"] == {"某某临时指挥部": 3, "火星区气象站": 2}
        assert (out / "metadata.json").is_file()
