"""wgbert: fine-tune and use BERT on any GPU wgpu reaches (Vulkan, Metal, DX12, GL) — no CUDA.

The same engine as the ``wgbert`` command line, in-process::

    import wgbert
    enc = wgbert.Encoder("models/all-MiniLM-L6-v2")
    vectors = enc.embed(["The movie was great!"], normalize=True)   # (1, 384) float32

Every constructor takes ``backend=`` ("vulkan", "metal", "dx12", "gl") and ``adapter=`` (an index
or a name substring from :func:`adapters`); ``WGBERT_BACKEND`` / ``WGBERT_ADAPTER`` are the
defaults. Errors are ``FileNotFoundError`` (a missing model, file or folder), ``ValueError`` (bad
input or options) and ``RuntimeError`` (the GPU or its driver), with the CLI's messages. GPU work
releases the GIL: one model may be called from several threads.
"""

from __future__ import annotations

import json
import os
import pathlib
import sys
import time
import warnings
from typing import Any, Callable, NamedTuple, Sequence, Tuple, Union

import numpy as np

from . import _wgbert

__version__: str = _wgbert.__version__

#: A text, or a sentence pair (encoded ``[CLS] a [SEP] b [SEP]``).
Text = Union[str, Tuple[str, str]]
PathLike = Union[str, "os.PathLike[str]"]

__all__ = ["adapters", "Encoder", "Classifier", "Predictions", "train", "__version__"]


def _adapter_arg(adapter: int | str | None) -> str | None:
    return None if adapter is None else str(adapter)


def adapters(backend: str | None = None) -> list[dict[str, Any]]:
    """The adapters ``wgbert info`` lists, in the order ``adapter=N`` indexes them.

    Each is a dict: ``index``, ``name``, ``backend``, ``device_type`` ("DiscreteGpu",
    "IntegratedGpu", "VirtualGpu", "Cpu", "Other"), ``driver`` and ``pci_bus_id`` (empty where
    the backend gives none). ``backend`` limits the list to one backend.
    """
    return _wgbert.adapters(backend)


class Encoder:
    """An encoder: texts to vectors, as ``wgbert embed`` computes them.

    ``model_dir``: a model folder (config.json, vocab.txt, weights) or a run folder.
    ``pool``: "mean", "cls" or "pooler"; by default what the model declares (a
    sentence-transformers Pooling module, a head trained by wgbert), else "cls".
    ``max_len``: tokens per text, [CLS] and [SEP] included (default 128, or the model's
    max_position_embeddings where smaller). ``batch_size``: texts per GPU batch.
    ``precision``: "f32", or "mixed": the linear layers' products on their inputs and weights
    rounded to f16, f32 accumulation (``--precision mixed``; needs an adapter with shader-f16).
    """

    def __init__(
        self,
        model_dir: PathLike,
        pool: str | None = None,
        max_len: int | None = None,
        batch_size: int = 32,
        backend: str | None = None,
        adapter: int | str | None = None,
        precision: str = "f32",
    ) -> None:
        self._native = _wgbert.Encoder(
            os.fspath(model_dir), pool, max_len, batch_size, backend, _adapter_arg(adapter), precision
        )

    @property
    def pool(self) -> str:
        """The pooling in use."""
        return self._native.pool

    @property
    def max_len(self) -> int:
        return self._native.max_len

    @property
    def dim(self) -> int:
        """The length of each vector (the model's hidden size)."""
        return self._native.hidden_size

    @property
    def model_dir(self) -> pathlib.Path:
        """The model folder in use (a run folder's model/)."""
        return self._native.model_dir

    @property
    def normalizes(self) -> bool:
        """Whether the model's authors scale its vectors to unit length (sentence-transformers'
        Normalize module): pass ``normalize=True`` to :meth:`embed` to do as they do."""
        return self._native.normalizes

    def embed(self, texts: Sequence[Text], normalize: bool = False) -> np.ndarray:
        """One vector per text, ``(len(texts), dim)`` float32, in the order given.

        ``texts``: strings, or (text, pair) tuples for sentence pairs. ``normalize``: scale each
        vector to unit length.
        """
        return self._native.embed(texts, normalize)

    def __repr__(self) -> str:
        return repr(self._native)


class Predictions(NamedTuple):
    """What :meth:`Classifier.predict` returns, one row per text."""

    #: The predicted class's name, (n,) str.
    labels: np.ndarray
    #: The predicted class's probability, (n,) float32.
    scores: np.ndarray
    #: Every class's probability, (n, classes) float32, columns in ``Classifier.labels`` order.
    probabilities: np.ndarray
    #: The predicted class's index into ``Classifier.labels``, (n,) int64.
    ids: np.ndarray


