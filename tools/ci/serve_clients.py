#!/usr/bin/env python3
"""`wgbert serve` through the clients people point at TEI: the `openai` Python client's
`embeddings.create` (float and base64) and `huggingface_hub`'s `InferenceClient`
(`feature_extraction`, `text_classification`). Their numbers must equal `wgbert embed` /
`wgbert predict` on the same texts (<= 1e-6), and for all-MiniLM-L6-v2 transformers' own
(tests/fixtures/minilm: mean-pooled and normalized here, <= 1e-4).

    tools/ci/serve_clients.py [--wgbert target/release/wgbert]

Needs `pip install openai huggingface_hub numpy` (CI: tools/ci/serve_clients.sh makes a venv).
Starts and stops its own servers on 127.0.0.1 (port 0); every wait is bounded.
"""
import argparse
import json
import math
import os
import signal
import struct
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MINILM = os.path.join(ROOT, "models", "all-MiniLM-L6-v2")
CLASSIFIER = os.path.join(ROOT, "tests", "fixtures", "hf_classifier", "three_labels")
# tests/fixtures/minilm/README.md's texts 0-4, 6, 7 (5 is a review cut at 128 tokens).
MINILM_TEXTS = {
    0: "this is such an amazing movie!",
    1: "The movie was great!",
    2: "The movie was meh.",
    3: "The movie was okish.",
    4: "The movie was terrible...",
    6: "Hi",
    7: "I did not expect much from a sequel, but the acting, the score and the pacing won me over completely.",
}
CLASSIFIER_TEXTS = ["the movie was great", "awful", "meh", "a plot I loved"]

failures = []
checks = []


def check(what, ok, detail=""):
    checks.append(what)
    print(f"{'ok  ' if ok else 'FAIL'} {what}{': ' + detail if detail else ''}", flush=True)
    if not ok:
        failures.append(what)


def max_diff(a, b):
    assert len(a) == len(b), (len(a), len(b))
    d = 0.0
    for x, y in zip(a, b):
        assert len(x) == len(y), (len(x), len(y))
        d = max(d, max(abs(p - q) for p, q in zip(x, y)))
    return d


class Server:
    """`wgbert serve` on a free port, stopped with SIGTERM (it must exit 0)."""

    def __init__(self, wgbert, model, *extra):
        self.proc = subprocess.Popen(
            [wgbert, "serve", "--model", model, "--port", "0", *extra],
            stdout=subprocess.PIPE, text=True)
        deadline = time.time() + 300
        line = ""
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if line.startswith("listening on ") or not line:
                break
        if not line.startswith("listening on "):
            self.proc.kill()
            raise SystemExit(f"wgbert serve --model {model} did not start")
        self.url = line.split()[-1]

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = "no exit within 60 s"
        check("the server exits 0 on SIGTERM", code == 0, str(code))


def run(cmd, stdin):
    out = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {out.stderr}")
    return out.stdout


def safetensors(path):
    """name -> (shape, flat list) for the F32 and I64 tensors of a .safetensors file."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        a, b = t["data_offsets"]
        fmt = {"F32": "f", "I64": "q"}[t["dtype"]]
        out[name] = (t["shape"], list(struct.unpack(f"<{(b - a) // struct.calcsize(fmt)}{fmt}", data[a:b])))
    return out


def transformers_minilm(rows):
    """Mean pooling under the mask, then unit length (the model's sentence-transformers
    modules) of transformers' last_hidden_state, for fixture rows `rows`."""
    t = safetensors(os.path.join(ROOT, "tests", "fixtures", "minilm", "outputs.safetensors"))
    (_, T, C), hidden = t["last_hidden_state"]
    _, mask = t["attention_mask"]
    vectors = []
    for r in rows:
        m = mask[r * T:(r + 1) * T]
        v = [0.0] * C
        for i in range(T):
            if m[i]:
                base = (r * T + i) * C
                for c in range(C):
                    v[c] += hidden[base + c]
        v = [x / sum(m) for x in v]
        norm = math.sqrt(sum(x * x for x in v))
        vectors.append([x / norm for x in v])
    return vectors


