"""One model called from two threads at once gives each caller its own answer (GPU work runs
without the GIL; the model takes one caller at a time)."""

import threading
import time

import numpy as np

import wgbert
from conftest import TWO_LABELS, WORDS


def texts(seed, n=48):
    return [" ".join(WORDS[(seed * 5 + i * k) % len(WORDS)] for k in range(1, 3 + i % 9)) for i in range(n)]


def run_two(call, inputs):
    results, errors = [None, None], []

    def work(i):
        try:
            for _ in range(3):
                results[i] = call(inputs[i])
        except Exception as e:  # noqa: BLE001 - reported by the assertion below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors and not any(t.is_alive() for t in threads), errors
    return results


def test_classifier_two_threads():
    c = wgbert.Classifier(TWO_LABELS)
    inputs = [texts(1), texts(2)]
    alone = [c.predict(x).probabilities for x in inputs]
    both = run_two(lambda x: c.predict(x).probabilities, inputs)
    for a, b in zip(alone, both):
        assert np.array_equal(a, b)


def test_encoder_two_threads(tiny_model):
    e = wgbert.Encoder(tiny_model, pool="mean")
    inputs = [texts(3), texts(4)]
    alone = [e.embed(x) for x in inputs]
    both = run_two(e.embed, inputs)
    for a, b in zip(alone, both):
        assert np.array_equal(a, b)


def test_gil_is_released(tiny_model):
    """The main thread keeps waking while another thread embeds: with the GIL held it could
    not return from a single sleep until the embedding ended."""
    e = wgbert.Encoder(tiny_model)
    e.embed(texts(5, 8))  # kernels compiled before timing
    worker = threading.Thread(target=lambda: e.embed(texts(6, 2048)))
    t0 = time.monotonic()
    worker.start()
    wakes = 0
    while worker.is_alive():
        time.sleep(0.005)
        wakes += 1
    seconds = time.monotonic() - t0
    assert seconds < 0.2 or wakes >= 10, f"{wakes} wakes in {seconds:.2f} s of embedding"
