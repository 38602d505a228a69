//! Matrix multiply: the general strided, batched kernel and the layouts BERT uses.
//!
//! `gemm` is the one launch (here, with the choice of variant and its tuning); `variant` names
//! the kernels one product can run on; `panel` is the variant that packs its operands first;
//! `linear` holds `matmul`, `linear` and `linear_backward`, the shapes a model needs.

use std::sync::Arc;

mod linear;
mod panel;
mod variant;

pub use linear::{linear, linear_act, linear_backward, linear_backward_into, linear_backward_through, matmul};
use panel::{gemm_panels, PANEL, PANEL_CHUNKS, PANEL_K};
pub use variant::{Operands, Variant};

use super::gelu::GeluKind;
use super::{f, tune};
use crate::gpu::{shape_err, Arg, DType, Gpu, GpuError, Kernel, Tensor, TuneMode};
pub use crate::kernel_args::{Dims, Layout};

fn check_operand(what: &str, t: &Tensor, l: &Layout, rows: usize, cols: usize, d: &Dims) -> Result<(), GpuError> {
    // rows x cols is the operand as used; the stored matrix is transposed when l.trans.
    let (sr, sc) = if l.trans { (cols, rows) } else { (rows, cols) };
    if l.ld < sc {
        return Err(shape_err(format!("matmul: {what} {} has row stride {} < {} columns", t.name(), l.ld, sc)));
    }
    let last = l.off + (d.nb1 - 1) * l.s1 + (d.nb2 - 1) * l.s2 + (sr - 1) * l.ld + (sc - 1);
    if last >= t.numel() {
        return Err(shape_err(format!(
            "matmul: {what} {} {:?} is too small for a {}x{} operand (batch {}x{}): needs element {last}",
            t.name(),
            t.shape(),
            rows,
            cols,
            d.nb1,
            d.nb2
        )));
    }
    if last > u32::MAX as usize {
        return Err(shape_err(format!("matmul: {what} {} is too large to index with 32 bits", t.name())));
    }
    Ok(())
}

/// C = alpha · op(A) · op(B) (+ bias) (+ C if `accumulate`), for every batch, with the variant
/// `chosen_variant` picks for the problem.
#[allow(clippy::too_many_arguments)]
pub fn gemm(
    gpu: &Arc<Gpu>,
    d: Dims,
    a: (&Tensor, Layout),
    b: (&Tensor, Layout),
    bias: Option<&Tensor>,
    c: (&Tensor, Layout),
    alpha: f32,
    accumulate: bool,
) -> Result<(), GpuError> {
    let variant = chosen_variant(gpu, Operands::of(a.0, b.0)?, d, a.1, b.1, bias.is_some(), c.1, accumulate)?;
    gemm_with(gpu, variant, d, a, b, bias, c, alpha, accumulate)
}

/// The variant `gemm` runs for this problem: the user's choice, else the measured one for the
/// shape (measured now when tuning is on and the shape is new; see `ops::tune`), else the
/// device type's default. `operands` says how A and B are read (f16 operands are a shader of
/// their own, tuned apart).
#[allow(clippy::too_many_arguments)]
pub fn chosen_variant(
    gpu: &Arc<Gpu>,
    operands: Operands,
    d: Dims,
    la: Layout,
    lb: Layout,
    bias: bool,
    lc: Layout,
    accumulate: bool,
) -> Result<Variant, GpuError> {
    // A forced `coop` applies where it can run (f16 operands on such an adapter).
    if let Some(v) = Variant::user_choice(gpu).filter(|v| Variant::runnable(gpu, operands).contains(v)) {
        return Ok(v);
    }
    let candidates = Variant::candidates(gpu, operands);
    // Tensor cores for f16 operands wherever the adapter has them; else by device type.
    let default = if candidates.contains(&Variant::Coop) { Variant::Coop } else { Variant::default_for(gpu) };
    if gpu.tuning() == TuneMode::Off {
        return Ok(default);
    }
    let aligned = la.vec4_aligned() && lb.vec4_aligned() && lc.vec4_aligned();
    let flag = |b: bool, y: &'static str| if b { y } else { "-" };
    let key = format!(
        "matmul@{:016x} {}x{}x{} b{} {}{} {} {} {}",
        kernels_hash(gpu, operands),
        d.m,
        d.n,
        d.k,
        d.nb1 * d.nb2,
        if la.trans { 't' } else { 'n' },
        if lb.trans { 't' } else { 'n' },
        flag(bias, "bias"),
        flag(accumulate, "acc"),
        flag(aligned, "vec4"),
    );
    // A cached choice that is no longer a candidate here (an older build's) is measured again.
    if let Some(v) = gpu.tuned(&key).and_then(|s| Variant::parse(&s)).filter(|v| candidates.contains(v)) {
        return Ok(v);
    }
    tune_gemm(gpu, &key, operands, d, (la.trans, lb.trans), bias, accumulate, aligned, &candidates, default)
}

