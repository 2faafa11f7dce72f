"""Load test of ``rnnkit serve``: N concurrent clients, a fixed number of requests, loopback only.

Starts ``rnnkit serve`` in a subprocess on 127.0.0.1 with a forecaster and a text classifier (saved
model directories from ``--forecast-model`` / ``--classify-model``; without them, both are trained
first at a small budget through the CLI: sunspots with 200 steps, one MR fold with one epoch). Then,
for each endpoint and each client count C in ``--clients``, C threads (each with its own keep-alive
connection) send ``--requests`` requests between them, and the script reports p50/p95/p99 latency,
throughput, the number of errors (any status but 200, or a failed connection) and the server's CPU
time per request. Each cell stops after ``--max-seconds`` (the requests not sent are reported).

Requests: ``POST /v1/forecast {"horizon": 24}`` (the saved history, quantiles 0.1/0.5/0.9) and
``POST /v1/classify {"texts": [one MR sentence]}`` (a different sentence each time), plus
``--classify-batch`` sentences per request in a second classify row.

The server runs one model call at a time (a lock), so throughput is bounded by one core whatever
the client count; more clients raise latency (they queue), not throughput. Clients and server run
on the same machine and compete for its cores: under ``/work/bin/heavy`` both share one CPU slot.

Usage: python benchmarks/serve.py [--clients 1,4,16] [--requests 200] [--max-seconds 60]
       [--forecast-model DIR] [--classify-model DIR] [--json out.json]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _train(app: str, flags: list[str], out: Path) -> Path:
    """Train a small model through the CLI (when no saved one is given); returns its model directory."""
    command = [sys.executable, "-m", "rnnkit", app, "train", "--quiet", "--output-dir", str(out), *flags]
    print("training:", " ".join(command[2:]), flush=True)
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return out / "model"


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait_ready(port: int, process: subprocess.Popen, timeout: float = 180.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"rnnkit serve exited with status {process.returncode}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/readyz")
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"rnnkit serve did not answer /readyz within {timeout:.0f} s")


def run_cell(port: int, path: str, bodies: list[bytes], clients: int, requests: int, max_seconds: float) -> dict:
    """``requests`` POSTs of ``bodies`` (in turn) from ``clients`` threads; latencies and errors."""
    latencies: list[float] = []
    errors: list[str] = []
    counter = iter(range(requests))
    lock = threading.Lock()
    deadline = time.perf_counter() + max_seconds

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        while time.perf_counter() < deadline:
            with lock:
                i = next(counter, None)
            if i is None:
                break
            start = time.perf_counter()
            try:
                connection.request("POST", path, body=bodies[i % len(bodies)],
                                   headers={"content-type": "application/json"})
                response = connection.getresponse()
                response.read()
                problem = None if response.status == 200 else f"status {response.status}"
            except (OSError, http.client.HTTPException) as error:
                problem = type(error).__name__
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            elapsed = time.perf_counter() - start
            with lock:
                latencies.append(elapsed)
                if problem is not None:
                    errors.append(problem)
        connection.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    ms = np.asarray(latencies) * 1000
    return {"path": path, "clients": clients, "sent": len(latencies), "asked": requests, "errors": len(errors),
            "error_kinds": sorted(set(errors)), "wall_s": wall, "throughput": len(latencies) / wall,
            "p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95)),
            "p99_ms": float(np.percentile(ms, 99))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", default="1,4,16", help="comma-separated concurrent client counts")
    parser.add_argument("--requests", type=int, default=200, help="requests per cell (endpoint x clients)")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="stop a cell after this many seconds")
    parser.add_argument("--forecast-model", help="a saved forecaster (default: train one, 200 steps)")
    parser.add_argument("--classify-model", help="a saved text classifier (default: train one, 1 MR fold, 1 epoch)")
    parser.add_argument("--classify-batch", type=int, default=32, help="texts per request in the batched row")
    parser.add_argument("--warmup", type=int, default=10, help="requests per endpoint before measuring")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)
    clients = [int(c) for c in args.clients.split(",") if c.strip()]
    if not clients or min(clients) < 1 or args.requests < 1:
        parser.error("--clients and --requests: expected positive integers")

    import torch

    from rnnkit.bench import machine_description
    from rnnkit.tasks.classify.data import load_mr

    work = Path(tempfile.mkdtemp(prefix="rnnkit-serve-bench-"))
    forecast_dir = Path(args.forecast_model) if args.forecast_model else _train(
        "forecast", ["--max-steps", "200", "--origins", "1", "--baselines", "naive"], work / "forecast")
    classify_dir = Path(args.classify_model) if args.classify_model else _train(
        "classify", ["--folds", "1", "--max-epochs", "1", "--baselines", "majority"], work / "classify")

    texts, _ = load_mr()
    rng = np.random.default_rng(0)
    sample = [texts[i] for i in rng.permutation(len(texts))[:500]]
    cells = [
        ("/v1/forecast", [json.dumps({"horizon": 24}).encode()], "forecast, horizon 24 (saved history)"),
        ("/v1/classify", [json.dumps({"texts": [t]}).encode() for t in sample], "classify, 1 text"),
        ("/v1/classify", [json.dumps({"texts": sample[i:i + args.classify_batch]}).encode()
                          for i in range(0, len(sample) - args.classify_batch, args.classify_batch)],
         f"classify, {args.classify_batch} texts"),
    ]

    port = _free_port()
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    server = subprocess.Popen([sys.executable, "-m", "rnnkit", "serve", "--model", f"forecast={forecast_dir}",
                               "--model", f"classify={classify_dir}", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    rows = []
    try:
        _wait_ready(port, server)
        for path, bodies, _ in cells:  # warm-up: first calls build caches and pick backends
            run_cell(port, path, bodies, 1, args.warmup, args.max_seconds)
        for path, bodies, label in cells:
            for c in clients:
                before = _cpu_seconds(server.pid)
                row = run_cell(port, path, bodies, c, args.requests, args.max_seconds)
                row["server_cpu_ms_per_request"] = 1000 * (_cpu_seconds(server.pid) - before) / max(row["sent"], 1)
                row["label"] = label
                rows.append(row)
                print(f"{label:34s} clients {c:3d}: {row['sent']}/{row['asked']} requests, {row['errors']} errors, "
                      f"p50 {row['p50_ms']:.1f} ms, p99 {row['p99_ms']:.1f} ms, {row['throughput']:.1f} req/s",
                      flush=True)
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)  # the models trained here (none when both were given)

    print(f"\nrnnkit serve load test: {machine_description('cpu')}, server torch threads "
          f"{env['OMP_NUM_THREADS']}, clients in one process (threads), loopback; torch {torch.__version__}\n")
    print("| request | clients | requests | errors | p50 ms | p95 ms | p99 ms | requests/s | server CPU ms/request |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        sent = f"{r['sent']}" if r["sent"] == r["asked"] else f"{r['sent']} of {r['asked']} (time cap)"
        print(f"| {r['label']} | {r['clients']} | {sent} | {r['errors']} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | "
              f"{r['p99_ms']:.1f} | {r['throughput']:.1f} | {r['server_cpu_ms_per_request']:.1f} |")
    total_errors = sum(r["errors"] for r in rows)
    print(f"\nerrors: {total_errors} of {sum(r['sent'] for r in rows)} requests"
          + ("" if not total_errors else f" ({sorted({k for r in rows for k in r['error_kinds']})})"))
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine_description("cpu"), "rows": rows}, indent=1))
    return 0 if total_errors == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
