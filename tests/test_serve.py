"""The HTTP service, spoken to over real HTTP on 127.0.0.1 (a random free port).

Servers run in a thread (uvicorn.Server) except where the command line itself
(logging set-up, SIGHUP) is under test; all serve the small fixture model.
"""

from __future__ import annotations

import dataclasses
import shutil
import signal
import threading
import time
from dataclasses import fields

import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed: pip install 'sujian-router[serve]'")
pytest.importorskip("uvicorn", reason="the serve extra is not installed: pip install 'sujian-router[serve]'")
pytest.importorskip("prometheus_client", reason="the serve extra is not installed: pip install 'sujian-router[serve]'")
pytest.importorskip("httpx", reason="the test extra is not installed: pip install 'sujian-router[test]'")

from serve_harness import CliServer, ThreadServer, wait_for  # noqa: E402

from sujian_router import Router, RoutingDecision  # noqa: E402
from sujian_router.service import ServiceSettings, create_app  # noqa: E402

PINGSHAN = "晚上10点后经常有人在坪联路过河大桥下跳广场舞，噪声比较大，影响了我的休息。"
SEED = {"text": PINGSHAN, "district": "坪山区", "street": "坪山街道", "received_at": "2024-06-12 22:30"}
KEY = "k-7f3a9c1e-test-only"
HASHED_KEY = "another-test-key-42"
#: Complaint texts that must never reach a log line.
SECRET_TEXTS = (PINGSHAN, "楼上住户每天半夜拖动家具，吵得孩子睡不着觉")


@pytest.fixture(scope="module")
def model_b(router, tmp_path_factory):
    """The fixture model with a different review threshold: same items, every answer needs review."""
    variant = Router(router.classifier, catalog=router.catalog, review_threshold=0.999,
                     metadata={**router.metadata, "variant": "b"})
    return variant.save(tmp_path_factory.mktemp("model_b") / "model-b")


@pytest.fixture(scope="module")
def broken_model(saved_router, tmp_path_factory):
    path = tmp_path_factory.mktemp("broken") / "broken-model"
    shutil.copytree(saved_router, path)
    arrays = path / "arrays.npz"
    arrays.write_bytes(arrays.read_bytes()[:1000])
    return path


