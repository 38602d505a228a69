"""wgbert in Ray Data: a batch scorer and a batch embedder that load their model once per actor.

::

    import ray, wgbert.ray
    ds = ray.data.read_json("reviews.jsonl")
    scored = ds.map_batches(wgbert.ray.Scorer, fn_constructor_args=("runs/imdb",),
                            batch_size=256, concurrency=4, num_gpus=1)

Each actor opens the GPU Ray assigned it (``ray.get_gpu_ids()``, mapped onto a wgpu adapter by
PCI bus id: see :mod:`wgbert.devices`), or wgbert's usual choice when it was assigned none. Ray
itself is imported only inside an actor, so this module loads without it.
"""

from __future__ import annotations

from typing import Any, Mapping

import wgbert
from wgbert import devices


def assigned_adapter() -> str | None:
    """The adapter index (for ``adapter=``) of the GPU Ray assigned this worker, or None when
    Ray assigned none (or this is not a Ray worker)."""
    try:
        import ray

        ids = ray.get_gpu_ids() if ray.is_initialized() else []
    except ImportError:
        ids = []
    if not ids:
        return None
    chosen = devices.pick_adapter(ids, wgbert.adapters(), devices.query_nvidia_ordinals())
    return None if chosen is None else str(chosen["index"])


def _columns(batch: Any) -> tuple[Mapping[str, Any], bool]:
    """A batch as a column mapping, and whether it was a pandas DataFrame."""
    if hasattr(batch, "to_dict") and hasattr(batch, "columns"):
        return {c: batch[c].to_numpy() for c in batch.columns}, True
    return batch, False


def _texts(cols: Mapping[str, Any], text_column: str, pair_column: str | None) -> list:
    if text_column not in cols:
        raise ValueError(f"the batch has no column {text_column!r} (columns: {', '.join(cols)}); set text_column=")
    texts = [str(t) for t in cols[text_column]]
    if pair_column is None:
        return texts
    if pair_column not in cols:
        raise ValueError(f"the batch has no column {pair_column!r} (columns: {', '.join(cols)}); set pair_column=")
    return list(zip(texts, (str(p) for p in cols[pair_column])))


def _out(cols: Mapping[str, Any], was_frame: bool, added: dict[str, Any]) -> Any:
    taken = [k for k in added if k in cols]
    if taken:
        # Never write over the data's own columns (a gold "label", say) without a word.
        raise ValueError(
            f"the batch already has column(s) {', '.join(map(repr, taken))}: give prefix= (or column=) "
            "so that the new columns get other names"
        )
    out = dict(cols)
    out.update(added)
    if was_frame:
        import pandas as pd

        return pd.DataFrame({k: (list(v) if getattr(v, "ndim", 1) > 1 else v) for k, v in out.items()})
    return out


class Scorer:
    """Adds ``label``, ``score`` and one ``p_<class>`` probability column per class to each batch
    (numpy or pandas batches), as ``wgbert predict --data`` scores rows.

    ``model_dir``: a run folder or a classifier's model folder, readable on every node.
    ``text_column`` / ``pair_column``: the batch's text (and sentence-pair) columns. ``prefix``:
    put before each added column's name ("pred_" gives ``pred_label``); a name the batch already
    has is an error, never overwritten. ``backend`` / ``adapter``: as :class:`wgbert.Classifier`;
    ``adapter`` defaults to the GPU Ray assigned.
    """

    def __init__(
        self,
        model_dir: str,
        text_column: str = "text",
        pair_column: str | None = None,
        max_len: int = 128,
        batch_size: int = 32,
        prefix: str = "",
        backend: str | None = None,
        adapter: int | str | None = None,
    ) -> None:
        self.text_column, self.pair_column, self.prefix = text_column, pair_column, prefix
        self.model = wgbert.Classifier(
            model_dir, max_len=max_len, batch_size=batch_size, backend=backend,
            adapter=adapter if adapter is not None else assigned_adapter(),
        )

    def __call__(self, batch: Any) -> Any:
        cols, was_frame = _columns(batch)
        p = self.model.predict(_texts(cols, self.text_column, self.pair_column))
        added: dict[str, Any] = {f"{self.prefix}label": p.labels, f"{self.prefix}score": p.scores}
        for k, name in enumerate(self.model.labels):
            added[f"{self.prefix}p_{name}"] = p.probabilities[:, k]
        return _out(cols, was_frame, added)


class Embedder:
    """Adds an ``embedding`` column ((rows, dim) float32) to each batch, as ``wgbert embed``.

    ``model_dir``: the encoder's folder; ``pool`` / ``normalize``: as :class:`wgbert.Encoder`
    and :meth:`wgbert.Encoder.embed`; ``column``: the name of the added column.
    """

    def __init__(
        self,
        model_dir: str,
        text_column: str = "text",
        pair_column: str | None = None,
        pool: str | None = None,
        normalize: bool = False,
        max_len: int | None = None,
        batch_size: int = 32,
        column: str = "embedding",
        backend: str | None = None,
        adapter: int | str | None = None,
    ) -> None:
        self.text_column, self.pair_column, self.column, self.normalize = text_column, pair_column, column, normalize
        self.model = wgbert.Encoder(
            model_dir, pool=pool, max_len=max_len, batch_size=batch_size, backend=backend,
            adapter=adapter if adapter is not None else assigned_adapter(),
        )

    def __call__(self, batch: Any) -> Any:
        cols, was_frame = _columns(batch)
        vectors = self.model.embed(_texts(cols, self.text_column, self.pair_column), normalize=self.normalize)
        return _out(cols, was_frame, {self.column: vectors})


__all__ = ["Scorer", "Embedder", "assigned_adapter"]
