#!/usr/bin/env python3
"""Rewrites a safetensors file with every F32 tensor stored as F16 (IEEE binary16, rounded to
nearest even by struct's 'e' format); other dtypes are copied as they are. Standard library only,
so that tools/gpu/pack.sh runs on a machine without torch or numpy.

    python3 tools/gpu/f16_safetensors.py IN.safetensors OUT.safetensors

wgbert's loader widens F16 to f32 on load; transformers loads it too (bench_torch_step.py casts the
model back to f32). A value beyond F16's range (|x| > 65504) stops the conversion with its tensor's
name: the file would no longer be the same model.
"""

import array
import json
import struct
import sys

CHUNK = 1 << 20  # values converted at a time (bounded memory for the 30522 x 384 embedding)


def main():
    src, dst = sys.argv[1], sys.argv[2]
    with open(src, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        base = 8 + n
        meta = header.pop("__metadata__", None)
        names = sorted(header, key=lambda k: header[k]["data_offsets"][0])
        out_header, blobs, offset = {}, [], 0
        for name in names:
            t = header[name]
            b, e = t["data_offsets"]
            f.seek(base + b)
            raw = f.read(e - b)
            if t["dtype"] == "F32":
                vals = array.array("f")
                vals.frombytes(raw)
                if sys.byteorder != "little":
                    vals.byteswap()
                parts = []
                for i in range(0, len(vals), CHUNK):
                    chunk = vals[i : i + CHUNK]
                    try:
                        packed = struct.pack("<%de" % len(chunk), *chunk)
                    except OverflowError:
                        sys.exit(f"{name}: a value beyond f16's range (max {max(map(abs, chunk))})")
                    parts.append(packed)
                raw, dtype = b"".join(parts), "F16"
            else:
                dtype = t["dtype"]
            out_header[name] = {"dtype": dtype, "shape": t["shape"], "data_offsets": [offset, offset + len(raw)]}
            blobs.append(raw)
            offset += len(raw)
    if meta is not None:
        out_header["__metadata__"] = meta
    text = json.dumps(out_header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the data starts 8-byte aligned, as safetensors writers do
    with open(dst, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in blobs:
            f.write(raw)
    print(f"{dst}: {len(names)} tensors, {offset + 8 + len(text)} bytes")


if __name__ == "__main__":
    main()
