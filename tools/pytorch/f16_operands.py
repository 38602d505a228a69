#!/usr/bin/env python3
"""How far a product with f16-rounded operands (f32 accumulation) lands from the f32 product:
the numerics of `--precision mixed` and of a mode that would convert f32 inputs to f16 on the
fly for tensor cores. By hand (numpy; no GPU): the step's shapes, activations as LayerNorm gives
them (about N(0, 1)), weights at MiniLM's scale (about N(0, 0.05)) and, optionally, MiniLM's own
weights (--model: a folder with model.safetensors, read with the safetensors package).

    python3 tools/pytorch/f16_operands.py [--model models/all-MiniLM-L6-v2]
"""

import argparse

import numpy as np


def errors(x, w):
    exact = x.astype(np.float64) @ w.astype(np.float64).T
    f32 = (x @ w.T).astype(np.float64)
    f16 = (x.astype(np.float16).astype(np.float32) @ w.astype(np.float16).astype(np.float32).T).astype(np.float64)
    scale = np.abs(exact).max()
    rel = lambda y: np.abs(y - exact).max() / scale
    return rel(f32), rel(f16), np.abs(f16 - exact).max()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", help="a folder with model.safetensors (MiniLM's weights)")
    ap.add_argument("--rows", type=int, default=1024)
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    weights = {}
    if a.model:
        from safetensors.numpy import load_file

        for k, v in load_file(f"{a.model}/model.safetensors").items():
            if v.ndim == 2 and "layer.0." in k and "LayerNorm" not in k:
                weights[k] = v.astype(np.float32)
    for k_dim, n in [(384, 384), (384, 1536), (1536, 384)]:
        weights.setdefault(f"random N(0, 0.05) {n}x{k_dim}", (0.05 * rng.standard_normal((n, k_dim))).astype(np.float32))
    print(f"{'weight':48} {'K':>5} {'f32 rel':>9} {'f16-operand rel':>15} {'f16 abs':>9}")
    for name, w in weights.items():
        x = rng.standard_normal((a.rows, w.shape[1])).astype(np.float32)
        e32, e16, abs16 = errors(x, w)
        print(f"{name[:48]:48} {w.shape[1]:5} {e32:9.1e} {e16:15.1e} {abs16:9.1e}")


if __name__ == "__main__":
    main()
