"""wgbert.ray's batch functions called directly (no cluster): the columns they add, pandas
batches, and never writing over a column the data already has."""

import numpy as np
import pytest

import wgbert
import wgbert.ray
from conftest import TWO_LABELS

TEXTS = np.array(["the movie was great!", "this film is bad.", "meh, ok so so"])


def test_scorer_adds_columns():
    s = wgbert.ray.Scorer(str(TWO_LABELS), max_len=40)
    out = s({"text": TEXTS, "row": np.arange(3)})
    p = wgbert.Classifier(TWO_LABELS, max_len=40).predict(list(TEXTS))
    assert list(out["label"]) == list(p.labels) and np.array_equal(out["score"], p.scores)
    assert np.array_equal(out["p_pos"], p.probabilities[:, 1]) and list(out["row"]) == [0, 1, 2]


def test_scorer_never_overwrites():
    s = wgbert.ray.Scorer(str(TWO_LABELS), max_len=40)
    with pytest.raises(ValueError, match="already has column.*'label'.*prefix="):
        s({"text": TEXTS, "label": np.array(["pos", "neg", "pos"])})
    out = wgbert.ray.Scorer(str(TWO_LABELS), max_len=40, prefix="pred_")({"text": TEXTS, "label": np.zeros(3)})
    assert {"label", "pred_label", "pred_score", "pred_p_neg", "pred_p_pos"} <= set(out)
    with pytest.raises(ValueError, match="no column 'review'"):
        wgbert.ray.Scorer(str(TWO_LABELS), text_column="review", max_len=40)({"text": TEXTS})


def test_pandas_batches(tiny_model):
    pd = pytest.importorskip("pandas")
    out = wgbert.ray.Scorer(str(TWO_LABELS), max_len=40)(pd.DataFrame({"text": TEXTS}))
    assert list(out.columns) == ["text", "label", "score", "p_neg", "p_pos"]
    e = wgbert.ray.Embedder(str(tiny_model), pool="mean", normalize=True)
    vectors = e({"text": TEXTS})["embedding"]
    assert vectors.shape == (3, 32)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)


def test_no_ray_gpu_means_default_adapter():
    # Outside a Ray worker nothing is assigned: wgbert's usual choice.
    assert wgbert.ray.assigned_adapter() is None