@pytest.fixture(scope="module")
def key_file(tmp_path_factory):
    from sujian_router._service._settings import ApiKeys

    path = tmp_path_factory.mktemp("keys") / "keys.txt"
    path.write_text(f"# service keys\n{KEY}\nsha256:{ApiKeys.digest(HASHED_KEY)}\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def server(saved_router):
    app = create_app(ServiceSettings(model=str(saved_router), max_body_bytes=64 * 1024, max_batch=50))
    with ThreadServer(app) as srv:
        srv.wait_ready()
        yield srv


@pytest.fixture(scope="module")
def http(server):
    with server.client() as client:
        yield client


@pytest.fixture(scope="module")
def keyed_server(saved_router, key_file):
    app = create_app(ServiceSettings(model=str(saved_router), api_key_file=str(key_file)))
    with ThreadServer(app) as srv:
        srv.wait_ready()
        yield srv


def _comparable(d: dict) -> tuple:
    return d["item_code"], d["lead_department"], tuple(d["co_departments"]), tuple(d["flags"])


class TestRouteOne:
    def test_seed_case_is_routed_with_every_decision_field_and_the_model(self, http, router):
        r = http.post("/v1/route", json=SEED)
        assert r.status_code == 200, r.text
        body = r.json()
        expected = router.route(PINGSHAN, district="坪山区", street="坪山街道", received_at="2024-06-12 22:30")
        assert set(f.name for f in fields(RoutingDecision)) <= set(body)
        assert body["category"] == "噪声污染"
        assert _comparable(body) == _comparable(expected.to_dict())
        assert "坪山派出所" in body["departments"]
        assert body["dispatch_deadline"] == "2024-06-13T00:30"
        assert set(body["model"]) == {"name", "version", "catalog_version"}
        assert body["model"]["name"] == "fixture-model"
        assert r.headers["x-request-id"]

    def test_request_id_given_by_the_client_is_echoed(self, http):
        r = http.post("/v1/route", json={"text": "噪音扰民"}, headers={"X-Request-ID": "intake-42"})
        assert r.headers["x-request-id"] == "intake-42"

    def test_empty_text_gives_a_flagged_decision_not_an_error(self, http):
        body = http.post("/v1/route", json={"text": "   "}).json()
        assert body["item_code"] is None and body["needs_review"] is True
        assert "empty_text" in body["flags"]

    @pytest.mark.parametrize("when, local", [("2024-06-12T14:30:00Z", "2024-06-12T22:30"),
                                             ("2024-06-12T22:30:00+08:00", "2024-06-12T22:30"),
                                             ("2024-06-12 22:30", "2024-06-12T22:30")])
    def test_times_with_a_zone_are_converted_to_shenzhen_time(self, http, when, local):
        body = http.post("/v1/route", json={"text": "噪音扰民", "received_at": when}).json()
        assert body["received_at"] == local and "invalid_ticket" not in body["flags"]

    def test_time_at_the_end_of_the_calendar_is_flagged_not_a_crash(self, http):
        r = http.post("/v1/route", json={"text": "噪音扰民", "received_at": "9999-12-31T23:59:00"})
        assert r.status_code == 200
        body = r.json()
        assert body["needs_review"] and "invalid_ticket" in body["flags"]
        assert body["errors"][0]["field"] == "received_at"

    @pytest.mark.parametrize("payload, field", [
        ({}, "text"),
        ({"district": "福田区"}, "text"),
        ({"text": 42}, "text"),
        ({"text": "噪音", "top_k": "5"}, "top_k"),
        ({"text": "噪音", "top_k": 0}, "top_k"),
        ({"text": "噪音", "district": ["福田区"]}, "district"),
        ({"text": "噪音", "received_at": "yesterday evening"}, "received_at"),
        ({"text": "噪音", "received_at": "2024/06/12 22:30"}, "received_at"),
        ({"text": "噪音", "colour": "red"}, "colour"),
    ])
    def test_bad_body_is_422_naming_the_field(self, http, payload, field):
        r = http.post("/v1/route", json=payload)
        assert r.status_code == 422
        err = r.json()["error"]
        assert err["field"] == field and err["message"].startswith(field)
        assert "Traceback" not in r.text

    @pytest.mark.parametrize("content, code", [(b"{not json", "invalid_json"), (b"[1, 2]", "invalid_request"),
                                               (b"", "invalid_request")])
    def test_unreadable_body_is_422_json(self, http, content, code):
        r = http.post("/v1/route", content=content, headers={"Content-Type": "application/json"})
        assert r.status_code == 422
        assert r.json()["error"]["code"] == code


class _ExplodingRouter:
    """Stands in for a router with a bug: every call raises with the complaint in the message."""

    catalog = None

    def route(self, text, **kwargs):
        raise RuntimeError(f"bug while routing {text}")


class TestUnexpectedErrors:
    def test_a_bug_gives_a_json_500_without_traceback_or_text(self, caplog):
        from sujian_router._service._state import LoadedModel

        def loader(path):
            return LoadedModel(router=_ExplodingRouter(), name="boom", version="0", catalog_version=None)

        with ThreadServer(create_app(ServiceSettings(), loader=loader)) as srv:
            srv.wait_ready()
            with srv.client() as c:
                r = c.post("/v1/route", json={"text": SECRET_TEXTS[1]}, headers={"X-Request-ID": "crash-1"})
        assert r.status_code == 500
        assert r.json() == {"error": {"code": "internal_error", "message": "internal error (request id crash-1)"}}
        assert "Traceback" not in r.text and SECRET_TEXTS[1] not in r.text
        ours = [rec.getMessage() for rec in caplog.records if rec.name.startswith("sujian_router")]
        assert any("crash-1" in m for m in ours) and not any(SECRET_TEXTS[1] in m for m in ours)


class TestBatch:
    def test_one_decision_per_ticket_in_order_with_bad_tickets_flagged(self, http, router):
        texts = [PINGSHAN, "小区门口餐馆油烟很大", "工地晚上十二点还在打桩", "路灯坏了一个月没人修", "楼上漏水到我家"]
        tickets = [{"text": t, "district": "福田区", "received_at": "2024-06-12 10:00"} for t in texts]
        tickets.insert(2, {"text": 123, "district": "福田区"})
        tickets.insert(4, "not a ticket")
        r = http.post("/v1/route/batch", json={"tickets": tickets})
        assert r.status_code == 200, r.text
        decisions = r.json()["decisions"]
        assert len(decisions) == len(tickets)
        expected = router.route_many(texts, district="福田区", received_at="2024-06-12 10:00")
        good = [d for i, d in enumerate(decisions) if i not in (2, 4)]
        assert [_comparable(d) for d in good] == [_comparable(e.to_dict()) for e in expected]
        for i in (2, 4):
            assert decisions[i]["needs_review"] and "invalid_ticket" in decisions[i]["flags"]
            assert decisions[i]["errors"][0]["field"].startswith(f"tickets[{i}]")
        assert decisions[2]["errors"][0]["field"] == "tickets[2].text"

    def test_a_bad_ticket_keeps_its_valid_fields(self, http):
        tickets = [{"text": PINGSHAN, "district": "坪山区", "street": "坪山街道", "top_k": "two"}]
        d = http.post("/v1/route/batch", json={"tickets": tickets}).json()["decisions"][0]
        assert d["category"] == "噪声污染" and "坪山派出所" in d["departments"]
        assert [e["field"] for e in d["errors"]] == ["tickets[0].top_k"] and d["needs_review"]

    def test_a_ticket_with_its_own_top_k_keeps_it(self, http):
        tickets = [{"text": "噪音扰民", "top_k": 1}, {"text": "噪音扰民", "top_k": 4}, {"text": "噪音扰民"}]
        decisions = http.post("/v1/route/batch", json={"tickets": tickets}).json()["decisions"]
        assert [len(d["candidates"]) for d in decisions] == [1, 4, 5]

    def test_empty_batch_gives_no_decisions(self, http):
        assert http.post("/v1/route/batch", json={"tickets": []}).json() == {"decisions": []}

    def test_tickets_not_a_list_is_422(self, http):
        r = http.post("/v1/route/batch", json={"tickets": {"text": "噪音"}})
        assert r.status_code == 422 and r.json()["error"]["field"] == "tickets"


class TestLimits:
    def test_the_schema_publishes_the_configured_batch_limit(self, http):
        schema = http.get("/openapi.json").json()
        assert schema["components"]["schemas"]["BatchRequest"]["properties"]["tickets"]["maxItems"] == 50

    def test_more_tickets_than_allowed_is_413(self, http):
        r = http.post("/v1/route/batch", json={"tickets": [{"text": "噪音"}] * 51})
        assert r.status_code == 413
        assert r.json()["error"] == {"code": "too_many_tickets", "field": "tickets",
                                     "message": "tickets: 51 sent, at most 50 per batch"}

    def test_body_over_the_size_limit_is_413(self, http):
        r = http.post("/v1/route", json={"text": "噪" * 40_000})
        assert r.status_code == 413 and r.json()["error"]["code"] == "too_large"

    def test_chunked_body_over_the_limit_is_413(self, http):
        def chunks():
            yield b'{"text": "'
            for _ in range(100):
                yield b"x" * 1024
            yield b'"}'

        r = http.post("/v1/route", content=chunks(), headers={"Content-Type": "application/json"})
        assert r.status_code == 413

    def test_body_just_under_the_limit_is_served(self, http):
        r = http.post("/v1/route", json={"text": "噪" * 20_000})
        assert r.status_code == 200 and "truncated" in r.json()["flags"]


class TestLookups:
    def test_item_by_code(self, http, catalog):
        code = catalog.items[0].code
        r = http.get(f"/v1/items/{code}")
        assert r.status_code == 200 and r.json() == catalog.get(code).to_dict()

    def test_unknown_item_is_404_naming_the_code(self, http):
        r = http.get("/v1/items/99-99-999")
        assert r.status_code == 404
        assert r.json()["error"]["field"] == "code" and "99-99-999" in r.json()["error"]["message"]

    def test_catalog_search(self, http, catalog):
        r = http.get("/v1/catalog/search", params={"q": "广场舞", "limit": 3})
        results = r.json()["results"]
        assert 1 <= len(results) <= 3
        assert [x["item"]["code"] for x in results] == [it.code for it, _ in catalog.search("广场舞", limit=3)]

    def test_unit_resolution(self, http):
        r = http.get("/v1/units/resolve", params={"role": "派出所", "street": "坪山街道"})
        assert r.json()["name"] == "坪山派出所" and r.json()["exact"] is True

    def test_unknown_role_is_404(self, http):
        r = http.get("/v1/units/resolve", params={"role": "不存在的部门"})
        assert r.status_code == 404 and r.json()["error"]["field"] == "role"

    def test_unknown_path_is_json_404(self, http):
        r = http.get("/v2/nothing")
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


class TestAuth:
    @pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": KEY},
                                         {"Authorization": f"Basic {KEY}"}, {"Authorization": "Bearer"}])
    @pytest.mark.parametrize("method, path", [("post", "/v1/route"), ("get", "/v1/items/08-04-003"),
                                              ("post", "/admin/reload")])
    def test_protected_paths_need_a_key(self, keyed_server, headers, method, path):
        with keyed_server.client() as c:
            r = c.request(method.upper(), path, json={"text": "噪音"} if method == "post" else None, headers=headers)
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "unauthorized"
        assert r.headers["www-authenticate"] == "Bearer"

    def test_unauthenticated_bad_body_is_401_not_422(self, keyed_server):
        with keyed_server.client() as c:
            r = c.post("/v1/route", content=b"{broken", headers={"Content-Type": "application/json"})
        assert r.status_code == 401

    @pytest.mark.parametrize("key", [KEY, HASHED_KEY])
    def test_plain_and_hashed_keys_are_accepted(self, keyed_server, key):
        with keyed_server.client(headers={"Authorization": f"Bearer {key}"}) as c:
            assert c.post("/v1/route", json={"text": "噪音扰民"}).status_code == 200

    @pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics", "/openapi.json"])
    def test_health_metrics_and_schema_stay_open(self, keyed_server, path):
        with keyed_server.client() as c:
            assert c.get(path).status_code == 200

    def test_empty_key_file_is_refused_at_start(self, tmp_path):
        from sujian_router import ServiceConfigError

        empty = tmp_path / "keys.txt"
        empty.write_text("# no keys yet\n", encoding="utf-8")
        with pytest.raises(ServiceConfigError, match="no API keys found"):
            create_app(ServiceSettings(api_key_file=str(empty)))


