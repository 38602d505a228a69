"""Shared fixtures: the repository's test fixtures, the tiny model (tests/common's, made the same
way), and the `wgbert` binary whose output the package must reproduce."""

import json
import os
import subprocess
from pathlib import Path

import pytest

# Kernel choices fixed, as in the Rust tests that compare runs bit for bit: tuning in one
# process could pick another matmul variant (other rounding) than in the CLI's.
os.environ.setdefault("WGBERT_TUNE", "off")

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
MINILM = ROOT / "models" / "all-MiniLM-L6-v2"
TWO_LABELS = FIXTURES / "hf_classifier" / "two_labels"
REVIEWS = FIXTURES / "imdb_sample" / "test.jsonl"
WORDS = ["good", "great", "fine", "nice", "loved", "bad", "awful", "poor", "sad", "hated",
         "movie", "film", "the", "was", "very", "plot"]


def jsonl(text: str) -> list:
    """JSON lines: split at "\n" only (str.splitlines would also split inside reviews, at
    U+2028 and the like)."""
    return [json.loads(line) for line in text.split("\n") if line.strip()]


def wgbert_bin() -> Path:
    exe = Path(os.environ.get("WGBERT_BIN", ROOT / "target" / "release" / "wgbert"))
    if not exe.is_file():
        pytest.fail(f"{exe}: no wgbert binary to compare with (cargo build --release, or set WGBERT_BIN)")
    return exe


def run_cli(args, stdin: str = "") -> str:
    """The CLI's standard output; fails the test with its standard error."""
    r = subprocess.run([str(wgbert_bin()), *args], input=stdin, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """tests/fixtures/tiny_bert_grad's weights with a 300-token vocabulary (tests/common)."""
    m = tmp_path_factory.mktemp("tiny") / "model"
    m.mkdir()
    for f in ["config.json", "model.safetensors"]:
        (m / f).write_bytes((FIXTURES / "tiny_bert_grad" / f).read_bytes())
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS, *"abcdefghijklmnopqrstuvwxyz"]
    vocab += [f"[unused{i}]" for i in range(len(vocab), 300)]
    (m / "vocab.txt").write_text("\n".join(vocab) + "\n")
    return m


def tiny_data(path: Path, n: int, seed: int = 0) -> Path:
    """JSONL reviews: positive ones use words 0..5, negative ones 5..10 (tests/common)."""
    lines = []
    for i in range(n):
        pos = i % 2 == 0
        base = 0 if pos else 5
        w = lambda k: WORDS[base + (i * 7 + k * 3 + seed) % 5]  # noqa: E731
        text = f"the movie was very {w(0)} and {w(1)} {w(2)}"
        lines.append(json.dumps({"text": text, "label": "pos" if pos else "neg"}))
    path.write_text("\n".join(lines) + "\n")
    return path
