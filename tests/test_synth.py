"""Tests of the synthetic ticket generator (``sujian_router._synth``)."""

from __future__ import annotations

import re
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from sujian_router._synth import (
    COLUMNS,
    TEMPLATE_FAMILIES,
    _WORD_TYPO_FAMILIES,
    _Stream,
    _typo,
    _word_typo,
    generate_tickets,
    iter_tickets,
    write_export,
)
from sujian_router.exceptions import CatalogError, TicketSchemaError, UnknownDutyError

# Every field of each fake item carries one rare marker character, so the item
# a text talks about can be read back from the text.
_MARKERS = "麒麟貔貅鲲鸾"
_CATEGORIES = ("噪声污染", "道路交通安全(交警)", "城市管理与市容环卫", "市场监管与消费维权", "水务与排水", "教育")


def _fake_items():
    items = []
    for i, (m, cat) in enumerate(zip(_MARKERS, _CATEGORIES)):
        items.append(
            SimpleNamespace(
                code=f"{i + 1:02d}-01-001",
                category=cat,
                subcategory=f"{m}类问题",
                name=f"{m}事项名称",
                scope=f"{m}范围；不含其他。",
                keywords=(f"{m}关键词", f"{m}现象"),
                phrasings=(f"楼下{m}天天出现", f"{m}搞得大家不安宁。"),
                lead_department="街道办事处",
            )
        )
    return items


ITEMS = _fake_items()
CODES = [it.code for it in ITEMS]
MARK_OF = {it.code: m for it, m in zip(ITEMS, _MARKERS)}
HELDOUT = {f.name for f in TEMPLATE_FAMILIES if f.heldout}
TRAIN = {f.name for f in TEMPLATE_FAMILIES if not f.heldout}


@pytest.fixture(scope="module")
def frame():
    return generate_tickets(ITEMS, n_per_item=100, seed=3, split="all")


# --------------------------------------------------------------------- shape


class TestFrameShape:
    def test_columns_in_order(self, frame):
        assert tuple(frame.columns) == COLUMNS

    @pytest.mark.parametrize("column", ["ticket_id", "text", "label", "category", "district", "street",
                                        "template_family"])
    def test_string_columns(self, frame, column):
        assert pd.api.types.is_string_dtype(frame[column])
        assert frame[column].map(len).min() > 0

    def test_received_at_is_datetime_in_2024(self, frame):
        assert pd.api.types.is_datetime64_any_dtype(frame["received_at"])
        assert frame["received_at"].dt.year.eq(2024).all()

    def test_night_hours_present(self, frame):
        hours = frame["received_at"].dt.hour
        night = (hours >= 22) | (hours < 6)
        assert 0.03 < night.mean() < 0.3

    def test_synthetic_always_true(self, frame):
        assert frame["synthetic"].dtype == bool
        assert frame["synthetic"].all()

    def test_ticket_ids(self, frame):
        assert frame["ticket_id"].is_unique
        assert frame["ticket_id"].iloc[0] == "SYN-3-1"
        assert frame["ticket_id"].iloc[-1] == f"SYN-3-{len(frame)}"

    def test_every_item_n_per_item_times_in_catalog_order(self, frame):
        assert frame["label"].value_counts().to_dict() == {c: 100 for c in CODES}
        assert frame["label"].drop_duplicates().tolist() == CODES

    def test_category_matches_item(self, frame):
        cat_of = {it.code: it.category for it in ITEMS}
        assert (frame["category"] == frame["label"].map(cat_of)).all()

    def test_district_and_street_are_shenzhen(self, frame):
        assert set(frame["district"]) <= {"福田区", "罗湖区", "南山区", "宝安区", "龙岗区", "盐田区", "龙华区",
                                          "坪山区", "光明区", "大鹏新区", "深汕特别合作区"}
        assert frame["street"].str.endswith(("街道", "镇")).all()
        assert frame["district"].nunique() >= 8

    def test_zero_per_item_gives_empty_frame_with_schema(self):
        empty = generate_tickets(ITEMS, n_per_item=0)
        assert len(empty) == 0
        assert tuple(empty.columns) == COLUMNS
        assert pd.api.types.is_datetime64_any_dtype(empty["received_at"])


# --------------------------------------------------------------- determinism


