//! The products a model needs, on `gemm`: a plain matmul, nn.Linear forward (with an
//! activation epilogue) and its backward.

use std::sync::Arc;

use super::{
    chosen_variant, gemm, gemm_epilogue, gemm_pair, gemm_row_sums, gemm_with, pair_fits, Dims, Epilogue, Layout,
    Operands, Second,
};
use crate::gpu::{shape_err, DType, Gpu, GpuError, Tensor};
use crate::ops::gelu::{gelu_backward, GeluKind};
use crate::ops::reduce;

fn dims2(op: &str, t: &Tensor) -> Result<(usize, usize), GpuError> {
    match t.shape() {
        [r, c] => Ok((*r, *c)),
        s => Err(shape_err(format!("{op}: {} must be 2-D, has shape {s:?}", t.name()))),
    }
}

/// out (M, N) = a (M, K) · b (K, N); with `trans_a` / `trans_b` the stored matrices are (K, M) / (N, K).
pub fn matmul(gpu: &Arc<Gpu>, a: &Tensor, b: &Tensor, trans_a: bool, trans_b: bool) -> Result<Tensor, GpuError> {
    let (ar, ac) = dims2("matmul", a)?;
    let (br, bc) = dims2("matmul", b)?;
    let (m, k) = if trans_a { (ac, ar) } else { (ar, ac) };
    let (k2, n) = if trans_b { (bc, br) } else { (br, bc) };
    if k != k2 {
        return Err(shape_err(format!(
            "matmul: inner dimensions differ: {} {:?} and {} {:?}",
            a.name(),
            a.shape(),
            b.name(),
            b.shape()
        )));
    }
    let out = gpu.empty("matmul output", &[m, n])?;
    let la = Layout { trans: trans_a, ..Layout::rows(ac) };
    let lb = Layout { trans: trans_b, ..Layout::rows(bc) };
    gemm(gpu, Dims { m, n, k, nb1: 1, nb2: 1 }, (a, la), (b, lb), None, (&out, Layout::rows(n)), 1.0, false)?;
    Ok(out)
}

/// y (R, OUT) = x (R, IN) · wᵀ + bias, with w stored (OUT, IN) as in PyTorch's nn.Linear.
pub fn linear(gpu: &Arc<Gpu>, x: &Tensor, w: &Tensor, bias: Option<&Tensor>) -> Result<Tensor, GpuError> {
    let (out_f, in_f) = dims2("linear", w)?;
    let rows = crate::ops::rows_of("linear", x, in_f)?;
    let y = gpu.empty("linear output", &[rows, out_f])?;
    gemm(
        gpu,
        Dims { m: rows, n: out_f, k: in_f, nb1: 1, nb2: 1 },
        (x, Layout::rows(in_f)),
        (w, Layout::rows(in_f).t()),
        bias,
        (&y, Layout::rows(out_f)),
        1.0,
        false,
    )?;
    let mut shape = x.shape().to_vec();
    *shape.last_mut().expect("rows_of checked the rank") = out_f;
    y.reshape(&shape)
}

/// y (R, OUT) = act(x (R, IN) · wᵀ + bias) with the activation in the matmul's epilogue, and
/// with `save_pre` its input h = x · wᵀ + bias, which the backward needs (inference needs none).
pub fn linear_act(
    gpu: &Arc<Gpu>,
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    act: GeluKind,
    save_pre: bool,
) -> Result<(Tensor, Option<Tensor>), GpuError> {
    let (out_f, in_f) = dims2("linear", w)?;
    let rows = crate::ops::rows_of("linear", x, in_f)?;
    let mut shape = x.shape().to_vec();
    *shape.last_mut().expect("rows_of checked the rank") = out_f;
    let y = gpu.empty("linear output", &shape)?;
    let pre = if save_pre { Some(gpu.empty("linear pre-activation", &shape)?) } else { None };
    let d = Dims { m: rows, n: out_f, k: in_f, nb1: 1, nb2: 1 };
    let (la, lb, lc) = (Layout::rows(in_f), Layout::rows(in_f).t(), Layout::rows(out_f));
    // The variant tuned for the plain product of this shape: the epilogue runs once per element.
    let variant = chosen_variant(gpu, Operands::of(x, w)?, d, la, lb, bias.is_some(), lc, false)?;
    let epilogue = Epilogue { act, pre: pre.as_ref() };
    gemm_epilogue(gpu, variant, d, (x, la), (w, lb), bias, (&y, lc), 1.0, false, Some(epilogue))?;
    Ok((y, pre))
}

