//! Strided batched matmul, C = alpha · op(A) · op(B) (+ bias) (+ C), with the layouts of ops::matmul.

use crate::kernel_args::{Dims, Layout};

fn at(x: &[f64], l: &Layout, z1: usize, z2: usize, r: usize, c: usize) -> f64 {
    // (r, c) of the operand as used; the stored matrix is its transpose when l.trans.
    let (sr, sc) = if l.trans { (c, r) } else { (r, c) };
    x[l.off + z1 * l.s1 + z2 * l.s2 + sr * l.ld + sc]
}

#[allow(clippy::too_many_arguments)]
pub fn gemm(
    d: Dims,
    a: &[f64],
    la: Layout,
    b: &[f64],
    lb: Layout,
    bias: Option<&[f64]>,
    c: &mut [f64],
    lc: Layout,
    alpha: f64,
    accumulate: bool,
) {
    for z1 in 0..d.nb1 {
        for z2 in 0..d.nb2 {
            for m in 0..d.m {
                for n in 0..d.n {
                    let mut s = 0.0;
                    for k in 0..d.k {
                        s += at(a, &la, z1, z2, m, k) * at(b, &lb, z1, z2, k, n);
                    }
                    let mut v = alpha * s + bias.map_or(0.0, |b| b[n]);
                    let i = lc.off + z1 * lc.s1 + z2 * lc.s2 + m * lc.ld + n;
                    if accumulate {
                        v += c[i];
                    }
                    c[i] = v;
                }
            }
        }
    }
}

/// (M, K) · (K, N), row-major.
pub fn matmul(a: &[f64], b: &[f64], m: usize, k: usize, n: usize) -> Vec<f64> {
    let mut c = vec![0.0; m * n];
    gemm(
        Dims { m, n, k, nb1: 1, nb2: 1 },
        a,
        Layout::rows(k),
        b,
        Layout::rows(n),
        None,
        &mut c,
        Layout::rows(n),
        1.0,
        false,
    );
    c
}

/// y (R, OUT) = x (R, IN) · wᵀ + bias, w (OUT, IN).
pub fn linear(x: &[f64], w: &[f64], bias: Option<&[f64]>, rows: usize, in_f: usize, out_f: usize) -> Vec<f64> {
    let mut y = vec![0.0; rows * out_f];
    gemm(
        Dims { m: rows, n: out_f, k: in_f, nb1: 1, nb2: 1 },
        x,
        Layout::rows(in_f),
        w,
        Layout::rows(in_f).t(),
        bias,
        &mut y,
        Layout::rows(out_f),
        1.0,
        false,
    );
    y
}

/// Backward of `linear`: (dx, dw, dbias).
pub fn linear_backward(
    dy: &[f64],
    x: &[f64],
    w: &[f64],
    rows: usize,
    in_f: usize,
    out_f: usize,
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let mut dx = vec![0.0; rows * in_f];
    let mut dw = vec![0.0; out_f * in_f];
    let mut db = vec![0.0; out_f];
    for r in 0..rows {
        for o in 0..out_f {
            let g = dy[r * out_f + o];
            db[o] += g;
            for i in 0..in_f {
                dx[r * in_f + i] += g * w[o * in_f + i];
                dw[o * in_f + i] += g * x[r * in_f + i];
            }
        }
    }
    (dx, dw, db)
}