class TestDeterminism:
    def test_same_arguments_same_frame(self):
        a = generate_tickets(ITEMS, n_per_item=20, seed=11)
        b = generate_tickets(ITEMS, n_per_item=20, seed=11)
        pd.testing.assert_frame_equal(a, b)

    def test_different_seed_different_texts(self):
        a = generate_tickets(ITEMS, n_per_item=20, seed=11)
        b = generate_tickets(ITEMS, n_per_item=20, seed=12)
        assert (a["text"] != b["text"]).mean() > 0.9
        assert b["ticket_id"].iloc[0] == "SYN-12-1"

    def test_global_random_state_untouched(self):
        np.random.seed(5)
        expected = np.random.random()
        np.random.seed(5)
        generate_tickets(ITEMS, n_per_item=5, seed=1)
        assert np.random.random() == expected

    def test_catalog_as_mapping_and_pipe_strings(self):
        piped = [SimpleNamespace(code=it.code, name=it.name, category=it.category, subcategory=it.subcategory,
                                 scope=it.scope, keywords="|".join(it.keywords), phrasings="|".join(it.phrasings))
                 for it in ITEMS]
        a = generate_tickets(ITEMS, n_per_item=5, seed=2)
        b = generate_tickets({it.code: it for it in piped}, n_per_item=5, seed=2)
        pd.testing.assert_frame_equal(a, b)


# ------------------------------------------------------------------- content


class TestContent:
    def test_every_text_carries_its_item_signal(self):
        df = generate_tickets(ITEMS, n_per_item=60, seed=4, split="all", multi_problem_rate=0.0)
        ok = [MARK_OF[code] in text for code, text in zip(df["label"], df["text"])]
        assert all(ok)

    def test_no_second_problem_when_rate_zero(self):
        df = generate_tickets(ITEMS, n_per_item=60, seed=4, split="all", multi_problem_rate=0.0)
        n_items = df["text"].map(lambda t: sum(m in t for m in _MARKERS))
        assert (n_items == 1).all()

    def test_second_problem_when_rate_one_keeps_first_label(self):
        df = generate_tickets(ITEMS, n_per_item=60, seed=4, split="all", multi_problem_rate=1.0)
        n_items = df["text"].map(lambda t: sum(m in t for m in _MARKERS))
        assert (n_items >= 2).mean() > 0.7  # the other item is drawn from all items, itself included
        plain = df[df["template_family"] != "buried_main"]
        first = plain["text"].map(lambda t: min((t.index(m), m) for m in _MARKERS if m in t)[1])
        assert (first == plain["label"].map(MARK_OF)).all()

    def test_buried_main_problem_is_the_last_one_of_the_body(self):
        df = generate_tickets(ITEMS, n_per_item=200, seed=4, split="heldout", multi_problem_rate=1.0)
        buried = df[df["template_family"] == "buried_main"]
        assert len(buried) > 20
        body = buried["text"].str.split("\n").str[-1]
        last = body.map(lambda t: max((t.rindex(m), m) for m in _MARKERS if m in t)[1])
        assert (last == buried["label"].map(MARK_OF)).all()
        assert (body.map(lambda t: sum(m in t for m in _MARKERS)) >= 2).mean() > 0.7

    def test_scope_words_only_in_training_families(self):
        train = generate_tickets(ITEMS, n_per_item=200, seed=6, split="train")
        held = generate_tickets(ITEMS, n_per_item=200, seed=6, split="heldout")
        scope = [f"{MARK_OF[c]}范围" in t for c, t in zip(train["label"], train["text"])]
        assert 0.05 < np.mean(scope) < 0.3
        assert not held["text"].str.contains("范围").any()
        assert not train["text"].str.contains("不含").any()  # the exclusions are never said

    def test_official_name_not_always_used(self, frame):
        names = {it.code: it.name for it in ITEMS}
        with_name = [names[c] in t for c, t in zip(frame["label"], frame["text"])]
        assert 0.0 < np.mean(with_name) < 0.25

    def test_short_and_long_texts(self, frame):
        lengths = frame["text"].str.len()
        assert lengths.min() < 20
        assert lengths.max() > 90

    def test_varied_openings(self, frame):
        assert frame["text"].str[:2].nunique() >= 25

    def test_phone_numbers_and_plates_occur(self, frame):
        phone = frame["text"].str.contains(r"1[3-9]\d[- ]?\d{4}[- ]?\d{4}", regex=True)
        plate = frame["text"].str.contains(r"粤[A-Z]·?[A-Z0-9]{5}", regex=True)
        assert 0.01 < phone.mean() < 0.15
        assert plate.any()
        traffic = frame["label"] == ITEMS[1].code
        assert plate[traffic].mean() > plate[~traffic].mean()

    @pytest.mark.parametrize("seed", [0, 1, 2])
    def test_typo_changes_text_but_keeps_length(self, seed):
        s = _Stream(np.random.default_rng(seed))
        text = "您好，我已经反映过这个问题，楼下噪音很严重，请马上处理。"
        typo = _typo(s, text)
        assert typo != text
        assert len(typo) == len(text)
        diff = [i for i, (x, y) in enumerate(zip(text, typo)) if x != y]
        swapped = len(diff) == 2 and diff[1] == diff[0] + 1 and typo[diff[0]] == text[diff[1]]
        assert len(diff) == 1 or swapped