def embeddings(wgbert):
    import base64

    import numpy as np
    from huggingface_hub import InferenceClient
    from openai import OpenAI

    rows = list(MINILM_TEXTS)
    texts = [MINILM_TEXTS[r] for r in rows]
    cli = [json.loads(line) for line in run([wgbert, "embed", "--model", MINILM, "--normalize"], "\n".join(texts) + "\n").splitlines()]
    reference = transformers_minilm(rows)
    check("wgbert embed equals transformers (<= 1e-4)", max_diff(cli, reference) <= 1e-4, f"{max_diff(cli, reference):.2e}")

    server = Server(wgbert, MINILM)
    try:
        openai = OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0, timeout=300)
        # The client asks for base64 unless told otherwise, and decodes it itself.
        got = [d.embedding for d in openai.embeddings.create(model="all-MiniLM-L6-v2", input=texts).data]
        check("openai embeddings.create (base64, its default) equals wgbert embed (<= 1e-6)", max_diff(got, cli) <= 1e-6, f"{max_diff(got, cli):.2e}")
        check("openai embeddings.create equals transformers (<= 1e-4)", max_diff(got, reference) <= 1e-4, f"{max_diff(got, reference):.2e}")
        resp = openai.embeddings.create(model="all-MiniLM-L6-v2", input=texts, encoding_format="float")
        got = [d.embedding for d in resp.data]
        check("openai embeddings.create (float) equals wgbert embed (<= 1e-6)", max_diff(got, cli) <= 1e-6, f"{max_diff(got, cli):.2e}")
        check("openai usage counts tokens", resp.usage.prompt_tokens == resp.usage.total_tokens > len(texts) * 2, str(resp.usage))
        raw = openai.embeddings.with_raw_response.create(model="m", input=texts[0], encoding_format="base64").parse()
        b64 = raw.data[0].embedding
        if isinstance(b64, str):
            b64 = list(np.frombuffer(base64.b64decode(b64), dtype="<f4"))
        check("base64 decodes to the float vector", max_diff([b64], cli[:1]) <= 1e-6)

        hub = InferenceClient(model=server.url)
        got = [hub.feature_extraction(t).reshape(-1).tolist() for t in texts]
        check("huggingface_hub feature_extraction equals wgbert embed (<= 1e-6)", max_diff(got, cli) <= 1e-6, f"{max_diff(got, cli):.2e}")
        check("huggingface_hub feature_extraction equals transformers (<= 1e-4)", max_diff(got, reference) <= 1e-4, f"{max_diff(got, reference):.2e}")
    finally:
        server.stop()


def classification(wgbert):
    from huggingface_hub import InferenceClient

    cli = [json.loads(line) for line in run([wgbert, "predict", "--model", CLASSIFIER, "--json", *CLASSIFIER_TEXTS], "").splitlines()]
    server = Server(wgbert, CLASSIFIER)
    try:
        hub = InferenceClient(model=server.url)
        for text, want in zip(CLASSIFIER_TEXTS, cli):
            got = hub.text_classification(text)
            got = got if isinstance(got, list) else [got]
            top = max(got, key=lambda e: e.score)
            check(f"huggingface_hub text_classification({text!r}) equals wgbert predict (<= 1e-6)",
                  top.label == want["label"] and abs(top.score - want["score"]) <= 1e-6,
                  f"{top.label} {top.score} vs {want['label']} {want['score']}")
    finally:
        server.stop()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--wgbert", default=os.path.join(ROOT, "target", "release", "wgbert"))
    a = p.parse_args()
    embeddings(a.wgbert)
    classification(a.wgbert)
    print(f"serve clients: {len(checks) - len(failures)} passed, {len(failures)} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
