"""Load-test ``sujian-router serve`` on loopback against in-process ``Router.route``.

Not a test. Routes the same synthetic complaints (seeded) three ways in one
run: in-process ``Router.route`` one after another, then over HTTP with
``--clients`` concurrent keep-alive clients each sending ``--requests``
requests to a server started with ``--workers 1`` and with ``--workers 2``.
Everything stays on 127.0.0.1; each phase stops after ``--time-limit``
seconds whatever it has done (reported as errors), so the run is bounded.
Prints p50/p99 latency, requests per second and errors per phase::

    python benchmarks/bench_serve.py                       # default model, 16 x 500, workers 1 and 2
    python benchmarks/bench_serve.py --model models/m --clients 4 --requests 50 --json
"""

from __future__ import annotations

import argparse
import asyncio
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


def bench_in_process(model, bodies, n, time_limit):
    """Sequential Router.route calls: the cost of embedding Python, without HTTP."""
    from sujian_router import Router

    router = Router.load(model, progress=False)
    for b in bodies[:20]:  # warm-up
        router.route(b["text"], district=b["district"], received_at=b["received_at"])
    latencies, start = [], time.perf_counter()
    for i in range(n):
        if time.perf_counter() - start > time_limit:
            break
        b = bodies[i % len(bodies)]
        t0 = time.perf_counter()
        router.route(b["text"], district=b["district"], received_at=b["received_at"])
        latencies.append(time.perf_counter() - t0)
    return _summary("in-process Router.route (1 thread)", latencies, n - len(latencies), time.perf_counter() - start)


async def _client(http, bodies, offset, count, deadline, latencies, errors):
    for i in range(count):
        if time.perf_counter() > deadline:
            errors.append("time limit")
            continue
        t0 = time.perf_counter()
        try:
            r = await http.post("/v1/route", json=bodies[(offset + i) % len(bodies)])
            if r.status_code != 200 or "item_code" not in r.json():
                errors.append(f"HTTP {r.status_code}")
                continue
        except Exception as exc:  # noqa: BLE001 - counted, and the first ones are printed
            errors.append(repr(exc))
            continue
        latencies.append(time.perf_counter() - t0)


async def _load(url, bodies, clients, requests, time_limit):
    import httpx

    latencies, errors = [], []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as http:
        for b in bodies[:20]:  # warm-up, not counted
            await http.post("/v1/route", json=b)
        start = time.perf_counter()
        deadline = start + time_limit
        await asyncio.gather(*(_client(http, bodies, c * requests, requests, deadline, latencies, errors)
                               for c in range(clients)))
    return latencies, errors, time.perf_counter() - start


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_server(model, workers, port):
    cmd = [sys.executable, "-c", "import sys; from sujian_router._cli import main; sys.exit(main())",
           "serve", "--port", str(port), "--workers", str(workers), "--log-level", "warning"]
    if model:
        cmd += ["--model", str(model)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import httpx

    deadline, ready_pids = time.monotonic() + 300, set()
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:  # a new connection each time, so every worker gets asked in turn
            r = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
            if r.status_code == 200:
                ready_pids.add(r.json()["pid"])
        except httpx.TransportError:
            pass
        if len(ready_pids) >= workers:
            return proc
        time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"{workers - len(ready_pids)} worker(s) not ready within 300 s")


def bench_http(model, bodies, workers, clients, requests, time_limit):
    """Start the real command, let ``clients`` keep-alive clients each send ``requests`` routes."""
    port = _free_port()
    proc = _start_server(model, workers, port)
    try:
        latencies, errors, seconds = asyncio.run(_load(f"http://127.0.0.1:{port}", bodies, clients, requests,
                                                       time_limit))
    finally:
        proc.terminate()
        proc.wait(30)
    for e in errors[:3]:
        print(f"  error: {e}", file=sys.stderr)
    return _summary(f"HTTP --workers {workers} ({clients} clients)", latencies, len(errors), seconds)


def _print(rows, header):
    print(header)
    print(f"{'mode':<40} {'requests':>8} {'errors':>6} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8}")
    for r in rows:
        print(f"{r['mode']:<40} {r['requests']:>8} {r['errors']:>6} {r['p50_ms']:>8} {r['p99_ms']:>8} "
              f"{r['req_per_s']:>8}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=None, help="model directory (default: the bundled default model)")
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--requests", type=int, default=500, help="requests per client")
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--texts", type=int, default=500, help="distinct synthetic complaints cycled through")
    p.add_argument("--time-limit", type=float, default=600.0, help="seconds per phase at most")
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    if args.model is None:
        from sujian_router._train import ensure_default_model

        args.model = str(ensure_default_model(progress=True))
    bodies = _bodies(_texts(args.texts, args.seed))
    total = args.clients * args.requests
    rows = [bench_in_process(args.model, bodies, total, args.time_limit)]
    for w in args.workers:
        rows.append(bench_http(args.model, bodies, w, args.clients, args.requests, args.time_limit))
    header = (f"model {Path(args.model).name}, {len(bodies)} distinct texts, {total} requests per phase, "
              f"{os.cpu_count()} CPUs, load average at end {os.getloadavg()[0]:.1f}")
    if args.json:
        print(json.dumps({"header": header, "rows": rows}, ensure_ascii=False, indent=2))
    else:
        _print(rows, header)
    return 1 if any(r["errors"] for r in rows[1:]) else 0


if __name__ == "__main__":
    sys.exit(main())