/// Backward of `linear`: returns dx (assigned) and accumulates dw += dyᵀ·x and dbias += Σ_rows dy.
pub fn linear_backward(
    gpu: &Arc<Gpu>,
    dy: &Tensor,
    x: &Tensor,
    w: &Tensor,
    dw: &Tensor,
    dbias: Option<&Tensor>,
    need_dx: bool,
) -> Result<Option<Tensor>, GpuError> {
    linear_backward_into(gpu, dy, x, w, dw, dbias, need_dx, None)
}

/// `linear_backward` (under mixed precision dy, x and w are read as f16 by the products:
/// `Tensor::read_as_f16`; a separate bias-gradient pass sums dy as stored); and with
/// `dx_sum` (x's gradient so far, f32, x's shape) dx is added into it and it is returned,
/// instead of a new tensor: the second consumer of an input (a residual branch) needs no
/// separate addition pass.
#[allow(clippy::too_many_arguments)]
pub fn linear_backward_into(
    gpu: &Arc<Gpu>,
    dy: &Tensor,
    x: &Tensor,
    w: &Tensor,
    dw: &Tensor,
    dbias: Option<&Tensor>,
    need_dx: bool,
    dx_sum: Option<Tensor>,
) -> Result<Option<Tensor>, GpuError> {
    let dx = match (need_dx, dx_sum) {
        (false, _) => InputGrad::Skip,
        (true, None) => InputGrad::New,
        (true, Some(t)) => InputGrad::AddTo(t),
    };
    backward(gpu, dy, x, w, dw, dbias, dx)
}

/// `linear_backward` for a layer whose input x = act(pre) came out of an activation (the FFN's
/// second dense layer): returns the gradient of `pre`, (dy · w) ⊙ act'(pre), where the linear
/// layer's backward runs as one launch in the same pass, else by a separate one.
#[allow(clippy::too_many_arguments)]
pub fn linear_backward_through(
    gpu: &Arc<Gpu>,
    dy: &Tensor,
    x: &Tensor,
    w: &Tensor,
    dw: &Tensor,
    dbias: Option<&Tensor>,
    act: GeluKind,
    pre: &Tensor,
) -> Result<Tensor, GpuError> {
    like_input("the pre-activation", pre, x)?;
    backward(gpu, dy, x, w, dw, dbias, InputGrad::ThroughAct(act, pre))?
        .ok_or_else(|| shape_err("linear backward: no input gradient came back through the activation"))
}

/// `t` is f32 and shaped like the layer's input x.
fn like_input(what: &str, t: &Tensor, x: &Tensor) -> Result<(), GpuError> {
    if t.shape() != x.shape() || t.dtype() != DType::F32 {
        return Err(shape_err(format!(
            "linear backward: {what} {} {:?} ({:?}) does not match the input {} {:?}",
            t.name(),
            t.shape(),
            t.dtype(),
            x.name(),
            x.shape()
        )));
    }
    Ok(())
}

/// What a linear layer's backward does with its input's gradient.
enum InputGrad<'a> {
    Skip,
    New,
    /// Added into this tensor (the input's gradient so far), which is returned.
    AddTo(Tensor),
    /// Multiplied by the activation's derivative at its input (the input is act(pre)).
    ThroughAct(GeluKind, &'a Tensor),
}

/// Whether a linear layer's dW and dX may run as one launch (`WGBERT_LINEAR_BACKWARD=separate`
/// keeps them apart: the GPU kit times both).
fn pairs_allowed(gpu: &Gpu) -> bool {
    gpu.variant("linear_backward").as_deref() != Some("separate")
}

