"""Issue #14, rules and other (items 17-19)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import select
import textwrap
import time

import pandas as pd
import pytest
import yaml

from sujian_router import Router, load_rules, route_file
from sujian_router._cli import main
from sujian_router._rules import RuleSet
from sujian_router.exceptions import OutputFileError, RulesError


def _rule(rid, **when_then):
    return {"id": rid, "description": "测试", "priority": 50, "when": when_then.get("when", {}),
            "then": when_then.get("then", {"lead": "区城管和综合执法局"})}


def _write(path, data):
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


class TestItem17Rules:
    def test_item17_rule_on_an_unknown_item_code_is_refused_by_load_rules(self, tmp_path):
        path = _write(tmp_path / "r.yaml", {"rules": [_rule("typo", when={"items": ["08-04-030"]})]})
        with pytest.raises(RulesError, match=r"code '08-04-030' is not in the catalog"):
            load_rules(path)

    def test_item17_router_checks_explicit_rules_against_its_catalog(self, router):
        rules = RuleSet.from_dict({"rules": [_rule("typo", when={"items": ["08-04-030"]})]})
        with pytest.raises(RulesError, match=r"rule 'typo' when\.items: code '08-04-030' is not in the catalog"):
            Router(router.classifier, catalog=router.catalog, rules=rules)

    def test_item17_unknown_role_is_refused_without_a_directory(self, tmp_path):
        path = _write(tmp_path / "r.yaml", {"rules": [_rule("role", then={"lead": "派出所所"})]})
        with pytest.raises(RulesError, match=r"unknown department role '派出所所'"):
            load_rules(path)

    def test_item17_duplicated_key_is_refused(self, tmp_path):
        path = tmp_path / "r.yaml"
        path.write_text(textwrap.dedent("""\
            rules:
              - id: dup
                priority: 50
                when: {items: ["08-04-003"]}
                then: {lead: 区城管和综合执法局}
                then: {lead: 派出所}
            """), encoding="utf-8")
        with pytest.raises(RulesError, match=r"the key 'then' appears twice"):
            load_rules(path)

    def test_item17_yaml_alias_bomb_is_refused_with_a_short_message(self, tmp_path):
        lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
        for i in range(ord("b"), ord("j")):
            prev = chr(i - 1)
            lines.append(f"{chr(i)}: &{chr(i)} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]")
        path = tmp_path / "bomb.yaml"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        assert path.stat().st_size < 700
        t0 = time.perf_counter()
        with pytest.raises(RulesError, match="aliases") as info:
            load_rules(path)
        assert time.perf_counter() - t0 < 10 and len(str(info.value)) < 1000

    def test_item17_long_offending_values_are_shortened(self, catalog, tmp_path):
        path = _write(tmp_path / "r.yaml", {"rules": [_rule("long", then={"lead": "局" * 100_000})]})
        with pytest.raises(RulesError, match="unknown department role") as info:
            load_rules(path, directory=catalog.departments)
        assert len(str(info.value)) < 1000


class TestItem18SegmenterCache:
    def test_item18_planted_world_writable_cache_dirs_are_not_used(self, tmp_path, monkeypatch):
        import tempfile

        from sujian_router import _tokenize

        xdg = tmp_path / "xdg"
        planted = [xdg / "sujian-router" / "jieba", tmp_path / "tmp" / f"sujian_router_jieba_{os.getuid()}"]
        for p in planted:
            p.mkdir(parents=True)
            p.chmod(0o777)
            (p / "jieba.cache").write_bytes(b"planted")
        monkeypatch.setenv("XDG_CACHE_HOME", str(xdg))
        monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
        monkeypatch.setattr(_tokenize, "_PROCESS_CACHE", [])
        got = _tokenize._private_cache_dir()
        assert got not in {str(p) for p in planted}
        assert os.stat(got).st_mode & 0o077 == 0 and not os.path.exists(os.path.join(got, "jieba.cache"))

    def test_item18_fresh_cache_dir_is_private(self, tmp_path, monkeypatch):
        from sujian_router import _tokenize

        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
        got = _tokenize._private_cache_dir()
        assert got == str(tmp_path / "xdg" / "sujian-router" / "jieba")
        assert os.stat(got).st_mode & 0o777 == 0o700 and os.stat(got).st_uid == os.getuid()

    @pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to chown")
    def test_item18_cache_dir_owned_by_another_user_is_not_used(self, tmp_path, monkeypatch):
        from sujian_router import _tokenize

        import tempfile

        planted = [tmp_path / "xdg" / "sujian-router" / "jieba", tmp_path / "tmp" / f"sujian_router_jieba_{os.getuid()}"]
        for p in planted:
            p.mkdir(parents=True, mode=0o700)
            os.chown(p, 65534, 65534)
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
        monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
        monkeypatch.setattr(_tokenize, "_PROCESS_CACHE", [])
        assert _tokenize._private_cache_dir() not in {str(p) for p in planted}


_INTERRUPTED = textwrap.dedent("""\
    import time
    from sujian_router._classifier import _ordered_map

    def slow(state, item):
        print("busy", flush=True)
        time.sleep(60)
        return item

    print("started", flush=True)
    for _ in _ordered_map(slow, range(8), None, 2):
        pass
    """)


def _line_within(proc, seconds):
    """The child's next stdout line, or a test failure (never a hang) when none comes in time."""
    ready, _, _ = select.select([proc.stdout], [], [], seconds)
    if not ready:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail(f"the child printed nothing within {seconds} s")
    return proc.stdout.readline().strip()


