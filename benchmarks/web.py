"""Dashboard benchmark: N WebSocket clients watching a real-time 50 Hz session.

A real `legflow serve` process runs a built-in program on the simulated massager in real time and
streams every tick (50 Hz). N clients in this process (asyncio, the websockets library) record the
latency from the moment the session published a sample (``sent_s``, CLOCK_MONOTONIC, which every
process on this machine shares) to the moment the client decoded it. The server's CPU share comes
from /proc/PID/stat over the same window, and is measured again with no client watching (the
session alone), so the cost of streaming shows beside it.

    python -m benchmarks.web                  # 10 clients, 20 s per run, 3 runs (median)
    python -m benchmarks.web --clients 50 --seconds 10 --runs 1
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

import httpx
import numpy as np
from websockets.asyncio.client import connect

from legflow.clock import wall_s

LATENCY_P95_GOAL_ms = 100.0
TOKEN = "benchmark-token-7c1f4e9a2b6d8035e4a1c9f7"
PROGRAM = "circulation"


@dataclass
class Run:
    latencies_ms: list[float]
    messages_per_client_s: float
    server_cpu_pct: float
    idle_cpu_pct: float


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process, from /proc (Linux)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def _watch(url: str, seconds: float, latencies: list[float], counts: list[int]) -> None:
    async with connect(url, additional_headers={"Authorization": f"Bearer {TOKEN}"}) as ws:
        end = wall_s() + seconds
        n = 0
        while wall_s() < end:
            message = json.loads(await asyncio.wait_for(ws.recv(), timeout=5))
            if message.get("type") == "state":
                latencies.append((wall_s() - message["sent_s"]) * 1000.0)
                n += 1
        counts.append(n)


async def _clients(url: str, n: int, seconds: float) -> tuple[list[float], list[int]]:
    latencies: list[float] = []
    counts: list[int] = []
    await asyncio.gather(*(_watch(url, seconds, latencies, counts) for _ in range(n)))
    return latencies, counts


def one_run(n_clients: int, seconds: float) -> Run:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "LEGFLOW_HOME": home, "LEGFLOW_TOKEN": TOKEN}
        server = subprocess.Popen([sys.executable, "-m", "legflow", "serve", "--port", str(port)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
            for _ in range(300):
                try:
                    client.get("/api/v1/programs")
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            client.post("/api/v1/sessions", json={"program": PROGRAM}).raise_for_status()
            time.sleep(3.0)  # past the start: kernels loaded, cells filling
            cpu0, t0 = _cpu_s(server.pid), wall_s()
            time.sleep(min(seconds, 10.0))
            idle = (_cpu_s(server.pid) - cpu0) / (wall_s() - t0) * 100.0
            cpu0, t0 = _cpu_s(server.pid), wall_s()
            latencies, counts = asyncio.run(
                _clients(base.replace("http", "ws") + "/api/v1/live", n_clients, seconds)
            )
            busy = (_cpu_s(server.pid) - cpu0) / (wall_s() - t0) * 100.0
            client.post("/api/v1/sessions/current/stop")
            client.close()
        finally:
            server.terminate()
            server.wait(20)
    return Run(latencies, statistics.mean(counts) / seconds, busy, idle)


def main() -> None:
    parser = argparse.ArgumentParser(description="WebSocket clients watching a real-time 50 Hz session.")
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=20.0, help="watching time per run")
    parser.add_argument("--runs", type=int, default=3, help="runs (the table shows the median of each)")
    args = parser.parse_args()
    runs = [one_run(args.clients, args.seconds) for _ in range(args.runs)]

    def med(f) -> float:
        return statistics.median(f(r) for r in runs)

    def pct(q: float):
        return lambda r: float(np.percentile(r.latencies_ms, q))

    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    print(f"# Dashboard: {args.clients} WebSocket clients on a 50 Hz session ({PROGRAM}, real time)\n")
    print(
        f"{machine}, Python {platform.python_version()}; median of {args.runs} run(s) of {args.seconds:g} s\n"
    )
    worst = med(lambda r: max(r.latencies_ms))
    rows = [
        ("sample → client latency p50", f"{med(pct(50)):.1f} ms", ""),
        ("sample → client latency p95", f"{med(pct(95)):.1f} ms", f"≤ {LATENCY_P95_GOAL_ms:g} ms"),
        ("sample → client latency p99 / max", f"{med(pct(99)):.1f} / {worst:.1f} ms", ""),
        ("messages per client per second", f"{med(lambda r: r.messages_per_client_s):.1f}", "50"),
        (
            f"server CPU, {args.clients} clients watching",
            f"{med(lambda r: r.server_cpu_pct):.1f} % of one core",
            "",
        ),
        ("server CPU, the session alone", f"{med(lambda r: r.idle_cpu_pct):.1f} % of one core", ""),
    ]
    print("| measure | result | goal |\n|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