#[allow(clippy::too_many_arguments)]
fn backward(
    gpu: &Arc<Gpu>,
    dy: &Tensor,
    x: &Tensor,
    w: &Tensor,
    dw: &Tensor,
    dbias: Option<&Tensor>,
    dx: InputGrad,
) -> Result<Option<Tensor>, GpuError> {
    let (out_f, in_f) = dims2("linear backward", w)?;
    let rows = crate::ops::rows_of("linear backward", x, in_f)?;
    let rows_dy = crate::ops::rows_of("linear backward", dy, out_f)?;
    if rows != rows_dy {
        return Err(shape_err(format!("linear backward: {} has {rows} rows, {} has {rows_dy}", x.name(), dy.name())));
    }
    if let InputGrad::AddTo(t) = &dx {
        like_input("the gradient sum", t, x)?;
    }
    dw.expect_shape("linear backward", &[out_f, in_f])?;
    // dw (OUT, IN) += dyᵀ (OUT, R) · x (R, IN); dbias += Σ_rows dy, the row sums of dyᵀ, from the
    // same launch where the variant can, else by a column sum of its own. With f16 operands the
    // row sums add dy rounded to f16 (in f32), as PyTorch's autocast sums its f16 output gradient:
    // the tiny BERT's worst bias gradient against PyTorch's f64 moved from 2.98e-3 to 3.30e-3 of
    // its largest value, and a column sum launch per layer is saved.
    let d = Dims { m: out_f, n: in_f, k: rows, nb1: 1, nb2: 1 };
    let (la, lb, lc) = (Layout::rows(out_f).t(), Layout::rows(in_f), Layout::rows(in_f));
    let variant = chosen_variant(gpu, Operands::of(dy, x)?, d, la, lb, false, lc, true)?;
    let row_sums = dbias.filter(|_| variant.sums_rows());
    // dx (R, IN) (+)= dy (R, OUT) · w (OUT, IN)
    let dx_d = Dims { m: rows, n: in_f, k: out_f, nb1: 1, nb2: 1 };
    let (dx_la, dx_lb, dx_lc) = (Layout::rows(out_f), Layout::rows(in_f), Layout::rows(in_f));
    let accumulate = matches!(dx, InputGrad::AddTo(_));
    let act_grad = match &dx {
        InputGrad::ThroughAct(act, pre) => Some((*act, *pre)),
        _ => None,
    };
    let dx = match dx {
        InputGrad::Skip => None,
        InputGrad::AddTo(t) => Some(t),
        InputGrad::New | InputGrad::ThroughAct(..) => Some(gpu.empty("linear input gradient", x.shape())?),
    };
    // Both products in one launch where the variants picked for them both can.
    if let Some(dx) = &dx {
        let dx_variant = chosen_variant(gpu, Operands::of(dy, w)?, dx_d, dx_la, dx_lb, false, dx_lc, accumulate)?;
        if pairs_allowed(gpu) && dx_variant.pair_entry().is_some() && pair_fits(gpu, variant, d, dx_d) {
            let second = Second { d: dx_d, a: dx_la, b: (w, dx_lb), c: (dx, dx_lc), alpha: 1.0, accumulate, act_grad };
            gemm_pair(gpu, variant, d, (dy, la), (x, lb), (dw, lc), 1.0, true, row_sums, second)?;
            if let (Some(db), None) = (dbias, row_sums) {
                reduce::col_sum(gpu, dy, db, true)?;
            }
            return Ok(Some(dx.clone()));
        }
    }
    match row_sums {
        Some(db) => gemm_row_sums(gpu, variant, d, (dy, la), (x, lb), (dw, lc), 1.0, db)?,
        None => {
            gemm_with(gpu, variant, d, (dy, la), (x, lb), None, (dw, lc), 1.0, true)?;
            if let Some(db) = dbias {
                reduce::col_sum(gpu, dy, db, true)?;
            }
        }
    }
    let Some(dx) = dx else { return Ok(None) };
    gemm(gpu, dx_d, (dy, dx_la), (w, dx_lb), None, (&dx, dx_lc), 1.0, accumulate)?;
    match act_grad {
        Some((act, pre)) => Ok(Some(gelu_backward(gpu, &dx, pre, act)?)),
        None => Ok(Some(dx)),
    }
}