/// `d` trimmed to about `budget` flops: fewer batches, then rows, depth and columns, never
/// below one panel (128) of rows and columns or four panels (512) of depth.
fn trial_dims(d: Dims, budget: u64) -> Dims {
    let flops = |t: &Dims| 2 * (t.m * t.n * t.k * t.nb1) as u64;
    let mut t = Dims { nb1: d.nb1 * d.nb2, nb2: 1, ..d };
    while flops(&t) > budget && t.nb1 > 1 {
        t.nb1 = t.nb1.div_ceil(2);
    }
    while flops(&t) > budget && t.m > PANEL {
        t.m = (t.m / 2).max(PANEL);
    }
    while flops(&t) > budget && t.k > PANEL_CHUNKS * PANEL_K {
        t.k = (t.k / 2).max(PANEL_CHUNKS * PANEL_K);
    }
    while flops(&t) > budget && t.n > PANEL {
        t.n = (t.n / 2).max(PANEL);
    }
    t
}

/// Times every variant on zero-filled operands of the trial shape, with the problem's
/// transposes, bias, accumulation and vec4 alignment (which pick the pipelines).
#[allow(clippy::too_many_arguments)]
fn tune_gemm(
    gpu: &Arc<Gpu>,
    key: &str,
    operands: Operands,
    d: Dims,
    (ta, tb): (bool, bool),
    bias: bool,
    accumulate: bool,
    aligned: bool,
    candidates: &[Variant],
    default: Variant,
) -> Result<Variant, GpuError> {
    let t = trial_dims(d, tune::trial_flops(gpu));
    let ld = |cols: usize| match (aligned, cols.is_multiple_of(4)) {
        (true, _) => cols.next_multiple_of(4),
        (false, true) => cols + 1,
        (false, false) => cols,
    };
    // Stored matrices: A is (K, M) when transposed, else (M, K); B is (N, K) or (K, N).
    let layout = |rows: usize, cols: usize, trans: bool| {
        let l = ld(cols);
        let s1 = (rows * l).next_multiple_of(4);
        (Layout { off: 0, ld: l, s1, s2: 0, trans }, s1 * t.nb1)
    };
    let (la, na) = if ta { layout(t.k, t.m, true) } else { layout(t.m, t.k, false) };
    let (lb, nb) = if tb { layout(t.n, t.k, true) } else { layout(t.k, t.n, false) };
    let (lc, nc) = layout(t.m, t.n, false);
    let zeros = |name: &str, n: usize| match operands {
        Operands::F16 => gpu.zeros(name, &[n]).map(|t| t.read_as_f16()),
        Operands::F32 => gpu.zeros(name, &[n]),
    };
    let a = zeros("tuning A", na)?;
    let b = zeros("tuning B", nb)?;
    let c = gpu.zeros("tuning C", &[nc])?;
    let tiny = Dims { m: t.m.min(8), n: t.n.min(8), k: t.k.min(8), nb1: 1, nb2: 1 };
    let (bias_trial, bias_tiny) = (gpu.zeros("tuning bias", &[t.n])?, gpu.zeros("tuning bias", &[tiny.n])?);
    let (bias_trial, bias_tiny) = (bias.then_some(&bias_trial), bias.then_some(&bias_tiny));
    let mut order = vec![default];
    order.extend(candidates.iter().copied().filter(|v| *v != default));
    let candidates = order
        .into_iter()
        .map(|v| {
            let (a, b, c) = (&a, &b, &c);
            tune::Candidate {
                name: v.name(),
                warm: Box::new(move || gemm_with(gpu, v, tiny, (a, la), (b, lb), bias_tiny, (c, lc), 1.0, accumulate)),
                run: Box::new(move || gemm_with(gpu, v, t, (a, la), (b, lb), bias_trial, (c, lc), 1.0, accumulate)),
            }
        })
        .collect();
    let choice = tune::pick(gpu, key, candidates)?;
    Ok(Variant::parse(&choice).unwrap_or(default))
}