class TestLogs:
    def test_no_complaint_text_and_no_key_in_logs(self, keyed_server, caplog):
        caplog.set_level("DEBUG")
        with keyed_server.client(headers={"Authorization": f"Bearer {KEY}"}) as c:
            c.post("/v1/route", json={"text": SECRET_TEXTS[0], "district": "坪山区"})
            c.post("/v1/route/batch", json={"tickets": [{"text": t} for t in SECRET_TEXTS] + [{"text": 1}]})
            c.get("/v1/catalog/search", params={"q": SECRET_TEXTS[1]})
            c.post("/v1/route", json={"text": SECRET_TEXTS[1], "received_at": "bad time"})
        with keyed_server.client(headers={"Authorization": "Bearer " + KEY[::-1]}) as c:
            c.post("/v1/route", json={"text": SECRET_TEXTS[0]})
            c.get(f"/v1/{SECRET_TEXTS[1]}")

        def access_lines():  # a line is written just after its answer is sent: wait for the last one
            return [r for r in caplog.records if r.name == "sujian_router.service.access"
                    and '"route": "/readyz"' not in r.getMessage()]

        wait_for(lambda: len(access_lines()) >= 6, 10, "the access lines")
        access = access_lines()
        assert len(access) == 6, "one access line per request"
        text = "\n".join(r.getMessage() for r in caplog.records)
        assert '"status": 401' in access[-1].getMessage() and '"latency_ms"' in access[-1].getMessage()
        for secret in (*SECRET_TEXTS, "半夜拖动家具", KEY, KEY[::-1], HASHED_KEY):
            assert secret not in text


    def test_json_log_lines_name_an_exception_by_type_only(self):
        import json
        import logging
        import sys

        from sujian_router._service._logging import JsonFormatter

        try:
            raise RuntimeError(f"bug while routing {SECRET_TEXTS[0]}")
        except RuntimeError:
            record = logging.LogRecord("uvicorn.error", logging.ERROR, __file__, 1, "Exception in ASGI application",
                                       None, sys.exc_info())
        line = JsonFormatter().format(record)
        assert json.loads(line)["exception"] == "RuntimeError"
        assert SECRET_TEXTS[0] not in line and "Traceback" not in line


