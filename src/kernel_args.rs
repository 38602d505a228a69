//! What a kernel and its CPU reference both take: the shape vocabulary (matmul layouts and
//! problem sizes, attention shapes), the activation kinds, and dropout's counter-based mask rule.
//! `ops` (the GPU side) and `reference` (the f64 side) both build on this module and on neither
//! of each other.

/// How one operand is laid out in its buffer. Element (row, col) of the *stored* matrix of
/// batch (z1, z2) is at `off + z1·s1 + z2·s2 + row·ld + col`. With `trans`, the stored matrix is
/// the transpose of the operand the product uses.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    pub off: usize,
    pub ld: usize,
    pub s1: usize,
    pub s2: usize,
    pub trans: bool,
}

impl Layout {
    /// A plain row-major matrix with `cols` columns, one per buffer (no batch).
    pub fn rows(cols: usize) -> Layout {
        Layout { off: 0, ld: cols, s1: 0, s2: 0, trans: false }
    }
    pub fn t(self) -> Layout {
        Layout { trans: !self.trans, ..self }
    }
    /// Every batch's matrix starts on a vec4 and its rows stay on vec4s (the kernels may then
    /// load it as vec4s).
    pub fn vec4_aligned(&self) -> bool {
        [self.off, self.ld, self.s1, self.s2].iter().all(|x| x % 4 == 0)
    }
}

/// The problem: (nb1 · nb2) products of (M x K) by (K x N).
#[derive(Clone, Copy, Debug)]
pub struct Dims {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub nb1: usize,
    pub nb2: usize,
}

/// Multi-head attention over B sequences of T tokens, NH heads of size HS (C = NH·HS).
#[derive(Clone, Copy, Debug)]
pub struct AttentionShape {
    pub b: usize,
    pub t: usize,
    pub nh: usize,
    pub hs: usize,
}

impl AttentionShape {
    pub fn c(&self) -> usize {
        self.nh * self.hs
    }
}

/// Dropout on the attention probabilities (HF's attention_probs_dropout_prob), by the mask rule
/// below: both attention paths (ops::attention's matmuls, ops::attention_fused) take it.
#[derive(Clone, Copy, Debug)]
pub struct ProbDropout {
    pub p: f32,
    pub seed: u32,
}

/// The feed-forward activation (gelu.wgsl's ACT and the matmul epilogue's code − 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GeluKind {
    /// ½ x (1 + erf(x/√2)): BERT's and HF's "gelu".
    Erf,
    /// The tanh approximation: HF's "gelu_new".
    Tanh,
    /// max(x, 0): BERT variants with `hidden_act: relu`.
    Relu,
}

// Dropout's mask, bit for bit the same in elementwise.wgsl, layernorm.wgsl and attention.wgsl.

/// The PCG hash of elementwise.wgsl.
pub fn pcg(v: u32) -> u32 {
    let state = v.wrapping_mul(747796405).wrapping_add(2891336453);
    let word = ((state >> ((state >> 28) + 4)) ^ state).wrapping_mul(277803737);
    (word >> 22) ^ word
}

/// Elements whose hash falls below this are dropped: p · 2³².
pub fn dropout_threshold(p: f32) -> u32 {
    ((p as f64) * 4294967296.0).min(u32::MAX as f64) as u32
}

/// The dropout words of a kernel's Params: (threshold, seed, keep scale 1 / (1 - p)), or
/// (0, 0, 1) without dropout. `drop` is (p, seed).
pub fn dropout_words(drop: Option<(f32, u32)>) -> (u32, u32, f32) {
    match drop {
        Some((p, seed)) => (dropout_threshold(p), seed, 1.0 / (1.0 - p)),
        None => (0, 0, 1.0),
    }
}

pub fn keep(seed: u32, i: u32, threshold: u32) -> bool {
    pcg(pcg(i) ^ seed) >= threshold
}