class TestItem19Failures:
    def test_item19_interrupting_forked_workers_ends_promptly(self, tmp_path):
        script = tmp_path / "work.py"
        script.write_text(_INTERRUPTED, encoding="utf-8")
        # unbuffered: a line read must not pull the next one into a buffer that select() cannot see
        proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True, bufsize=0)
        try:
            assert _line_within(proc, 60) == b"started"
            # a worker says so once it runs a task: interrupt only then (a fixed sleep raced a slow fork)
            assert _line_within(proc, 60) == b"busy"
            os.killpg(proc.pid, signal.SIGINT)  # as Ctrl-C does: the whole process group
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            pytest.fail("the interrupted process did not end within 20 s")
        assert proc.returncode != 0

    def test_item19_missing_input_is_one_line(self, saved_router, tmp_path, capsys):
        rc = main(["route-file", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "o.csv"),
                   "--model", str(saved_router), "--quiet"])
        err = capsys.readouterr().err
        assert rc == 1 and "nope.csv: no such input file" in err and len(err.strip().splitlines()) == 1

    def test_item19_missing_output_folder_is_not_created(self, saved_router, heldout_tickets, tmp_path, capsys):
        src = tmp_path / "in.csv"
        heldout_tickets.head(5)[["text"]].to_csv(src, index=False)
        rc = main(["route-file", str(src), "--out", str(tmp_path / "nope" / "dir" / "o.csv"),
                   "--model", str(saved_router), "--quiet"])
        assert rc == 1 and "does not exist" in capsys.readouterr().err
        assert not (tmp_path / "nope").exists()

    def test_item19_unusable_output_is_found_before_the_model_is_loaded(self, heldout_tickets, tmp_path,
                                                                        monkeypatch):
        src = tmp_path / "in.csv"
        heldout_tickets.head(5)[["text"]].to_csv(src, index=False)
        (tmp_path / "a_file").write_text("x")
        monkeypatch.setattr(Router, "load", classmethod(lambda cls, *a, **k: pytest.fail("model loaded")))
        with pytest.raises(OutputFileError):
            route_file(src, tmp_path / "a_file" / "o.csv", router="some-model", progress=False)

    @pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes to read-only folders")
    def test_item19_read_only_output_folder_is_found_before_the_model_is_loaded(self, heldout_tickets, tmp_path,
                                                                                monkeypatch):
        src = tmp_path / "in.csv"
        heldout_tickets.head(5)[["text"]].to_csv(src, index=False)
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        monkeypatch.setattr(Router, "load", classmethod(lambda cls, *a, **k: pytest.fail("model loaded")))
        with pytest.raises(OutputFileError, match="cannot write"):
            route_file(src, ro / "o.csv", router="some-model", progress=False)

    def test_item19_full_disk_is_one_line_naming_the_file(self, saved_router, heldout_tickets, tmp_path,
                                                          monkeypatch, capsys):
        src = tmp_path / "in.csv"
        heldout_tickets.head(5)[["text"]].to_csv(src, index=False)

        def full(*a, **k):
            raise OSError(28, "No space left on device")

        monkeypatch.setattr("sujian_router._stream.write_csv", full)
        rc = main(["route-file", str(src), "--out", str(tmp_path / "o.csv"), "--model", str(saved_router), "--quiet"])
        err = capsys.readouterr().err
        assert rc == 1 and "o.csv: cannot write the output (No space left on device)" in err
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1

    def test_item19_sheet_option_is_passed(self, saved_router, tmp_path):
        import openpyxl

        path = tmp_path / "two.xlsx"
        wb = openpyxl.Workbook()
        wb.active.append(["text"])
        wb.active.append(["路灯不亮"])
        second = wb.create_sheet("第二页")
        second.append(["text"])
        for t in ("广场舞噪音", "垃圾没人清", "施工噪音"):
            second.append([t])
        wb.save(path)
        out = tmp_path / "o.csv"
        assert main(["route-file", str(path), "--out", str(out), "--model", str(saved_router), "--quiet",
                     "--sheet", "第二页"]) == 0
        assert len(pd.read_csv(out, encoding="utf-8-sig")) == 3

    @pytest.mark.parametrize("args, extra, module", [
        (["--out", "{tmp}/o.parquet"], "parquet", "pyarrow"),
        (["--out", "{tmp}/o.csv", "--engine", "dask"], "dask", "distributed"),
    ])
    def test_item19_missing_extra_is_one_line(self, saved_router, tmp_path, monkeypatch, capsys, args, extra,
                                              module):
        import importlib.util

        src = tmp_path / "in.csv"
        pd.DataFrame({"text": ["路灯不亮"]}).to_csv(src, index=False)
        real = importlib.util.find_spec
        monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == module else real(name, *a))
        rc = main(["route-file", str(src), *[a.format(tmp=tmp_path) for a in args], "--model", str(saved_router),
                   "--quiet"])
        err = capsys.readouterr().err
        assert rc == 1 and f"install sujian-router[{extra}]" in err and "Traceback" not in err

    def test_item19_broken_pipe_prints_no_traceback(self):
        code = "import sys; from sujian_router._cli import main; sys.exit(main(['catalog', 'search', '噪声', '--limit', '500']))"
        proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        proc.stdout.close()  # like `| head` leaving at once
        err = proc.stderr.read().decode()
        proc.wait(timeout=60)
        assert "Traceback" not in err and "BrokenPipeError" not in err

    def test_item19_column_hint_shows_single_braces(self, tmp_path):
        from sujian_router import read_tickets
        from sujian_router.exceptions import TicketSchemaError

        path = tmp_path / "e.csv"
        pd.DataFrame({"别的列": ["x"]}).to_csv(path, index=False)
        with pytest.raises(TicketSchemaError) as info:
            read_tickets(path)
        assert "column_mapping={export name: canonical name}" in str(info.value) and "{{" not in str(info.value)

    @pytest.mark.parametrize("context, problem", [
        ({"district": 123}, "区“123”无法识别"),
        ({"district": "福田区", "street": "粤海街道"}, "粤海街道属于南山区，而非所填的福田区"),
        ({"street": "火星街道"}, "街道“火星街道”无法识别"),
    ])
    def test_item19_bad_place_context_is_flagged(self, router, context, problem):
        d = router.route("晚上有人跳广场舞很吵", received_at="2024-06-12 22:30", **context)
        assert "invalid_context" in d.flags and d.needs_review
        assert any(problem in r for r in d.reasons)

    def test_item19_consistent_place_is_not_flagged(self, router):
        d = router.route("晚上有人跳广场舞很吵", district="南山区", street="粤海街道", received_at="2024-06-12 22:30")
        assert "invalid_context" not in d.flags