def _metrics_with(http, needle):
    """The /metrics text once it holds ``needle`` (a request is counted just after its answer is sent)."""
    def probe():
        text = http.get("/metrics").text
        return text if needle in text else None

    return wait_for(probe, 10, f"{needle} in /metrics")


class TestMetrics:
    def test_metrics_count_requests_decisions_and_name_the_model(self, http):
        http.post("/v1/route", json=SEED)
        info = http.get("/readyz").json()["model"]
        text = _metrics_with(http, 'sujian_http_requests_total{method="POST",route="/v1/route",status="200"}')
        assert 'sujian_http_request_duration_seconds_bucket{le="0.1",route="/v1/route"}' in text
        assert 'sujian_decisions_total{category="噪声污染",tier=' in text
        assert f'version="{info["version"]}"' in text and "sujian_model_ready 1.0" in text

    def test_path_parameters_do_not_become_labels(self, http):
        http.get("/v1/items/08-04-003")
        text = _metrics_with(http, 'route="/v1/items/{code}"')
        assert "08-04-003" not in text


class _GatedLoader:
    """Loads real model directories, but each load waits until the test opens the gate."""

    def __init__(self):
        self.gate = threading.Event()
        self.calls = 0

    def __call__(self, path):
        from sujian_router._service._state import load_model

        self.calls += 1
        assert self.gate.wait(30), "the test never opened the gate"
        return load_model(path)


