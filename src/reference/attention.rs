//! Multi-head attention on the fused qkv (B·T, 3C), as ops::attention, in f64.

use crate::kernel_args::AttentionShape;

fn q(qkv: &[f64], s: &AttentionShape, which: usize, b: usize, h: usize, t: usize, d: usize) -> f64 {
    let c3 = 3 * s.c();
    qkv[(b * s.t + t) * c3 + which * s.c() + h * s.hs + d]
}

/// Softmax over the last dimension of scores (B·NH, T, T), scaled and masked like HF BertModel.
pub fn softmax(scores: &[f64], mask: &[f64], s: &AttentionShape, scale: f64) -> Vec<f64> {
    let t = s.t;
    let mut p = vec![0.0; scores.len()];
    for row in 0..scores.len() / t {
        let b = row / (s.nh * t);
        let v: Vec<f64> =
            (0..t).map(|j| scores[row * t + j] * scale + (1.0 - mask[b * t + j]) * f32::MIN as f64).collect();
        let mx = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = v.iter().map(|x| (x - mx).exp()).collect();
        let sum: f64 = e.iter().sum();
        for j in 0..t {
            p[row * t + j] = e[j] / sum;
        }
    }
    p
}

pub fn softmax_backward(p: &[f64], dp: &[f64], t: usize, scale: f64) -> Vec<f64> {
    let mut ds = vec![0.0; p.len()];
    for row in 0..p.len() / t {
        let r = row * t..(row + 1) * t;
        let dot: f64 = p[r.clone()].iter().zip(&dp[r.clone()]).map(|(a, b)| a * b).sum();
        for j in r {
            ds[j] = p[j] * (dp[j] - dot) * scale;
        }
    }
    ds
}

/// (ctx (B·T, C), probs (B·NH, T, T)).
pub fn forward(qkv: &[f64], mask: &[f64], s: &AttentionShape) -> (Vec<f64>, Vec<f64>) {
    let (t, hs, c) = (s.t, s.hs, s.c());
    let scale = 1.0 / (hs as f64).sqrt();
    let mut scores = vec![0.0; s.b * s.nh * t * t];
    for b in 0..s.b {
        for h in 0..s.nh {
            for i in 0..t {
                for j in 0..t {
                    scores[((b * s.nh + h) * t + i) * t + j] =
                        (0..hs).map(|d| q(qkv, s, 0, b, h, i, d) * q(qkv, s, 1, b, h, j, d)).sum();
                }
            }
        }
    }
    let p = softmax(&scores, mask, s, scale);
    let mut ctx = vec![0.0; s.b * t * c];
    for b in 0..s.b {
        for h in 0..s.nh {
            for i in 0..t {
                for d in 0..hs {
                    ctx[(b * t + i) * c + h * hs + d] =
                        (0..t).map(|j| p[((b * s.nh + h) * t + i) * t + j] * q(qkv, s, 2, b, h, j, d)).sum();
                }
            }
        }
    }
    (ctx, p)
}

/// dqkv (B·T, 3C).
pub fn backward(dctx: &[f64], qkv: &[f64], p: &[f64], s: &AttentionShape) -> Vec<f64> {
    let (t, hs, c) = (s.t, s.hs, s.c());
    let scale = 1.0 / (hs as f64).sqrt();
    let mut dqkv = vec![0.0; qkv.len()];
    let mut dp = vec![0.0; p.len()];
    let pi = |b: usize, h: usize, i: usize, j: usize| ((b * s.nh + h) * t + i) * t + j;
    let di = |which: usize, b: usize, h: usize, t_: usize, d: usize| (b * t + t_) * 3 * c + which * c + h * hs + d;
    for b in 0..s.b {
        for h in 0..s.nh {
            for i in 0..t {
                for j in 0..t {
                    dp[pi(b, h, i, j)] =
                        (0..hs).map(|d| dctx[(b * t + i) * c + h * hs + d] * q(qkv, s, 2, b, h, j, d)).sum();
                }
            }
            for j in 0..t {
                for d in 0..hs {
                    dqkv[di(2, b, h, j, d)] =
                        (0..t).map(|i| p[pi(b, h, i, j)] * dctx[(b * t + i) * c + h * hs + d]).sum();
                }
            }
        }
    }
    let ds = softmax_backward(p, &dp, t, scale);
    for b in 0..s.b {
        for h in 0..s.nh {
            for i in 0..t {
                for d in 0..hs {
                    dqkv[di(0, b, h, i, d)] = (0..t).map(|j| ds[pi(b, h, i, j)] * q(qkv, s, 1, b, h, j, d)).sum();
                    dqkv[di(1, b, h, i, d)] = (0..t).map(|j| ds[pi(b, h, j, i)] * q(qkv, s, 0, b, h, j, d)).sum();
                }
            }
        }
    }
    dqkv
}