class Classifier:
    """A classifier, as ``wgbert predict`` scores texts.

    ``path``: a run folder (its model/) or a model folder with a classification head (exported by
    wgbert, or a ``BertForSequenceClassification`` saved by transformers). ``max_len``: tokens per
    text (clamped to the model's max_position_embeddings, with a warning). ``precision``: as
    :class:`Encoder`'s.
    """

    def __init__(
        self,
        path: PathLike,
        max_len: int = 128,
        batch_size: int = 32,
        backend: str | None = None,
        adapter: int | str | None = None,
        precision: str = "f32",
    ) -> None:
        self._native = _wgbert.Classifier(
            os.fspath(path), max_len, batch_size, backend, _adapter_arg(adapter), precision
        )
        if self._native.notice:
            warnings.warn(self._native.notice, stacklevel=2)
        self._names = np.array(self._native.labels)

    @property
    def labels(self) -> list[str]:
        """Class names, index = class id."""
        return self._native.labels

    @property
    def text_pairs(self) -> bool:
        """Whether the model reads sentence pairs: then :meth:`predict` takes (text, pair) tuples."""
        return self._native.text_pairs

    @property
    def max_len(self) -> int:
        return self._native.max_len

    @property
    def model_dir(self) -> pathlib.Path:
        """The model folder in use (a run folder's model/)."""
        return self._native.model_dir

    def predict(self, texts: Sequence[Text]) -> Predictions:
        """Each text's label, score and every class's probability (numpy arrays, in order)."""
        ids, scores, probabilities = self._native.predict(texts)
        labels = self._names[ids] if len(ids) else np.array([], dtype=self._names.dtype)
        return Predictions(labels, scores, probabilities, ids)

    def __repr__(self) -> str:
        return repr(self._native)


class _Bar:
    """A one-line progress bar on standard error (tqdm's look, none of its dependencies); on a
    log file or CI, a plain line every 30 s instead."""

    def __init__(self, stream=None) -> None:
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.last = 0.0
        self.epochs = "?"

    def _line(self, text: str, final: bool = False) -> None:
        if self.tty:
            self.stream.write("\r\033[K" + text + ("\n" if final else ""))
        elif final or time.monotonic() - self.last >= 30:
            self.last = time.monotonic()
            self.stream.write(text + "\n")
        self.stream.flush()

    def __call__(self, e: dict[str, Any]) -> None:
        kind = e["event"]
        if kind == "step":
            done = int(30 * e["step"] / max(e["steps"], 1))
            bar = "=" * done + " " * (30 - done)
            self._line(
                f"epoch {e['epoch']}/{self.epochs} [{bar}] {e['step']}/{e['steps']} "
                f"loss {e['loss']:.4f} accuracy {e['accuracy']:.4f}"
            )
        elif kind == "epoch_end":
            val = ""
            if e["val_loss"] is not None:
                val = f" - val_loss: {e['val_loss']:.4f} - val_accuracy: {e['val_accuracy']:.4f}"
            self._line(
                f"epoch {e['epoch']}/{self.epochs} - {e['seconds']:.0f}s - loss: {e['loss']:.4f} "
                f"- accuracy: {e['accuracy']:.4f}{val}",
                final=True,
            )
        elif kind == "scoring":
            self._line(f"scoring {e['set']} {e['done']}/{e['total']}", final=e["done"] >= e["total"])
        elif kind == "notice":
            if self.tty:
                self.stream.write("\r\033[K")
            self.stream.write(e["message"] + "\n")
            self.stream.flush()


def train(
    data: PathLike | None = None,
    out: PathLike | None = None,
    *,
    resume: PathLike | None = None,
    progress: Callable[[dict[str, Any]], None] | bool | None = True,
    backend: str | None = None,
    adapter: int | str | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Fine-tunes a classifier, as ``wgbert train`` does, into the run folder ``out``.

    ``data``: an IMDB folder or tarball, or a CSV / JSONL file. ``options``: the CLI's options by
    their Python names — ``model`` (default "models/all-MiniLM-L6-v2"), ``test_data``,
    ``epochs``, ``batch_size``, ``max_len``, ``lr``, ``warmup``, ``dropout``, ``weight_decay``,
    ``seed``, ``precision`` ("f32" or "mixed"), ``loss_scale``, ``pool``, ``freeze_layers``,
    ``checkpoint_every``, ``limit_train``, ``limit_test``, ``text_column``, ``label_column``,
    ``text_pair_column``, ``validation_fraction``.

    ``progress``: a callable given each event as a dict (``event`` is "epoch_start", "step",
    "epoch_end", "scoring", "saved" or "notice"); True (default) draws a bar on standard error,
    False or None is silent. ``resume``: continue the interrupted run in this folder, with its
    own settings (give no ``data``, ``out`` or options).

    Ctrl-C (KeyboardInterrupt), or an exception raised by ``progress``, stops the run after the
    step, saves a checkpoint, and then propagates; ``train(resume=out)`` continues it.

    Returns the run's history: ``epochs`` (one dict per epoch: loss, accuracy, val_loss,
    val_accuracy, seconds), ``steps`` ((global step, loss) pairs), ``test`` (the test set's
    report, or None), ``run_dir`` and ``model_dir`` (the exported model: give it to
    :class:`Classifier`).
    """
    if data is not None:
        options["data"] = os.fspath(data)
    for key in ("model", "test_data"):
        if key in options and options[key] is not None:
            options[key] = os.fspath(options[key])
    if progress is True:
        bar = _Bar()
        bar.epochs = options.get("epochs", 5)
        callback = bar
    else:
        callback = progress or None
    result = json.loads(
        _wgbert.train(
            json.dumps(options),
            None if out is None else os.fspath(out),
            None if resume is None else os.fspath(resume),
            callback,
            backend,
            _adapter_arg(adapter),
        )
    )
    history = result.pop("history") or {"epochs": [], "steps": []}
    history.update(result)
    return history
