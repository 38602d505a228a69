//! The one table of tolerances: `wgbert selftest` and the tests in `tests/` both read it.
//! Each bound says why it is what it is; a kernel's f32 result is compared with the f64 reference.

use super::Tol;

/// Copies, gathers, exact IEEE casts, counts.
pub const EXACT: Tol = Tol::EXACT;
/// y + α·x: two f32 roundings.
pub const AXPY: Tol = Tol::new(0.0, 1e-6);

/// A sum of `n` f32 terms of size ~1: rounding grows like √n·ε; 1e-5·n is generous.
pub fn sum_of(n: usize) -> Tol {
    Tol::new(1e-5 * n as f64, 1e-5)
}
/// Matmul with inner dimension K (also linear forward/backward over their summed dimension).
pub fn matmul(k: usize) -> Tol {
    sum_of(k)
}
/// The GELU epilogue on f16 operands: f32 accumulation of f16-rounded products.
pub const F16_EPILOGUE: Tol = Tol::new(1e-4, 1e-4);

pub const LAYERNORM_Y: Tol = Tol::new(1e-5, 1e-5);
pub const LAYERNORM_DX: Tol = Tol::new(1e-4, 1e-4);
/// dgamma, dbeta: column sums over `rows` terms.
pub fn layernorm_param(rows: usize) -> Tol {
    Tol::new(1e-6 * rows as f64 + 1e-5, 1e-5)
}
/// The saved sum of add & norm: one f32 addition.
pub const ADD_SUM: Tol = Tol::new(1e-6, 1e-6);
pub const LAYERNORM_RSTD: Tol = Tol::new(1e-5, 1e-4);

/// erf to 1e-6 absolute (Abramowitz–Stegun 7.1.26 is 1.5e-7); GELU values reach 10: f32 rounding.
pub const GELU: Tol = Tol::new(1e-6, 2e-7);
pub const GELU_BACKWARD: Tol = Tol::new(2e-6, 1e-6);

pub const SOFTMAX: Tol = Tol::new(1e-6, 1e-5);
pub const ATTENTION_CTX: Tol = Tol::new(1e-5, 1e-5);
pub const ATTENTION_PROBS: Tol = Tol::new(1e-6, 1e-5);
pub const ATTENTION_DQKV: Tol = Tol::new(1e-5, 1e-4);

pub const EMBEDDING: Tol = Tol::new(1e-6, 1e-6);
pub const EMBEDDING_GRAD: Tol = Tol::new(1e-5, 1e-5);
/// Dropout scales kept values by 1/(1 − p): one f32 multiplication.
pub const DROPOUT: Tol = Tol::new(1e-7, 1e-6);
/// A mean of up to T values of size ~1, summed in f32 then divided once.
pub const MEAN_POOL: Tol = Tol::new(1e-6, 1e-6);
pub const TANH: Tol = Tol::new(1e-6, 1e-6);
pub const TANH_BACKWARD: Tol = Tol::new(1e-6, 1e-5);
pub const LOSS: Tol = Tol::new(1e-5, 1e-5);
pub const LOSS_BACKWARD: Tol = Tol::new(1e-7, 1e-5);
/// A column sum over `rows` values of size ~1.
pub fn column_sum(rows: usize) -> Tol {
    Tol::new(1e-6 * rows as f64, 1e-6)
}
pub const SUM_OF_SQUARES: Tol = Tol::new(0.0, 1e-5);
pub const ADAMW_PARAM: Tol = Tol::new(1e-6, 1e-6);
pub const ADAMW_M: Tol = Tol::new(1e-7, 1e-6);
pub const ADAMW_V: Tol = Tol::new(1e-9, 1e-5);

/// A GPU backward kernel against central differences of the GPU forward (f32, step h = 1e-2):
/// outputs carry ~1e-7 relative error, divided by 2h.
pub const FINITE_DIFFERENCE: Tol = Tol::new(2e-3, 2e-2);
/// The f64 reference's backward against central differences of its own forward (h = 1e-5):
/// truncation ~1e-10, rounding ~1e-11.
pub const FINITE_DIFFERENCE_F64: Tol = Tol::new(1e-7, 1e-6);

/// The tiny BERT against PyTorch in f64 (tests/fixtures/tiny_bert_grad).
pub const LOGITS_VS_PYTORCH: Tol = Tol::new(1e-5, 1e-5);
pub const LOSS_VS_PYTORCH: Tol = Tol::new(1e-6, 1e-6);
/// A parameter's gradient: 1e-3 of the tensor's largest gradient (f32 kernels against f64),
/// with a floor of 1e-6 for gradients that are zero in exact arithmetic (the key bias: softmax
/// ignores a constant added to every score of a row), where f32 leaves ~1e-9 of noise.
pub fn gradient_vs_pytorch(want: &[f64]) -> Tol {
    let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    Tol::new(1e-3 * scale + 1e-6, 0.0)
}
/// The global gradient norm before clipping, relative.
pub const GRAD_NORM_VS_PYTORCH: Tol = Tol::new(0.0, 1e-5);
/// Parameters after one clipped AdamW step: 1e-5 absolute. Where the gradient is zero in exact
/// arithmetic, AdamW's first step turns f32 rounding g into lr·g/(|g| + eps): a step under lr/10.
pub const PARAM_AFTER_ADAMW: Tol = Tol::new(1e-5, 0.0);
pub const PARAM_AFTER_ADAMW_EXACT_ZERO_GRAD: Tol = Tol::new(1e-4, 0.0);
