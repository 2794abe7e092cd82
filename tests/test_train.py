"""Training from labelled tickets: row accounting, quarantine, augmentation, personal data."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from sujian_router import TicketSchemaError, train

PII = {
    "phone": "13812345678",
    "id_card": "440301199001011234",
    "bank_card": "6222021234567890123",
    "plate": "粤B12345",
    "email": "zhang.san@example.com",
}


@pytest.fixture(scope="module")
def messy(catalog, fixture_items):
    from sujian_router import generate_tickets

    df = generate_tickets(catalog, n_per_item=4, seed=31, items=fixture_items[:50])[["text", "label"]]
    bad = pd.DataFrame({
        "text": ["", "   ", "路灯不亮", df["text"].iloc[0], "有人偷电动车"],
        "label": [df["label"].iloc[0], df["label"].iloc[0], "99-99-999", df["label"].iloc[0], ""],
    })
    pii_rows = pd.DataFrame({
        "text": [f"我的电话{PII['phone']}，身份证{PII['id_card']}，卡号{PII['bank_card']}，车牌{PII['plate']}，"
                 f"邮箱{PII['email']}，楼下广场舞太吵了" for _ in range(3)],
        "label": [df["label"].iloc[1]] * 3,
    })
    pii_rows["text"] = [t + f"第{i}次" for i, t in enumerate(pii_rows["text"])]
    return pd.concat([df, bad, pii_rows], ignore_index=True)


@pytest.fixture(scope="module")
def trained(messy, catalog):
    return train(messy, catalog=catalog, seed=2, progress=False, min_examples_per_item=0)


class TestAccounting:
    def test_every_row_is_used_or_quarantined(self, trained, messy):
        rep = trained.training_report
        assert rep.rows_in == len(messy)
        assert rep.rows_in == rep.rows_used + rep.rows_quarantined
        assert rep.rows_quarantined == len(trained.quarantined) == 5

    @pytest.mark.parametrize("reason,count", [("empty text", 2), ("unknown label", 1), ("duplicate", 1),
                                              ("missing label", 1)])
    def test_quarantine_reasons_are_counted(self, trained, reason, count):
        assert trained.training_report.quarantine_counts.get(reason) == count

    def test_thin_items_get_catalog_examples(self, catalog, messy):
        items = messy["label"].iloc[:8].tolist()
        sub = messy[messy["label"].isin(items[:2])]
        r = train(sub, catalog=catalog, seed=1, progress=False, min_examples_per_item=2, validation_fraction=0.0)
        assert r.training_report.rows_augmented >= 2 * (len(catalog) - 2)
        assert len(r.classes_) == len(catalog)

    def test_missing_columns_named(self):
        with pytest.raises(TicketSchemaError, match=r"expected columns \['text', 'label'\], found \['body'\]"):
            train(pd.DataFrame({"body": ["x"]}), progress=False)

    @pytest.mark.parametrize("kwargs,match", [({"validation_fraction": 1.5}, "validation_fraction"),
                                              ({"target_accuracy": 0}, "target_accuracy")])
    def test_bad_parameters_named(self, messy, kwargs, match):
        with pytest.raises(ValueError, match=match):
            train(messy, progress=False, **kwargs)


class TestPersonalData:
    def test_vocabulary_has_no_personal_data(self, trained):
        terms = " ".join(map(str, trained.classifier.get_feature_names_out()))
        for kind, value in PII.items():
            assert value not in terms, kind
            assert value[-6:] not in terms, kind
        assert not re.search(r"1[3-9]\d{9}", terms)

    def test_saved_model_and_reports_have_no_personal_data(self, trained, tmp_path):
        path = tmp_path / "m"
        trained.save(path)
        blob = b"".join(p.read_bytes() for p in path.iterdir())
        for kind, value in PII.items():
            assert value.encode() not in blob, kind
        from sujian_router import evaluate

        pii_text = f"电话{PII['phone']}，车牌{PII['plate']}，路灯坏了"
        report = evaluate(trained, pd.DataFrame({"text": [pii_text] * 3, "label": [trained.classes_[0]] * 3}))
        html = tmp_path / "r.html"
        report.to_html(html)
        dump = html.read_text(encoding="utf-8") + str(report.to_dict()) + report.worst_errors.to_string()
        for kind in ("phone", "plate"):
            assert PII[kind] not in dump, kind

    def test_decision_reasons_have_no_personal_data(self, trained):
        d = trained.route(f"我电话{PII['phone']}，身份证{PII['id_card']}，楼下广场舞太吵")
        text = " ".join(d.reasons)
        assert PII["phone"] not in text and PII["id_card"] not in text
        assert any("屏蔽" in r for r in d.reasons)


class TestWorkers:
    def test_worker_count_does_not_change_the_model(self, messy, catalog, monkeypatch):
        import numpy as np

        import sujian_router._train as tr

        monkeypatch.setattr(tr, "_MAP_CHUNK", 37)  # several chunks of texts to prepare and to score
        kw = dict(catalog=catalog, seed=5, progress=False, min_examples_per_item=0, validation_fraction=0.3)
        one = train(messy, n_jobs=1, **kw)
        two = train(messy, n_jobs=2, **kw)
        assert one.training_report.validation_rows > 37
        assert one.training_report.metrics == two.training_report.metrics
        assert one.review_threshold == two.review_threshold
        a, b = one.classifier, two.classifier
        assert a.vocabulary_ == b.vocabulary_
        for wa, wb in ((a.W2_, b.W2_), (a.W1_, b.W1_)):
            assert (wa is None) == (wb is None)
            if wa is not None:
                assert np.array_equal(wa.indptr, wb.indptr) and np.array_equal(wa.indices, wb.indices)
                assert np.array_equal(wa.data, wb.data)
        assert np.array_equal(a.b2_, b.b2_)
        assert a.temperatures_ == b.temperatures_


class TestClassifierParams:
    def test_catalog_models_get_the_catalog_params(self, router):
        import sujian_router._train as tr

        params = router.classifier.get_params()
        assert {k: params[k] for k in tr.CATALOG_PARAMS} == tr.CATALOG_PARAMS

    def test_catalog_models_have_three_levels(self, router, catalog):
        clf = router.classifier
        assert clf.hierarchy_ == "three-level"
        assert list(clf.groups_[clf.class_group_]) == [catalog.get(c).category_code for c in clf.classes_]
        assert list(clf.subgroups_[clf.class_subgroup_]) == [catalog.get(c).subcategory_code for c in clf.classes_]

    def test_saved_model_keeps_the_tolerance(self, router, saved_router):
        from sujian_router import Router

        assert Router.load(saved_router).classifier.tol == router.classifier.tol