# -------------------------------------------------------- citizens' registers


def _with_law(items):
    return [SimpleNamespace(**{**vars(it), "legal_basis": f"《{MARK_OF[it.code]}管理条例》第八条；其他"})
            for it in items]


@pytest.fixture(scope="module")
def registers():
    return generate_tickets(_with_law(ITEMS), n_per_item=150, seed=8, split="all")


def _family_texts(frame, name):
    texts = frame.loc[frame["template_family"] == name, "text"]
    assert len(texts) > 10, name
    return texts


class TestRegisters:
    @pytest.mark.parametrize("name", ["official_letter", "petition"])
    def test_letters_address_an_official_and_tell_a_story(self, registers, name):
        texts = _family_texts(registers, name)
        assert texts.str.contains("尊敬的|你好|您好|同志|一封信|领导|请示").mean() > 0.95
        assert texts.str.len().median() > 2 * _family_texts(registers, "terse").str.len().median()

    @pytest.mark.parametrize("name", ["legal_question", "petition"])
    def test_regulation_quotes_name_the_item_law(self, registers, name):
        texts = _family_texts(registers, name)
        labels = registers.loc[texts.index, "label"]
        quoted = [f"《{MARK_OF[code]}管理条例》第八条" in t for code, t in zip(labels, texts)]
        assert np.mean(quoted) > 0.3

    def test_without_a_law_the_quote_stays_generic(self):
        df = generate_tickets(ITEMS, n_per_item=150, seed=8, split="train")
        texts = _family_texts(df, "legal_question")
        assert not texts.str.contains("《").any()
        assert texts.str.contains("相关法律法规|有关规定").any()

    @pytest.mark.parametrize("name", ["code_mixed", "chat"])
    def test_mixed_script_families_carry_latin_letters(self, registers, name):
        assert _family_texts(registers, name).str.contains(r"[A-Za-z]{2,}").all()

    def test_villagers_name_a_village_or_town(self, registers):
        assert _family_texts(registers, "villager").str.contains("村|镇|乡|社区|居委会").all()

    def test_title_only_texts_are_short(self, registers):
        short = _family_texts(registers, "title_only").str.len()
        assert short.median() < 20
        assert short.median() < _family_texts(registers, "polite").str.len().median() / 2

    @pytest.mark.parametrize("name", ["who_to_ask", "legal_question"])
    def test_question_families_ask(self, registers, name):
        assert _family_texts(registers, name).str.contains("？").all()

    def test_complaint_words_are_mistyped_in_some_tickets(self):
        items = [SimpleNamespace(code="01-01-001", name="井盖丢失", keywords=["井盖"], phrasings=["路上的井盖不见了"])]
        df = generate_tickets(items, n_per_item=400, seed=2, split="all", multi_problem_rate=0.0)
        typo = df["text"].str.contains("井该")
        chosen = df["template_family"].isin(_WORD_TYPO_FAMILIES)
        assert 0.1 < typo[chosen].mean() < 0.4
        assert not typo[~chosen].any()

    @pytest.mark.parametrize(("text", "expected"), [("路上的井盖不见了", "路上的井该不见了"),
                                                    ("楼下垃圾没人清", "楼下拉圾没人清"),
                                                    ("今天天气很好", "今天天气很好")])
    def test_word_typo(self, text, expected):
        assert _word_typo(_Stream(np.random.default_rng(0)), text) == expected


# --------------------------------------------------------------------- splits


