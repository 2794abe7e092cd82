"""Load-test ``sujian-router serve`` on loopback against in-process ``Router.route``.

Not a test. Routes the same synthetic complaints (seeded) four ways in one
run: in-process ``Router.route`` from one thread and from ``--clients``
threads sharing the router, then over HTTP with
``--clients`` concurrent keep-alive clients (threads with the standard
library's ``http.client``, light enough not to hide the server's cost)
each sending ``--requests`` requests to a server started with ``--workers 1`` and with ``--workers 2``.
Everything stays on 127.0.0.1; each phase stops after ``--time-limit``
seconds whatever it has done (reported as errors), so the run is bounded.
Prints p50/p99 latency, requests per second and errors per phase::

    python benchmarks/bench_serve.py                       # default model, 16 x 500, workers 1 and 2
    python benchmarks/bench_serve.py --model models/m --clients 4 --requests 50 --json
    python benchmarks/bench_serve.py --reload        # and again with a model reload part-way through
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

DISTRICTS = ("福田区", "南山区", "坪山区", "龙岗区", "宝安区")


def _texts(n, seed):
    import sujian_router

    catalog = sujian_router.load_catalog()
    items = [it.code for it in catalog.items][::9]
    df = sujian_router.generate_tickets(catalog, n_per_item=1, seed=seed, split="heldout", items=items)
    return df["text"].tolist()[:n]


def _bodies(texts):
    return [{"text": t, "district": DISTRICTS[i % len(DISTRICTS)], "received_at": "2024-06-12 10:00"}
            for i, t in enumerate(texts)]


def _summary(name, latencies, errors, seconds):
    lat = sorted(latencies)
    pct = (lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000) if lat else (lambda q: float("nan"))
    return {"mode": name, "requests": len(lat), "errors": errors, "p50_ms": round(pct(0.50), 2),
            "p99_ms": round(pct(0.99), 2), "req_per_s": round(len(lat) / seconds, 1) if seconds else 0.0,
            "seconds": round(seconds, 1)}


def _route_loop(router, bodies, offset, count, deadline, latencies):
    for i in range(count):
        if time.perf_counter() > deadline:
            break
        b = bodies[(offset + i) % len(bodies)]
        t0 = time.perf_counter()
        router.route(b["text"], district=b["district"], received_at=b["received_at"])
        latencies.append(time.perf_counter() - t0)


def bench_in_process(model, bodies, clients, requests, time_limit):
    """Router.route without HTTP: one thread doing every call, then ``clients`` threads sharing one router."""
    import threading

    from sujian_router import Router

    router = Router.load(model, progress=False)
    _route_loop(router, bodies, 0, 20, time.perf_counter() + 60, [])  # warm-up
    total, rows = clients * requests, []
    for n_threads in (1, clients):
        latencies, start = [], time.perf_counter()
        per_thread = total // n_threads
        threads = [threading.Thread(target=_route_loop, args=(router, bodies, t * per_thread, per_thread,
                                                               start + time_limit, latencies))
                   for t in range(n_threads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        rows.append(_summary(f"in-process Router.route ({n_threads} thread{'s' if n_threads > 1 else ''})",
                             latencies, total - len(latencies), time.perf_counter() - start))
    return rows


def _client(port, bodies, offset, count, deadline, latencies, errors):
    """One keep-alive connection sending ``count`` routes (stdlib http.client: a light client)."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Content-Type": "application/json"}
    for i in range(count):
        if time.perf_counter() > deadline:
            errors.append("time limit")
            continue
        payload = json.dumps(bodies[(offset + i) % len(bodies)], ensure_ascii=False).encode()
        t0 = time.perf_counter()
        try:
            conn.request("POST", "/v1/route", body=payload, headers=headers)
            r = conn.getresponse()
            data = r.read()
            if r.status != 200 or b'"item_code"' not in data:
                errors.append(f"HTTP {r.status}")
                continue
        except (OSError, http.client.HTTPException) as exc:  # counted, and the first ones are printed
            errors.append(repr(exc))
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            continue
        latencies.append(time.perf_counter() - t0)
    conn.close()