/// An activation applied to C as it is stored (matmul.wgsl's epilogue), with the tensor that
/// receives its input (laid out like C) when the backward needs it.
#[derive(Clone, Copy, Debug)]
pub struct Epilogue<'a> {
    pub act: GeluKind,
    pub pre: Option<&'a Tensor>,
}

/// `gemm` with an explicit kernel variant (tests and the tuner try each).
#[allow(clippy::too_many_arguments)]
pub fn gemm_with(
    gpu: &Arc<Gpu>,
    variant: Variant,
    d: Dims,
    a: (&Tensor, Layout),
    b: (&Tensor, Layout),
    bias: Option<&Tensor>,
    c: (&Tensor, Layout),
    alpha: f32,
    accumulate: bool,
) -> Result<(), GpuError> {
    gemm_epilogue(gpu, variant, d, a, b, bias, c, alpha, accumulate, None)
}

/// `gemm_with` and an activation epilogue.
#[allow(clippy::too_many_arguments)]
pub fn gemm_epilogue(
    gpu: &Arc<Gpu>,
    variant: Variant,
    d: Dims,
    a: (&Tensor, Layout),
    b: (&Tensor, Layout),
    bias: Option<&Tensor>,
    c: (&Tensor, Layout),
    alpha: f32,
    accumulate: bool,
    epilogue: Option<Epilogue>,
) -> Result<(), GpuError> {
    launch_gemm(gpu, variant, d, a, b, bias, c, alpha, accumulate, epilogue, None, None)
}

/// C += alpha · op(A) · op(B) and, from the same launch, row_sums (M) += alpha · Σ_k op(A)
/// (a linear layer's dW = dYᵀ·X and its bias gradient Σ_rows dY). Only the variants whose
/// `sums_rows` is true can; one batch.
#[allow(clippy::too_many_arguments)]
pub fn gemm_row_sums(
    gpu: &Arc<Gpu>,
    variant: Variant,
    d: Dims,
    a: (&Tensor, Layout),
    b: (&Tensor, Layout),
    c: (&Tensor, Layout),
    alpha: f32,
    row_sums: &Tensor,
) -> Result<(), GpuError> {
    if !variant.sums_rows() {
        return Err(shape_err(format!("matmul: the {} variant cannot sum the rows of A", variant.name())));
    }
    if d.nb1 * d.nb2 != 1 {
        return Err(shape_err("matmul: row sums are for one batch"));
    }
    check_row_sums(row_sums, d)?;
    launch_gemm(gpu, variant, d, a, b, None, c, alpha, true, None, Some(row_sums), None)
}

/// Row sums of op(A): one f32 per row.
fn check_row_sums(row_sums: &Tensor, d: Dims) -> Result<(), GpuError> {
    super::expect_numel("matmul row sums", row_sums, d.m)?;
    if row_sums.dtype() != DType::F32 {
        return Err(shape_err(format!("matmul: the row sums {} must be f32", row_sums.name())));
    }
    Ok(())
}