class TestReadiness:
    def test_not_ready_while_loading_then_ready(self, saved_router):
        loader = _GatedLoader()
        with ThreadServer(create_app(ServiceSettings(model=str(saved_router)), loader=loader)) as srv:
            with srv.client() as c:
                assert c.get("/healthz").status_code == 200
                r = c.get("/readyz")
                assert r.status_code == 503 and r.json()["status"] == "loading"
                r = c.post("/v1/route", json={"text": "噪音"})
                assert r.status_code == 503 and r.json()["error"]["code"] == "not_ready"
                assert r.headers["retry-after"]
                loader.gate.set()
                srv.wait_ready(30)
                assert c.post("/v1/route", json={"text": "噪音"}).status_code == 200

    def test_not_ready_while_reloading_but_still_serving(self, saved_router, model_b):
        loader = _GatedLoader()
        loader.gate.set()
        with ThreadServer(create_app(ServiceSettings(model=str(saved_router)), loader=loader)) as srv:
            srv.wait_ready()
            loader.gate.clear()
            with srv.client() as c:
                pending = threading.Thread(target=c.post, args=("/admin/reload",),
                                           kwargs={"json": {"model": str(model_b)}})
                pending.start()
                wait_for(lambda: loader.calls == 2, 10, "the reload to start")
                assert c.get("/readyz").json()["status"] == "reloading"
                assert c.get("/readyz").status_code == 503
                assert c.post("/v1/route", json={"text": "噪音"}).json()["model"]["name"] == "fixture-model"
                busy = c.post("/admin/reload", json={"model": str(model_b)})
                assert busy.status_code == 409 and busy.json()["error"]["code"] == "reload_in_progress"
                loader.gate.set()
                pending.join(30)
                assert c.get("/readyz").json()["model"]["name"] == "model-b"


class TestReload:
    def test_reload_under_traffic_loses_no_request_and_switches_model(self, saved_router, model_b, broken_model):
        with ThreadServer(create_app(ServiceSettings(model=str(saved_router)))) as srv:
            srv.wait_ready()
            traffic = _Traffic(srv, clients=4)
            traffic.start()
            traffic.wait_for_answers(20)
            with srv.client() as c:
                r = c.post("/admin/reload", json={"model": str(model_b)})
                swapped_at = time.monotonic()
                assert r.status_code == 200 and r.json()["model"]["name"] == "model-b"
                traffic.wait_for_answers(traffic.count() + 20)
                refused = c.post("/admin/reload", json={"model": str(broken_model)})
                traffic.wait_for_answers(traffic.count() + 20)
            traffic.stop()
        assert traffic.failures == []
        assert refused.status_code == 422 and refused.json()["error"]["code"] == "model_refused"
        assert traffic.answers[0].model == "fixture-model"
        # Completion order says nothing about which model a request met (a slow request that started before
        # the swap may answer after later ones), so judge each request by when it was sent.
        after = [a for a in traffic.answers if a.sent_at > swapped_at]
        assert len(after) >= 20
        assert {a.model for a in after} == {"model-b"}, "every request sent after the swap used the new model"
        assert all(a.needs_review for a in after), "model b sends everything to review"