def _reload_when(port, latencies, at, outcome):
    """Once ``at`` requests are answered, ask the server to reload its model (the answer goes to ``outcome``)."""
    import http.client

    deadline = time.perf_counter() + 600
    while len(latencies) < at and time.perf_counter() < deadline:
        time.sleep(0.05)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    conn.request("POST", "/admin/reload", body=b"{}", headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    outcome.append(f"{r.status} {json.loads(r.read()).get('status')}")
    conn.close()


def _load(port, bodies, clients, requests, time_limit, reload_at=None):
    """``clients`` threads, one connection each, all started together; optionally a reload part-way."""
    import threading

    warm, latencies, errors, reloads = [], [], [], []
    _client(port, bodies, 0, 20, time.perf_counter() + 60, warm, errors)  # warm-up, not counted
    start = time.perf_counter()
    deadline = start + time_limit
    threads = [threading.Thread(target=_client, args=(port, bodies, c * requests, requests, deadline,
                                                      latencies, errors)) for c in range(clients)]
    if reload_at:
        threads.append(threading.Thread(target=_reload_when, args=(port, latencies, reload_at, reloads)))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, errors, time.perf_counter() - start, reloads


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker_pids(port, workers, timeout):
    """The pids of the workers answering /readyz (new connections, so each worker gets asked in turn)."""
    import http.client

    deadline, pids = time.monotonic() + timeout, set()
    while time.monotonic() < deadline and len(pids) < workers:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/readyz")
            r = conn.getresponse()
            body = r.read()
            conn.close()
            if r.status == 200:
                pids.add(json.loads(body)["pid"])
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.1)
    return pids


def _start_server(model, workers, port):
    cmd = [sys.executable, "-c", "import sys; from sujian_router._cli import main; sys.exit(main())",
           "serve", "--port", str(port), "--workers", str(workers), "--log-level", "warning"]
    if model:
        cmd += ["--model", str(model)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pids = _worker_pids(port, workers, 300)
    if len(pids) < workers:
        proc.kill()
        raise SystemExit(f"{workers - len(pids)} worker(s) not ready within 300 s (exit code {proc.poll()})")
    return proc, pids


def bench_http(model, bodies, workers, clients, requests, time_limit, reload=False):
    """Start the real command, let ``clients`` keep-alive clients each send ``requests`` routes.

    With ``reload``, ``POST /admin/reload`` is sent once 5% of the requests are answered, so
    the phase also shows whether replacing the model (or, with several workers, the workers) loses any.
    """
    port = _free_port()
    proc, first_pids = _start_server(model, workers, port)
    reload_at = clients * requests // 20 if reload else None
    try:
        latencies, errors, seconds, reloads = _load(port, bodies, clients, requests, time_limit, reload_at)
        last_pids = _worker_pids(port, workers, 10) if reload and workers > 1 else first_pids
    finally:
        proc.terminate()
        proc.wait(30)
    for e in errors[:3]:
        print(f"  error: {e}", file=sys.stderr)
    name = f"HTTP --workers {workers} ({clients} clients)" + (" + reload" if reload else "")
    row = _summary(name, latencies, len(errors), seconds)
    if reload:
        row["reload"] = reloads[0] if reloads else "not sent"
        if workers > 1:
            row["reload"] += f", {len(last_pids - first_pids)} of {workers} workers replaced by the end"
    return row


def _print(rows, header):
    print(header)
    print(f"{'mode':<40} {'requests':>8} {'errors':>6} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8}")
    for r in rows:
        print(f"{r['mode']:<40} {r['requests']:>8} {r['errors']:>6} {r['p50_ms']:>8} {r['p99_ms']:>8} "
              f"{r['req_per_s']:>8}" + (f"  reload: {r['reload']}" if "reload" in r else ""))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=None, help="model directory (default: the bundled default model)")
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--requests", type=int, default=500, help="requests per client")
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--texts", type=int, default=500, help="distinct synthetic complaints cycled through")
    p.add_argument("--time-limit", type=float, default=600.0, help="seconds per phase at most")
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--reload", action="store_true",
                   help="also run each HTTP phase again with POST /admin/reload once 5%% of its requests are answered")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    if args.model is None:
        from sujian_router._default_model import ensure_default_model

        args.model = str(ensure_default_model(progress=True))
    bodies = _bodies(_texts(args.texts, args.seed))
    total = args.clients * args.requests
    rows = bench_in_process(args.model, bodies, args.clients, args.requests, args.time_limit)
    for w in args.workers:
        rows.append(bench_http(args.model, bodies, w, args.clients, args.requests, args.time_limit))
        if args.reload:
            rows.append(bench_http(args.model, bodies, w, args.clients, args.requests, args.time_limit, True))
    header = (f"model {Path(args.model).name}, {len(bodies)} distinct texts, {total} requests per phase, "
              f"{os.cpu_count()} CPUs, load average at end {os.getloadavg()[0]:.1f}")
    if args.json:
        print(json.dumps({"header": header, "rows": rows}, ensure_ascii=False, indent=2))
    else:
        _print(rows, header)
    return 1 if any(r["errors"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
