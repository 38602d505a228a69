#!/usr/bin/env python3
"""Writes the fuzz seeds that are not copied from fixtures (see README.md): a small
pytorch_model.bin (and its data.pkl) pickled the way torch.save does, without torch, and the TF
bundle seed (tests/fixtures/tiny_bert/tf's index with the first 48 KiB of its data shard, in the
input layout of src/fuzzing.rs's fuzz_tf_bundle).

    python3 tools/fuzz/make_seeds.py        (from the repository root; standard library only)
"""
import collections
import io
import pickle
import struct
import sys
import types
import zipfile

SEEDS = "tools/fuzz/seeds"

# Stand-ins for the torch names torch.save pickles: pickle writes a global's module and name.
torch = types.ModuleType("torch")
utils = types.ModuleType("torch._utils")
sys.modules.update({"torch": torch, "torch._utils": utils})


def _rebuild_tensor_v2(*args):
    raise NotImplementedError


_rebuild_tensor_v2.__module__ = "torch._utils"
utils._rebuild_tensor_v2 = _rebuild_tensor_v2
for kind in ["FloatStorage", "HalfStorage", "LongStorage"]:
    cls = type(kind, (), {"__module__": "torch"})
    setattr(torch, kind, cls)


class Storage:
    def __init__(self, kind, key, fmt, values):
        self.kind, self.key, self.numel = getattr(torch, kind), key, len(values)
        self.bytes = struct.pack(f"<{len(values)}{fmt}", *values)


class Tensor:
    def __init__(self, storage, offset, shape, stride):
        self.args = (storage, offset, shape, stride, False, collections.OrderedDict())

    def __reduce__(self):
        return (_rebuild_tensor_v2, self.args)


class TorchPickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ("storage", obj.kind, obj.key, "cpu", obj.numel)
        return None


f32 = Storage("FloatStorage", "0", "f", [0.5 * i for i in range(12)])
f16 = Storage("HalfStorage", "1", "e", [1.0, -2.0, 0.25, 3.5])
i64 = Storage("LongStorage", "2", "q", [0, 1, 2, 3])
state = collections.OrderedDict(
    [
        ("bert.embeddings.LayerNorm.weight", Tensor(f32, 0, (4,), (1,))),
        # a transposed view: shape (2, 3), strides (1, 2), from element 4
        ("bert.encoder.layer.0.attention.self.query.weight", Tensor(f32, 4, (2, 3), (1, 2))),
        ("bert.pooler.dense.bias", Tensor(f16, 0, (4,), (1,))),
        ("bert.embeddings.position_ids", Tensor(i64, 0, (1, 4), (4, 1))),
        # tied: the same tensor object twice, the second a memo get
        ("cls.predictions.bias", None),
    ]
)
state["cls.predictions.bias"] = state["bert.pooler.dense.bias"]
buf = io.BytesIO()
TorchPickler(buf, protocol=2).dump(state)
pkl = buf.getvalue()

with open(f"{SEEDS}/pickle/small_views.pkl", "wb") as f:
    f.write(pkl)
zbuf = io.BytesIO()
with zipfile.ZipFile(zbuf, "w", zipfile.ZIP_STORED) as z:
    z.writestr("archive/data.pkl", pkl)
    z.writestr("archive/byteorder", "little")
    for s in (f32, f16, i64):
        z.writestr(f"archive/data/{s.key}", s.bytes)
    z.writestr("archive/version", "3\n")
with open(f"{SEEDS}/zip/small_views.bin", "wb") as f:
    f.write(zbuf.getvalue())

tf = "tests/fixtures/tiny_bert/tf/bert_model.ckpt"
index = open(f"{tf}.index", "rb").read()
data = open(f"{tf}.data-00000-of-00001", "rb").read()[: 48 << 10]
with open(f"{SEEDS}/tf_bundle/tiny_bert_head.bin", "wb") as f:
    f.write(struct.pack("<I", len(index)) + index + data)
with open(f"{SEEDS}/tf_bundle/index_only.bin", "wb") as f:
    f.write(struct.pack("<I", len(index)) + index)
