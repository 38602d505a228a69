# Types of the compiled module (python/src/*.rs); wgbert/__init__.py documents the public API.
from os import PathLike
from pathlib import Path
from typing import Any, Callable, Literal, Sequence

import numpy as np
import numpy.typing as npt

__version__: str

def adapters(backend: str | None = None) -> list[dict[str, Any]]: ...
def train(
    options: str,
    out: str | None = None,
    resume: str | None = None,
    progress: Callable[[dict[str, Any]], None] | None = None,
    backend: str | None = None,
    adapter: str | None = None,
) -> str: ...

class Encoder:
    pool: str
    max_len: int
    batch_size: int
    normalizes: bool
    hidden_size: int
    model_dir: Path
    def __init__(
        self,
        model_dir: str | PathLike[str],
        pool: str | None = None,
        max_len: int | None = None,
        batch_size: int = 32,
        backend: str | None = None,
        adapter: str | None = None,
        precision: Literal["f32", "mixed"] = "f32",
    ) -> None: ...
    def embed(self, texts: Sequence[str | tuple[str, str]], normalize: bool = False) -> npt.NDArray[np.float32]: ...

class Classifier:
    labels: list[str]
    text_pairs: bool
    max_len: int
    batch_size: int
    model_dir: Path
    notice: str | None
    def __init__(
        self,
        path: str | PathLike[str],
        max_len: int = 128,
        batch_size: int = 32,
        backend: str | None = None,
        adapter: str | None = None,
        precision: Literal["f32", "mixed"] = "f32",
    ) -> None: ...
    def predict(
        self, texts: Sequence[str | tuple[str, str]]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32], npt.NDArray[np.float32]]: ...
