"""Each engine error arrives as the Python exception of its kind, with the CLI's message; none
crashes the interpreter."""

import os
import subprocess
import sys

import pytest

import wgbert
from conftest import MINILM, TWO_LABELS, tiny_data


def test_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="no model folder at"):
        wgbert.Encoder(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="config.json"):
        wgbert.Classifier(tmp_path)
    # A model folder without its vocabulary.
    m = tmp_path / "novocab"
    m.mkdir()
    for f in ["config.json", "model.safetensors"]:
        (m / f).write_bytes((TWO_LABELS / f).read_bytes())
    with pytest.raises(FileNotFoundError, match="vocab.txt"):
        wgbert.Classifier(m)


def test_missing_training_data(tiny_model, tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.jsonl"):
        wgbert.train(data=tmp_path / "nothing.jsonl", out=tmp_path / "run", model=tiny_model, max_len=16, progress=False)
    with pytest.raises(FileNotFoundError, match="no such file or folder"):
        wgbert.train(data=tmp_path / "aclImdb", out=tmp_path / "run", model=tiny_model, max_len=16, progress=False)


def test_bad_input(tiny_model, tmp_path):
    enc = wgbert.Encoder(tiny_model)
    with pytest.raises(ValueError, match="mix single strings"):
        enc.embed(["a", ("b", "c")])
    with pytest.raises(ValueError, match="one string"):
        enc.embed("not a list")
    with pytest.raises(ValueError, match=r"texts\[1\] is a int"):
        enc.embed(["a", 3])
    with pytest.raises(ValueError, match="choose"):
        wgbert.Encoder(tiny_model, pool="max")
    with pytest.raises(ValueError, match="max_position_embeddings"):
        wgbert.Encoder(tiny_model, max_len=4096)
    with pytest.raises(ValueError, match="single texts, not pairs"):
        wgbert.Classifier(TWO_LABELS).predict([("a", "b")])
    with pytest.raises(ValueError, match="unknown backend"):
        wgbert.Encoder(tiny_model, backend="glide")
    with pytest.raises(ValueError, match="no adapter matches"):
        wgbert.Encoder(tiny_model, adapter="no such gpu")


def test_bad_options(tiny_model, tmp_path):
    data = tiny_data(tmp_path / "d.jsonl", 8)
    with pytest.raises(ValueError, match="unknown option \"epoch\""):
        wgbert.train(data=data, out=tmp_path / "r", model=tiny_model, epoch=1)
    with pytest.raises(ValueError, match="batch_size="):
        wgbert.train(data=data, out=tmp_path / "r", model=tiny_model, batch_size="big")
    with pytest.raises(ValueError, match="--lr -1 must be a positive number"):
        wgbert.train(data=data, out=tmp_path / "r", model=tiny_model, max_len=16, lr=-1, progress=False)
    with pytest.raises(ValueError, match="give data= and out="):
        wgbert.train(out=tmp_path / "r")


def test_gpu_faults_are_runtime_errors(tiny_model):
    # A backend this machine has no adapter for.
    if not wgbert.adapters("metal"):
        with pytest.raises(RuntimeError, match="no GPU adapter found"):
            wgbert.Encoder(tiny_model, backend="metal")
    # A tensor over the device's buffer limit, in a fresh interpreter (the limit is read when
    # the device opens): the engine's error, not a crash.
    code = f"import wgbert\ntry:\n    wgbert.Encoder({str(MINILM)!r})\nexcept RuntimeError as e:\n    print('RuntimeError:', e)\n"
    env = dict(os.environ, WGBERT_MAX_BUFFER="1M")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert "RuntimeError:" in r.stdout and "over this adapter's" in r.stdout, r.stdout
