#!/usr/bin/env python3
"""A bounded load generator for `wgbert serve` (standard library only: asyncio, raw HTTP/1.1
keep-alive connections on 127.0.0.1).

    tools/serve_load.py --model models/all-MiniLM-L6-v2 [--seconds 20] [--clients 1,8,64,256]
                        [--soak 100000] [--wgbert target/release/wgbert] [--server-args "..."]
                        [--tokens 128] [--json]

Starts its own server (port 0), then for each number of concurrent clients sends
`POST /embed {"inputs": TEXT}` in a closed loop for a fixed time and prints sequences/s,
p50/p99 latency, 429s, errors, wrong answers (a vector off by more than 1e-5 from the one the
server gave for that text at the start) and the server's resident memory. The first row (one
client) is the one-request-at-a-time baseline; the ratio column is each row's throughput over
it. `--soak N` then sends N more requests at 64 clients and prints the memory before and after.
Every loop stops by itself: by time, or by count with a time cap. `--tokens N` sends texts of
N word pieces ([CLS] and [SEP] included) instead of short sentences, to set the server beside
`wgbert bench train`'s inference rate at that length (the GPU kit's serve stage); `--json`
prints the figures as one JSON object on standard output (the table goes to standard error).
"""
import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEXTS = [
    "this is such an amazing movie!",
    "The movie was great!",
    "The movie was meh.",
    "I did not expect much from a sequel, but the acting, the score and the pacing won me over.",
    "Hi",
    "The plot was thin and the ending made no sense at all.",
    "A quiet film about two brothers and a farm.",
    "Terrible.",
]


# Words that are one word piece each in BERT's uncased vocabulary.
WORDS = "the movie was very good and the plot was a bit thin but the acting made up for it".split()


def texts_of(tokens):
    """Eight texts of exactly `tokens` word pieces with [CLS] and [SEP], each a rotation."""
    n = max(1, tokens - 2)
    return [" ".join(WORDS[(i + k) % len(WORDS)] for k in range(n)) for i in range(8)]


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


async def post(reader, writer, host, path, body):
    """One request on a kept-alive connection: (status, body bytes)."""
    data = json.dumps(body).encode()
    writer.write(f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                 f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        if line.lower().startswith("content-length:"):
            length = int(line.split(":")[1])
    return status, await reader.readexactly(length)


class Stage:
    def __init__(self):
        self.latencies, self.ok, self.overloaded, self.errors, self.wrong = [], 0, 0, 0, 0


async def client(host, port, reference, stage, stop_at, budget):
    reader = writer = None
    i = 0
    while time.monotonic() < stop_at and (budget is None or budget[0] > 0):
        if budget is not None:
            budget[0] -= 1
        text = list(reference)[i % len(reference)]
        i += 1
        t0 = time.monotonic()
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(host, port)
            status, body = await asyncio.wait_for(post(reader, writer, host, "/embed", {"inputs": text}), 120)
        except Exception:
            stage.errors += 1
            if writer is not None:
                writer.close()
            reader = writer = None
            continue
        stage.latencies.append(time.monotonic() - t0)
        if status == 200:
            got = json.loads(body)[0]
            if max(abs(a - b) for a, b in zip(got, reference[text])) > 1e-5:
                stage.wrong += 1
            stage.ok += 1
        elif status == 429:
            stage.overloaded += 1
            # A polite client backs off a little before retrying.
            await asyncio.sleep(0.01)
        else:
            stage.errors += 1
    if writer is not None:
        writer.close()


async def run_stage(host, port, reference, clients, seconds, count=None):
    stage = Stage()
    t0 = time.monotonic()
    budget = [count] if count is not None else None
    await asyncio.gather(*(client(host, port, reference, stage, t0 + seconds, budget) for _ in range(clients)))
    return stage, time.monotonic() - t0


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))] if xs else float("nan")


async def main_async(a, pid, host, port):
    reader, writer = await asyncio.open_connection(host, port)
    reference = {}
    for t in (texts_of(a.tokens) if a.tokens else TEXTS):
        status, body = await post(reader, writer, host, "/embed", {"inputs": t})
        assert status == 200, body
        reference[t] = json.loads(body)[0]
    writer.close()
    out = sys.stderr if a.json else sys.stdout
    rows = []
    print(f"{'clients':>7} {'seq/s':>8} {'x base':>7} {'p50 ms':>8} {'p99 ms':>8} {'429s':>6} {'errors':>6} {'wrong':>6} {'RSS MiB':>8}", file=out)
    base = None
    for c in [int(x) for x in a.clients.split(",")]:
        stage, took = await run_stage(host, port, reference, c, a.seconds)
        rate = stage.ok / took
        base = base or rate
        print(f"{c:>7} {rate:>8.1f} {rate / base:>7.2f} {pct(stage.latencies, 0.5) * 1e3:>8.0f} {pct(stage.latencies, 0.99) * 1e3:>8.0f} "
              f"{stage.overloaded:>6} {stage.errors:>6} {stage.wrong:>6} {rss_mib(pid):>8.0f}", file=out, flush=True)
        rows.append({"clients": c, "seq_per_s": rate, "p50_s": pct(stage.latencies, 0.5), "p99_s": pct(stage.latencies, 0.99),
                     "overloaded": stage.overloaded, "errors": stage.errors, "wrong": stage.wrong, "rss_mib": rss_mib(pid)})
    if a.soak:
        before = rss_mib(pid)
        stage, took = await run_stage(host, port, reference, 64, a.soak_seconds, a.soak)
        n = stage.ok + stage.overloaded + stage.errors
        print(f"soak: {n} requests in {took:.0f} s ({stage.ok / took:.0f} seq/s), {stage.overloaded} 429s, {stage.errors} errors, "
              f"{stage.wrong} wrong; server RSS {before:.0f} -> {rss_mib(pid):.0f} MiB", file=out, flush=True)
    if a.json:
        print(json.dumps({"tokens": a.tokens or None, "seconds": a.seconds, "stages": rows}))
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=os.path.join(ROOT, "models", "all-MiniLM-L6-v2"))
    p.add_argument("--wgbert", default=os.path.join(ROOT, "target", "release", "wgbert"))
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--clients", default="1,8,64,256")
    p.add_argument("--soak", type=int, default=0, help="requests to send at 64 clients after the stages")
    p.add_argument("--soak-seconds", type=float, default=1800, help="time cap of the soak")
    p.add_argument("--server-args", default="", help="more `wgbert serve` options")
    p.add_argument("--tokens", type=int, default=0, help="send texts of this many word pieces")
    p.add_argument("--json", action="store_true", help="the figures as JSON on standard output")
    a = p.parse_args()
    bad = 0
    proc = subprocess.Popen([a.wgbert, "serve", "--model", a.model, "--port", "0", *a.server_args.split()],
                            stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        if not line.startswith("listening on http://"):
            sys.exit("the server did not start")
        host, port = line.split("//")[1].strip().rsplit(":", 1)
        rows = asyncio.run(main_async(a, proc.pid, host, int(port)))
        bad = sum(r["wrong"] + r["errors"] for r in rows)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = "killed after 60 s"
        print(f"server exit status after SIGTERM: {code}", file=sys.stderr if a.json else sys.stdout)
    if code != 0 or bad:
        sys.exit(f"serve_load: server exit status {code}, {bad} wrong answers or errors")


if __name__ == "__main__":
    main()
