"""wgbert.train on the tiny model: the CLI's run folder, events, the history returned, the model
it exports loading into Classifier; Ctrl-C saves a checkpoint and resume finishes the run."""

import json
import signal

import numpy as np
import pytest

import wgbert
from conftest import jsonl, run_cli, tiny_data

OPTIONS = dict(epochs=2, batch_size=4, max_len=16, lr=1e-3, seed=3)


@pytest.fixture
def ctrl_c_raises():
    """Ctrl-C raising KeyboardInterrupt, as in a terminal: a suite started in the background
    inherits SIGINT ignored, and Python then leaves it ignored."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


def test_train_short(tiny_model, tmp_path):
    data = tiny_data(tmp_path / "train.jsonl", 24)
    test = tiny_data(tmp_path / "test.jsonl", 8, seed=1)
    events = []
    h = wgbert.train(data=data, out=tmp_path / "run", model=tiny_model, test_data=test, warmup=0.2,
                     progress=events.append, **OPTIONS)
    assert [e["epoch"] for e in h["epochs"]] == [1, 2]
    assert all(np.isfinite(e["loss"]) and e["val_loss"] is not None for e in h["epochs"])
    assert len(h["steps"]) == 2 * 5  # 24 examples less 20% validation, batches of 4
    assert h["test"]["examples"] == 8
    kinds = {e["event"] for e in events}
    assert {"epoch_start", "step", "epoch_end", "scoring", "notice"} <= kinds
    # The run folder is the CLI's: its run.json carries the options by their CLI meaning.
    job = json.loads((tmp_path / "run" / "run.json").read_text())
    assert job["options"]["warmup_fraction"] == 0.2 and job["options"]["epochs"] == 2
    # The exported model scores as `wgbert predict` scores it.
    c = wgbert.Classifier(h["run_dir"])  # a run folder: its model/
    assert c.labels == ["neg", "pos"] and str(c.model_dir) == h["model_dir"]
    texts = ["the movie was very good and great", "the film was very bad and awful"]
    p = c.predict(texts)
    want = jsonl(run_cli(["predict", "--model", h["model_dir"], "--json", *texts]))
    assert list(p.labels) == [w["label"] for w in want]
    assert np.abs(p.scores - np.array([w["score"] for w in want])).max() <= 1e-6


def test_interrupt_saves_and_resumes(tiny_model, tmp_path, ctrl_c_raises):
    data = tiny_data(tmp_path / "train.jsonl", 24)
    run = tmp_path / "run"

    def ctrl_c_at_step_2(e):
        if e["event"] == "step" and e["step"] == 2:
            signal.raise_signal(signal.SIGINT)

    # On a CPU adapter steps run one at a time (on a GPU, step 3 would already be queued and
    # saved with the rest).
    with pytest.raises(KeyboardInterrupt, match="saved at step 2"):
        wgbert.train(data=data, out=run, model=tiny_model, progress=ctrl_c_at_step_2, **OPTIONS)
    assert (run / "checkpoints" / "latest").read_text().strip() == "step-2"
    assert not (run / "model").exists()
    with pytest.raises(ValueError, match="already holds a run"):
        wgbert.train(data=data, out=run, model=tiny_model, progress=False, **OPTIONS)
    h = wgbert.train(resume=run, progress=False)
    assert [e["epoch"] for e in h["epochs"]] == [1, 2]
    assert (run / "model" / "model.safetensors").is_file()


def test_callback_error_stops_the_run(tiny_model, tmp_path):
    data = tiny_data(tmp_path / "train.jsonl", 24)

    def boom(e):
        if e["event"] == "step":
            raise ZeroDivisionError("from the callback")

    with pytest.raises(ZeroDivisionError, match="from the callback"):
        wgbert.train(data=data, out=tmp_path / "run", model=tiny_model, progress=boom, **OPTIONS)
    assert (tmp_path / "run" / "checkpoints" / "latest").read_text().strip() == "step-1"


def test_default_bar_writes_to_stderr(tiny_model, tmp_path, capfd):
    data = tiny_data(tmp_path / "train.jsonl", 12)
    wgbert.train(data=data, out=tmp_path / "run", model=tiny_model, epochs=1, batch_size=4, max_len=16)
    err = capfd.readouterr().err
    assert "epoch 1/1 -" in err and "loss:" in err


def test_sigint_from_outside(tiny_model, tmp_path):
    """A real Ctrl-C (SIGINT to the process) while the engine trains without a callback: the
    step ends, a checkpoint is saved, KeyboardInterrupt reaches the script."""
    import os
    import subprocess
    import sys
    import time

    data = tiny_data(tmp_path / "train.jsonl", 40)
    run = tmp_path / "run"
    # The child gets Ctrl-C's default, as a terminal's script has (see ctrl_c_raises).
    script = (
        "import signal, wgbert\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        f"wgbert.train(data={str(data)!r}, out={str(run)!r}, model={str(tiny_model)!r}, epochs=200,"
        " batch_size=4, max_len=16, checkpoint_every=1, progress=False)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE, text=True)
    t0 = time.monotonic()
    while not (run / "checkpoints" / "latest").is_file():
        assert child.poll() is None, child.stderr.read()
        assert time.monotonic() - t0 < 120, "no checkpoint after 120 s"
        time.sleep(0.1)
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=120)
    assert child.returncode != 0 and "KeyboardInterrupt: saved at step" in err, err
    step = int(err.split("saved at step ")[1].split(";")[0])
    assert (run / "checkpoints" / "latest").read_text().strip() == f"step-{step}"
    assert os.path.isdir(run / "checkpoints" / f"step-{step}")