class TestSplits:
    def test_a_quarter_to_a_third_of_families_held_out(self):
        assert 0.25 <= len(HELDOUT) / len(TEMPLATE_FAMILIES) <= 1 / 3
        assert len({f.name for f in TEMPLATE_FAMILIES}) == len(TEMPLATE_FAMILIES)

    @pytest.mark.parametrize("register", ["letter", "multi", "question", "mixed", "short", "spoken", "rural"])
    def test_every_citizen_register_has_a_training_family(self, register):
        assert any(f.register == register and not f.heldout for f in TEMPLATE_FAMILIES)

    @pytest.mark.parametrize("register", ["letter", "multi", "question", "mixed", "spoken"])
    def test_new_registers_have_a_held_out_family_too(self, register):
        assert any(f.register == register and f.heldout for f in TEMPLATE_FAMILIES)

    @pytest.mark.parametrize(("split", "expected"), [("train", TRAIN), ("heldout", HELDOUT),
                                                     ("all", TRAIN | HELDOUT)])
    def test_split_uses_exactly_its_families(self, split, expected):
        df = generate_tickets(ITEMS, n_per_item=80, seed=5, split=split)
        assert set(df["template_family"]) == expected

    def test_train_and_heldout_disjoint(self):
        train = generate_tickets(ITEMS, n_per_item=40, seed=5, split="train")
        held = generate_tickets(ITEMS, n_per_item=40, seed=5, split="heldout")
        assert not set(train["template_family"]) & set(held["template_family"])

    def test_family_to_dict(self):
        d = TEMPLATE_FAMILIES[0].to_dict()
        assert set(d) == {"name", "description", "heldout", "weight", "register"}


# ------------------------------------------------------------- item selection


class TestItems:
    def test_items_restricts_and_keeps_catalog_order(self):
        df = generate_tickets(ITEMS, n_per_item=3, items=[CODES[4], CODES[1]])
        assert df["label"].tolist() == [CODES[1]] * 3 + [CODES[4]] * 3

    def test_unknown_item_code(self):
        with pytest.raises(UnknownDutyError, match="99-99-999.*items"):
            generate_tickets(ITEMS, items=["99-99-999"])


# ---------------------------------------------------------------- validation


class TestValidation:
    @pytest.mark.parametrize(
        ("kwargs", "match"),
        [
            ({"split": "test"}, "split='test'"),
            ({"n_per_item": -1}, "n_per_item=-1"),
            ({"n_per_item": 2.5}, "n_per_item=2.5"),
            ({"multi_problem_rate": 1.5}, "multi_problem_rate=1.5"),
            ({"seed": -3}, "seed=-3"),
        ],
    )
    def test_bad_arguments(self, kwargs, match):
        with pytest.raises(ValueError, match=re.escape(match)):
            generate_tickets(ITEMS, **kwargs)

    def test_empty_catalog(self):
        with pytest.raises(CatalogError, match="no duty items"):
            generate_tickets([])

    def test_item_without_code(self):
        with pytest.raises(CatalogError, match="item 1.*'code'"):
            generate_tickets([ITEMS[0], SimpleNamespace(name="x")])

    def test_duplicate_code(self):
        with pytest.raises(CatalogError, match="duplicate code '01-01-001'"):
            generate_tickets([ITEMS[0], ITEMS[0]])


# --------------------------------------------------------------- iter_tickets


class TestIterTickets:
    def test_chunk_sizes_and_total(self):
        sizes = [len(c) for c in iter_tickets(ITEMS, n_total=2_500, chunk_size=1_000, seed=1)]
        assert sizes == [1_000, 1_000, 500]

    def test_ids_continue_across_chunks(self):
        chunks = list(iter_tickets(ITEMS, n_total=250, chunk_size=100, seed=9))
        ids = pd.concat(chunks)["ticket_id"].tolist()
        assert ids == [f"SYN-9-{n}" for n in range(1, 251)]

    def test_deterministic_and_all_columns(self):
        a = pd.concat(iter_tickets(ITEMS, n_total=300, chunk_size=128, seed=2), ignore_index=True)
        b = pd.concat(iter_tickets(ITEMS, n_total=300, chunk_size=128, seed=2), ignore_index=True)
        pd.testing.assert_frame_equal(a, b)
        assert tuple(a.columns) == COLUMNS
        assert a["synthetic"].all()
        assert set(a["label"]) == set(CODES)

    def test_zero_total_yields_nothing(self):
        assert list(iter_tickets(ITEMS, n_total=0)) == []

    def test_is_lazy(self):
        gen = iter_tickets(ITEMS, n_total=10**9, chunk_size=50)
        assert len(next(gen)) == 50

    @pytest.mark.parametrize("chunk_size", [0, -5])
    def test_bad_chunk_size(self, chunk_size):
        with pytest.raises(ValueError, match="chunk_size"):
            next(iter_tickets(ITEMS, n_total=10, chunk_size=chunk_size))