/// The second product of a pair launch (`gemm_pair`): C2 (+)= alpha · op(A) · op(B2), A being
/// the first product's A read with its own layout, and with `act_grad` the result multiplied by
/// the activation's derivative at `pre` (f32, laid out like C2, assigned only).
#[derive(Clone, Copy)]
pub struct Second<'a> {
    pub d: Dims,
    pub a: Layout,
    pub b: (&'a Tensor, Layout),
    pub c: (&'a Tensor, Layout),
    pub alpha: f32,
    pub accumulate: bool,
    pub act_grad: Option<(GeluKind, &'a Tensor)>,
}

/// Whether `variant` can run these two products as one launch on this adapter: it has a pair
/// entry point, each product is one non-empty batch, and their tiles fit one row of the grid.
pub fn pair_fits(gpu: &Gpu, variant: Variant, d: Dims, d2: Dims) -> bool {
    let (tm, tn) = variant.tile();
    let tiles = |d: Dims| d.m.div_ceil(tm) * d.n.div_ceil(tn);
    let one = |d: Dims| d.nb1 * d.nb2 == 1 && d.m > 0 && d.n > 0 && d.k > 0;
    variant.pair_entry().is_some()
        && one(d)
        && one(d2)
        && tiles(d) + tiles(d2) <= gpu.limits().max_compute_workgroups_per_dimension as usize
}

/// Two products that share A in one launch: C (+)= alpha · op(A) · op(B), with `row_sums` its
/// rows' sums of op(A) as in `gemm_row_sums`, and `second` (a linear layer's dW with the bias
/// gradient, and its dX). Only where `pair_fits`.
#[allow(clippy::too_many_arguments)]
pub fn gemm_pair(
    gpu: &Arc<Gpu>,
    variant: Variant,
    d: Dims,
    a: (&Tensor, Layout),
    b: (&Tensor, Layout),
    c: (&Tensor, Layout),
    alpha: f32,
    accumulate: bool,
    row_sums: Option<&Tensor>,
    second: Second,
) -> Result<(), GpuError> {
    if !pair_fits(gpu, variant, d, second.d) {
        return Err(shape_err(format!(
            "matmul: the {} variant cannot run {}x{}x{} and {}x{}x{} as one launch",
            variant.name(),
            d.m,
            d.n,
            d.k,
            second.d.m,
            second.d.n,
            second.d.k
        )));
    }
    if let Some(t) = row_sums {
        check_row_sums(t, d)?;
    }
    if second.act_grad.is_some() && second.accumulate {
        return Err(shape_err("matmul: an activation's derivative cannot be applied to an accumulated product"));
    }
    launch_gemm(gpu, variant, d, a, b, None, c, alpha, accumulate, None, row_sums, Some(&second))
}

#[allow(clippy::too_many_arguments)]
fn launch_gemm(
    gpu: &Arc<Gpu>,
    variant: Variant,
    d: Dims,
    a: (&Tensor, Layout),
    b: (&Tensor, Layout),
    bias: Option<&Tensor>,
    c: (&Tensor, Layout),
    alpha: f32,
    accumulate: bool,
    epilogue: Option<Epilogue>,
    row_sums: Option<&Tensor>,
    second: Option<&Second>,
) -> Result<(), GpuError> {
    if d.m == 0 || d.n == 0 || d.nb1 == 0 || d.nb2 == 0 {
        return Ok(());
    }
    if d.k == 0 {
        return Err(shape_err(format!("matmul: inner dimension of {} and {} is 0", a.0.name(), b.0.name())));
    }
    let operands = Operands::of(a.0, b.0)?;
    operands.check_supported(gpu)?;
    if variant == Variant::Coop {
        if operands != Operands::F16 {
            return Err(shape_err(format!(
                "matmul: the coop variant takes f16 operands; {} and {} are read as f32",
                a.0.name(),
                b.0.name()
            )));
        }
        if !gpu.has_coop_matrix() {
            return Err(shape_err(
                "matmul: the coop variant needs cooperative matrices (16x16x16 f16 -> f32), which this adapter lacks",
            ));
        }
    }
    let shader = operands.shader(variant);
    for (what, t) in [("output", Some(c.0)), ("bias", bias), ("pre-activation", epilogue.and_then(|e| e.pre))] {
        if let Some(t) = t.filter(|t| t.dtype() != DType::F32) {
            return Err(shape_err(format!("matmul: the {what} {} is {:?}; it must be f32", t.name(), t.dtype())));
        }
    }
    check_operand("A", a.0, &a.1, d.m, d.k, &d)?;
    check_operand("B", b.0, &b.1, d.k, d.n, &d)?;
    if c.1.trans {
        return Err(shape_err("matmul: the output cannot be transposed"));
    }
    check_operand("C", c.0, &c.1, d.m, d.n, &d)?;
    if let Some(bias) = bias {
        super::expect_numel("matmul bias", bias, d.n)?;
    }
    if let Some(Epilogue { pre: Some(pre), .. }) = epilogue {
        check_operand("pre-activation", pre, &c.1, d.m, d.n, &d)?;
    }
    if epilogue.is_some() && accumulate {
        return Err(shape_err("matmul: an activation epilogue cannot accumulate into C"));
    }
    if let Some(q) = second {
        // Its B is read as the first product's operands are (one build of the kernel).
        Operands::of(a.0, q.b.0)?;
        if let Some(t) = [Some(q.c.0), q.act_grad.map(|g| g.1)].into_iter().flatten().find(|t| t.dtype() != DType::F32)
        {
            return Err(shape_err(format!(
                "matmul: the second product's {} is {:?}; it must be f32",
                t.name(),
                t.dtype()
            )));
        }
        if q.c.1.trans {
            return Err(shape_err("matmul: the output cannot be transposed"));
        }
        check_operand("A (second product)", a.0, &q.a, q.d.m, q.d.k, &q.d)?;
        check_operand("B (second product)", q.b.0, &q.b.1, q.d.k, q.d.n, &q.d)?;
        check_operand("C (second product)", q.c.0, &q.c.1, q.d.m, q.d.n, &q.d)?;
        if let Some((_, pre)) = q.act_grad {
            check_operand("the derivative's input", pre, &q.c.1, q.d.m, q.d.n, &q.d)?;
        }
    }
    let batches = d.nb1 * d.nb2;
    if batches > 65535 {
        return Err(shape_err(format!("matmul: {batches} batches exceed the 65535 a dispatch allows")));
    }
    let (tm, tn) = variant.tile();
    let u = |x: usize| x as u32;
    // The words of matmul.wgsl's Params, in order; the last 10 are set per panel dispatch.
    #[rustfmt::skip]
    let mut params = [
        u(d.m), u(d.n), u(d.k), u(d.nb2),
        u(a.1.off), u(a.1.ld), u(a.1.s1), u(a.1.s2),
        u(b.1.off), u(b.1.ld), u(b.1.s1), u(b.1.s2),
        u(c.1.off), u(c.1.ld), u(c.1.s1), u(c.1.s2),
        f(alpha),
        0, 0, 0, 0, 0, 0, 0, 0, 0,
        1,
    ];
    let flag = |b: bool| if b { 1.0 } else { 0.0 };
    let mut constants = vec![
        ("TRANS_A", flag(a.1.trans)),
        ("TRANS_B", flag(b.1.trans)),
        ("HAS_BIAS", flag(bias.is_some())),
        ("ACCUMULATE", flag(accumulate)),
        ("EPILOGUE", epilogue.map_or(0.0, |e| (e.act as u32 + 1) as f64)),
        ("SAVE_PRE", flag(matches!(epilogue, Some(Epilogue { pre: Some(_), .. })))),
    ];
    if variant.sums_rows() {
        constants.push(("ROW_SUMS", flag(row_sums.is_some())));
    }
    let bias_arg = bias.unwrap_or(a.0); // unread when HAS_BIAS is off

    // The pre-activation binding is declared by every matmul entry point: without SAVE_PRE a
    // one-word stand-in is bound, never written.
    let unused;
    let pre_arg = match epilogue.and_then(|e| e.pre).or(second.and_then(|q| q.act_grad.map(|g| g.1))) {
        Some(t) => t,
        None => {
            unused = gpu.empty("matmul pre-activation (unused)", &[1])?;
            &unused
        }
    };
    if variant == Variant::Panel {
        return gemm_panels(gpu, shader, d, a, b, bias_arg, c, pre_arg, &mut params, &constants);
    }
    let mut words = params.to_vec();
    let mut groups = [d.n.div_ceil(tn) as u32, d.m.div_ceil(tm) as u32, batches as u32];
    let mut entry = variant.entry();
    if let Some(q) = second {
        entry =
            variant.pair_entry().ok_or_else(|| shape_err(format!("matmul: {} has no pair launch", variant.name())))?;
        let first = d.m.div_ceil(tm) * d.n.div_ceil(tn);
        // Params' q_ words: the second product, and where its workgroups start.
        #[rustfmt::skip]
        words.extend([
            u(q.d.m), u(q.d.n), u(q.d.k), u(q.a.off),
            u(q.a.ld), u(q.b.1.off), u(q.b.1.ld), u(q.c.1.off),
            u(q.c.1.ld), f(q.alpha),
            u(first),
        ]);
        groups = [u(first + q.d.m.div_ceil(tm) * q.d.n.div_ceil(tn)), 1, 1];
        constants.extend([
            ("TRANS_A2", flag(q.a.trans)),
            ("TRANS_B2", flag(q.b.1.trans)),
            ("ACCUMULATE2", flag(q.accumulate)),
            ("GRAD_EPILOGUE", q.act_grad.map_or(0.0, |(act, _)| (act as u32 + 1) as f64)),
        ]);
    }
    let kernel = Kernel { shader, entry, constants: &constants };
    let mut args = vec![Arg::R(a.0), Arg::R(b.0), Arg::R(bias_arg), Arg::W(c.0), Arg::W(pre_arg)];
    // Like the pre-activation's, the row sums' binding is declared by the variants that can sum
    // rows whether or not they do: without ROW_SUMS the stand-in is bound, never written.
    // (A stand-in of its own: two writable bindings of one buffer would alias.)
    let (no_sums, no_c2);
    if variant.sums_rows() {
        let t = match row_sums {
            Some(t) => t,
            None => {
                no_sums = gpu.empty("matmul row sums (unused)", &[1])?;
                &no_sums
            }
        };
        args.push(Arg::W(t));
        // And the pair's second B and C: without a second product, A (read-only, so it may
        // alias) and a stand-in, never read or written.
        let (b2, c2) = match second {
            Some(q) => (q.b.0, q.c.0),
            None => {
                no_c2 = gpu.empty("matmul second output (unused)", &[1])?;
                (a.0, &no_c2)
            }
        };
        args.extend([Arg::R(b2), Arg::W(c2)]);
    }
    gpu.launch(&kernel, &words, &args, groups)
}

/// A hash of the kernels `gemm` runs on this adapter with these operands: the build every
/// non-coop variant is in, and the panel's subgroup module where the panel variant uses it.
/// Tuning keys carry it, so that a changed kernel is measured again.
pub(crate) fn kernels_hash(gpu: &Gpu, operands: Operands) -> u64 {
    let build = operands.shader(Variant::Wide).source_hash();
    if gpu.shares_through_subgroups() {
        build ^ crate::gpu::Shader::MatmulPanelSubgroup.source_hash().rotate_left(1)
    } else {
        build
    }
}

#[cfg(test)]
mod tests {
    use super::Variant;

    #[test]
    fn every_variant_name_parses_back_coop_included() {
        for v in Variant::ALL.into_iter().chain([Variant::Coop]) {
            assert_eq!(Variant::parse(v.name()), Some(v));
        }
        // `all` is bench kernels' word for every variant, not a variant.
        assert_eq!(Variant::parse("all"), None);
        // The portable list never holds the tensor-core one: it needs f16 and the feature.
        assert!(!Variant::ALL.contains(&Variant::Coop));
    }
}
