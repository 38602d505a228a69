"""Classifier.predict equals `wgbert predict --data` row for row (labels exactly, scores and
probabilities to 1e-6), on transformers' own two-label classifier."""

import json

import numpy as np
import pytest

import wgbert
from conftest import jsonl, REVIEWS, TWO_LABELS, run_cli


def cli_rows(model, data):
    return jsonl(run_cli(["predict", "--model", str(model), "--data", str(data)]))


def test_predict_equals_cli():
    # All 200 rows, so that both batch them alike (by length, 32 at a time).
    rows = jsonl(REVIEWS.read_text())
    want = cli_rows(TWO_LABELS, REVIEWS)
    assert len(rows) == len(want) == 200
    c = wgbert.Classifier(TWO_LABELS)
    assert c.labels == ["neg", "pos"]
    p = c.predict([r["text"] for r in rows])
    assert list(p.labels) == [w["label"] for w in want]
    assert np.abs(p.scores - np.array([w["score"] for w in want])).max() <= 1e-6
    want_p = np.array([[w["probabilities"][k] for k in c.labels] for w in want])
    assert p.probabilities.shape == (200, 2) and p.probabilities.dtype == np.float32
    assert np.abs(p.probabilities - want_p).max() <= 1e-6
    assert np.all(p.scores == p.probabilities[np.arange(200), p.ids])
    assert np.allclose(p.probabilities.sum(1), 1.0, atol=1e-6)


def test_expected_fixture():
    """transformers' own logits for the fixture's texts (tools/fixtures/make_hf_classifier_fixtures.py)."""
    exp = json.loads((TWO_LABELS.parent / "two_labels.expected.json").read_text())
    p = wgbert.Classifier(TWO_LABELS).predict(exp["texts"])
    z = np.array(exp["logits"], dtype=np.float64)
    want = np.exp(z - z.max(1, keepdims=True))
    want /= want.sum(1, keepdims=True)
    assert np.abs(p.probabilities - want).max() <= 1e-5


def test_max_len_clamped_with_a_warning():
    with pytest.warns(UserWarning, match="truncated to 40 tokens"):
        c = wgbert.Classifier(TWO_LABELS, max_len=128)
    assert c.max_len == 40 and c.model_dir == TWO_LABELS


def test_empty_and_order():
    c = wgbert.Classifier(TWO_LABELS)
    p = c.predict([])
    assert p.labels.shape == (0,) and p.probabilities.shape == (0, 2)
    texts = ["the movie was great!", "this film is bad.", "meh, ok so so"]
    one_by_one = [c.predict([t]).scores[0] for t in texts]
    assert np.abs(c.predict(texts).scores - np.array(one_by_one)).max() <= 1e-5
