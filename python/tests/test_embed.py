"""Encoder.embed equals `wgbert embed` (the same engine: 1e-6) and transformers (1e-4, the f32
reference's own noise floor: tests/fixtures/minilm/README.md)."""

import json
import struct

import numpy as np
import pytest

import wgbert
from conftest import jsonl, FIXTURES, MINILM, run_cli

# The MiniLM fixture's texts (README's table), less #5 (a review read from the IMDB archive).
HF_TEXTS = {
    0: "this is such an amazing movie!",
    1: "The movie was great!",
    2: "The movie was meh.",
    3: "The movie was okish.",
    4: "The movie was terrible...",
    6: "Hi",
    7: "I did not expect much from a sequel, but the acting, the score and the pacing won me over completely.",
}


def read_safetensors(path):
    """A safetensors file as {name: array} (the format is a JSON header and raw little-endian data)."""
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    dtypes = {"F32": np.float32, "I64": np.int64, "F64": np.float64}
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        a, b = t["data_offsets"]
        out[name] = np.frombuffer(raw[8 + n + a : 8 + n + b], dtype=dtypes[t["dtype"]]).reshape(t["shape"])
    return out


@pytest.fixture(scope="module")
def minilm():
    if not (MINILM / "model.safetensors").is_file():
        pytest.fail(f"{MINILM}: missing (tools/fetch_model.sh fetches it)")
    return wgbert.Encoder(MINILM, pool="mean")


def test_minilm_equals_transformers(minilm):
    ref = read_safetensors(FIXTURES / "minilm" / "outputs.safetensors")
    rows = list(HF_TEXTS)
    mask = ref["attention_mask"][rows].astype(np.float64)[..., None]
    hidden = ref["last_hidden_state"][rows].astype(np.float64)
    # sentence-transformers' mean pooling: the mean of the real tokens' states.
    want_mean = (hidden * mask).sum(1) / mask.sum(1)
    got = minilm.embed(list(HF_TEXTS.values()))
    assert got.shape == (len(rows), 384) and got.dtype == np.float32
    err = np.abs(got - want_mean).max()
    assert err <= 1e-4, f"mean pooling differs from transformers by {err}"
    cls = wgbert.Encoder(MINILM, pool="cls").embed(list(HF_TEXTS.values()))
    err = np.abs(cls - hidden[:, 0]).max()
    assert err <= 1e-4, f"[CLS] differs from transformers by {err}"
    pooler = wgbert.Encoder(MINILM, pool="pooler").embed(list(HF_TEXTS.values()))
    err = np.abs(pooler - ref["pooler_output"][rows]).max()
    assert err <= 1e-4, f"the pooler output differs from transformers by {err}"


def test_minilm_equals_cli(minilm):
    texts = list(HF_TEXTS.values())
    for normalize in (False, True):
        args = ["embed", "--model", str(MINILM), "--pool", "mean"] + (["--normalize"] if normalize else [])
        want = np.array(jsonl(run_cli(args, "\n".join(texts) + "\n")))
        got = minilm.embed(texts, normalize=normalize)
        err = np.abs(got - want).max()
        assert err <= 1e-6, f"normalize={normalize}: differs from wgbert embed by {err}"
    if normalize:
        assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-6)


def test_pairs_equal_cli(tiny_model):
    pairs = [("the movie was good", "the film was bad"), ("great", "the plot was very sad and awful")]
    enc = wgbert.Encoder(tiny_model, pool="mean")
    lines = "".join(f"{a}\t{b}\n" for a, b in pairs)
    want = np.array(jsonl(run_cli(["embed", "--model", str(tiny_model), "--pool", "mean", "--pairs"], lines)))
    got = enc.embed(pairs)
    assert np.abs(got - want).max() <= 1e-6
    # A pair is not its first text alone.
    assert np.abs(got[0] - enc.embed([pairs[0][0]])[0]).max() > 1e-3


def test_shapes_and_defaults(tiny_model):
    enc = wgbert.Encoder(tiny_model)
    assert enc.pool == "cls" and enc.dim == 32 and not enc.normalizes
    assert enc.embed([]).shape == (0, 32)
    # The tiny model's max_position_embeddings, below 128.
    assert enc.max_len == json.loads((tiny_model / "config.json").read_text())["max_position_embeddings"] < 128
    assert wgbert.Encoder(MINILM).pool == "mean"  # what its sentence-transformers files declare
    assert wgbert.Encoder(MINILM).normalizes


def test_adapters_lists_what_info_lists():
    listed = wgbert.adapters()
    assert listed, "no adapters: is a Vulkan driver installed?"
    info = run_cli(["info"])
    for a in listed:
        assert set(a) == {"index", "name", "backend", "device_type", "driver", "pci_bus_id"}
        assert f"{a['index']}: {a['name']} ({a['backend']})" in info
    assert all(a["backend"] == "gl" for a in wgbert.adapters("gl"))


def test_mixed_precision_equals_cli_and_stays_near_f32(tiny_model):
    texts = ["the movie was good", "awful plot", "a"]
    half = wgbert.Encoder(tiny_model, precision="mixed").embed(texts)
    want = np.array(jsonl(run_cli(["embed", "--model", str(tiny_model), "--precision", "mixed"], "\n".join(texts) + "\n")))
    assert np.abs(half - want).max() <= 1e-6
    full = wgbert.Encoder(tiny_model).embed(texts)
    err = np.abs(half - full).max()
    assert 0 < err <= 5e-3, f"mixed precision differs from f32 by {err}"
    with pytest.raises(ValueError, match="precision must be"):
        wgbert.Encoder(tiny_model, precision="f16")