@dataclasses.dataclass(frozen=True)
class _Answer:
    model: str
    needs_review: bool
    sent_at: float


class _Traffic:
    """Client threads posting complaints in a loop, recording which model answered."""

    def __init__(self, server, clients):
        self.server, self.clients = server, clients
        self.answers, self.failures = [], []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(clients)]

    def _run(self):
        with self.server.client() as c:
            while not self._stop.is_set():
                try:
                    sent_at = time.monotonic()
                    r = c.post("/v1/route", json=SEED)
                    if r.status_code != 200:
                        raise AssertionError(f"{r.status_code}: {r.text[:200]}")
                    body = r.json()
                    with self._lock:
                        self.answers.append(_Answer(body["model"]["name"], body["needs_review"], sent_at))
                except Exception as exc:  # noqa: BLE001 - every failure is recorded and asserted on
                    with self._lock:
                        self.failures.append(repr(exc))

    def start(self):
        for t in self._threads:
            t.start()

    def count(self):
        with self._lock:
            return len(self.answers)

    def wait_for_answers(self, n):
        wait_for(lambda: self.count() >= n or self.failures, 30, f"{n} answers")

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(30)


class TestCommandLine:
    def test_serve_is_listed_and_has_help(self, capsys):
        from sujian_router._cli import main

        with pytest.raises(SystemExit) as exc:
            main(["serve", "--help"])
        assert exc.value.code == 0
        out = capsys.readouterr().out
        assert "--api-key-file" in out and "--workers" in out and "--max-body-bytes" in out

    def test_importing_the_service_module_loads_no_web_stack(self):
        import subprocess
        import sys

        code = ("import sys, sujian_router.service as s; "
                "assert not {'fastapi', 'uvicorn', 'prometheus_client'} & set(sys.modules); print(s.INSTALL_HINT)")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == "install sujian-router[serve]"

    def test_serve_without_the_extra_prints_one_line(self, monkeypatch, capsys):
        import sys

        from sujian_router._cli import main

        monkeypatch.setitem(sys.modules, "fastapi", None)
        assert main(["serve"]) == 1
        assert capsys.readouterr().err == "install sujian-router[serve]\n"

    def test_missing_model_directory_is_one_clear_error(self, tmp_path, capsys):
        from sujian_router._cli import main

        assert main(["serve", "--model", str(tmp_path / "nope")]) == 1
        assert "--model" in capsys.readouterr().err

    def test_real_command_serves_logs_json_and_reloads_on_sighup(self, saved_router, model_b, key_file, tmp_path):
        import json

        served = tmp_path / "served-model"
        shutil.copytree(saved_router, served)
        args = ["--model", str(served), "--api-key-file", str(key_file)]
        with CliServer(args, tmp_path / "serve.log") as srv:
            srv.wait_ready()
            with srv.client(headers={"Authorization": f"Bearer {KEY}"}) as c:
                first = c.post("/v1/route", json=SEED).json()
                assert first["category"] == "噪声污染" and first["needs_review"] is False
                for name in ("arrays.npz", "metadata.json", "MODEL_CARD.md", "manifest.json"):
                    shutil.copyfile(model_b / name, served / name)
                srv.proc.send_signal(signal.SIGHUP)
                wait_for(lambda: c.post("/v1/route", json=SEED).json()["model"]["version"]
                         != first["model"]["version"], 30, "the SIGHUP reload")
                assert c.post("/v1/route", json=SEED).json()["needs_review"] is True
            logs = srv.logs()
        lines = [json.loads(line) for line in logs.splitlines() if line.strip()]
        access = [x for x in lines if x.get("event") == "access"]
        assert access and {"request_id", "latency_ms", "status", "path"} <= set(access[0])
        assert any("model reloaded" in x.get("message", "") for x in lines)
        assert PINGSHAN not in logs and KEY not in logs