# --------------------------------------------------------------- write_export


ZH = ["工单编号", "提交时间", "诉求标题", "诉求内容", "区", "街道", "事项编码", "事项名称", "数据来源"]


@pytest.fixture(scope="module")
def small():
    df = generate_tickets(ITEMS, n_per_item=15, seed=8, split="all")
    # one text gbk cannot encode, to check the documented replacement
    df.loc[0, "text"] = "楼下太吵了😡请处理"
    return df


def _read(path, fmt, encoding):
    if fmt == "xlsx":
        return pd.read_excel(path, dtype=str)
    return pd.read_csv(path, encoding=encoding, dtype=str)


class TestWriteExport:
    @pytest.mark.parametrize(("fmt", "encoding"), [("csv", "utf-8-sig"), ("csv", "gb18030"), ("csv", "gbk"),
                                                   ("xlsx", "utf-8-sig")])
    def test_zh_round_trip(self, small, tmp_path, fmt, encoding):
        path = write_export(small, tmp_path / f"export.{fmt}", fmt=fmt, encoding=encoding, catalog=ITEMS)
        back = _read(path, fmt, encoding)
        assert list(back.columns) == ZH
        assert back["工单编号"].tolist() == small["ticket_id"].tolist()
        assert back["事项编码"].tolist() == small["label"].tolist()
        names = {it.code: it.name for it in ITEMS}
        assert back["事项名称"].tolist() == small["label"].map(names).tolist()
        assert (back["数据来源"] == "合成数据").all()
        times = pd.to_datetime(back["提交时间"])
        assert (times.to_numpy() == small["received_at"].dt.floor("s").to_numpy()).all()
        expected_first = "楼下太吵了?请处理" if encoding == "gbk" else "楼下太吵了😡请处理"
        assert back["诉求内容"].iloc[0] == expected_first
        texts = small["text"].tolist()
        if encoding == "gbk":  # documented: what gbk cannot encode becomes "?"
            texts = [t.encode("gbk", errors="replace").decode("gbk") for t in texts]
        assert back["诉求内容"].iloc[1:].tolist() == texts[1:]
        assert back["诉求标题"].str.len().max() <= 21

    def test_canonical_columns(self, small, tmp_path):
        path = write_export(small, tmp_path / "canon.csv", columns="canonical")
        back = pd.read_csv(path, encoding="utf-8-sig", dtype=str)
        assert tuple(back.columns) == COLUMNS
        assert back["text"].tolist() == small["text"].tolist()
        assert (back["synthetic"] == "True").all()

    def test_strict_encoding_other_than_gbk(self, small, tmp_path):
        with pytest.raises(UnicodeEncodeError):
            write_export(small, tmp_path / "x.csv", encoding="big5", catalog=ITEMS)

    def test_missing_column(self, small, tmp_path):
        with pytest.raises(TicketSchemaError, match=r"expected columns .*missing \['text'\]"):
            write_export(small.drop(columns="text"), tmp_path / "x.csv", catalog=ITEMS)

    def test_unknown_label_names_row(self, small, tmp_path):
        bad = small.copy()
        bad.loc[2, "label"] = "99-99-999"
        with pytest.raises(UnknownDutyError, match="99-99-999.*row 2"):
            write_export(bad, tmp_path / "x.csv", catalog=ITEMS)

    @pytest.mark.parametrize(("kwargs", "match"), [({"fmt": "json"}, "fmt='json'"),
                                                   ({"columns": "en"}, "columns='en'")])
    def test_bad_options(self, small, tmp_path, kwargs, match):
        with pytest.raises(ValueError, match=re.escape(match)):
            write_export(small, tmp_path / "x.csv", catalog=ITEMS, **kwargs)


# ------------------------------------------------------------ real catalog


def _bundled_catalog():
    try:
        from sujian_router import load_catalog

        return load_catalog()
    except Exception as exc:  # the catalog is built by another module; absent in early builds
        pytest.skip(f"bundled duty catalog not available yet: {type(exc).__name__}: {exc}")


def test_real_catalog_every_item_once():
    catalog = _bundled_catalog()
    codes = [it.code for it in catalog]
    df = generate_tickets(catalog, n_per_item=1, seed=0, split="all")
    assert df["label"].tolist() == codes
    assert df["synthetic"].all()
    assert df["text"].str.len().min() > 0
