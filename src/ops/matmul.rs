//! Matrix multiply: the general strided, batched kernel and the layouts BERT uses.
//!
//! `gemm` is the one launch; `matmul`, `linear` and `linear_backward` are the shapes a model
//! needs. Backward of C = op(A)·op(B) is two more gemms with the transposes flipped, plus a
//! column sum for a bias.

use std::sync::Arc;

use super::gelu::GeluKind;
use super::{f, reduce, tune};
use crate::gpu::{shape_err, Arg, DType, Gpu, GpuError, Kernel, Shader, Tensor, TuneMode};

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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// 4x4 register block per invocation, no workgroup memory: CPUs / lavapipe.
    Register,
    /// 64x64 workgroup tile through workgroup memory: GPUs.
    Tiled,
    /// Operands packed into 64 KiB panels read through uniform bindings: CPU devices, where
    /// storage loads are slow (see matmul.wgsl).
    Panel,
}

impl Variant {
    pub const ALL: [Variant; 3] = [Variant::Register, Variant::Tiled, Variant::Panel];

    pub fn name(self) -> &'static str {
        match self {
            Variant::Register => "reg",
            Variant::Tiled => "tiled",
            Variant::Panel => "panel",
        }
    }

    pub fn parse(s: &str) -> Option<Variant> {
        Variant::ALL.into_iter().find(|v| v.name() == s)
    }

    /// The variant for this adapter when no shape is measured: the user's choice
    /// (`WGBERT_MATMUL`, `--variant`), else by device type (workgroup memory is slow on CPU
    /// devices and fast on GPUs).
    pub fn for_gpu(gpu: &Gpu) -> Variant {
        Variant::user_choice(gpu).unwrap_or_else(|| Variant::default_for(gpu))
    }

    fn user_choice(gpu: &Gpu) -> Option<Variant> {
        gpu.variant("matmul").and_then(|s| Variant::parse(&s))
    }

    fn default_for(gpu: &Gpu) -> Variant {
        if gpu.is_cpu() {
            Variant::Panel
        } else {
            Variant::Tiled
        }
    }

    fn entry(self) -> &'static str {
        match self {
            Variant::Register => "matmul_reg",
            Variant::Tiled => "matmul_tiled",
            Variant::Panel => "matmul_panel",
        }
    }

    /// Rows and columns of C covered by one workgroup.
    fn tile(self) -> (usize, usize) {
        match self {
            Variant::Register => (32, 32),
            Variant::Tiled => (64, 64),
            Variant::Panel => (PANEL, PANEL),
        }
    }
}

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
    let variant = chosen_variant(gpu, a.0.dtype(), d, a.1, b.1, bias.is_some(), c.1, accumulate)?;
    gemm_with(gpu, variant, d, a, b, bias, c, alpha, accumulate)
}

/// Every batch's matrix starts on a vec4 and its rows stay on vec4s.
fn vec4_aligned(l: &Layout) -> bool {
    [l.off, l.ld, l.s1, l.s2].iter().all(|x| x % 4 == 0)
}

/// The variant `gemm` runs for this problem: the user's choice, else the measured one for the
/// shape (measured now when tuning is on and the shape is new; see `ops::tune`), else the
/// device type's default. `operands` is the element type of A and B (f16 operands are a
/// shader of their own, tuned apart).
#[allow(clippy::too_many_arguments)]
pub fn chosen_variant(
    gpu: &Arc<Gpu>,
    operands: DType,
    d: Dims,
    la: Layout,
    lb: Layout,
    bias: bool,
    lc: Layout,
    accumulate: bool,
) -> Result<Variant, GpuError> {
    if let Some(v) = Variant::user_choice(gpu) {
        return Ok(v);
    }
    let default = Variant::default_for(gpu);
    if gpu.tuning() == TuneMode::Off {
        return Ok(default);
    }
    let aligned = vec4_aligned(&la) && vec4_aligned(&lb) && vec4_aligned(&lc);
    let flag = |b: bool, y: &'static str| if b { y } else { "-" };
    let key = format!(
        "matmul@{:016x} {}x{}x{} b{} {}{} {} {} {}",
        operand_shader(operands).source_hash(),
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
    if let Some(v) = gpu.tuned(&key).and_then(|s| Variant::parse(&s)) {
        return Ok(v);
    }
    tune_gemm(gpu, &key, operands, d, (la.trans, lb.trans), bias, accumulate, aligned, default)
}

/// The build of matmul.wgsl for operands of this element type (C is f32 either way).
fn operand_shader(operands: DType) -> Shader {
    if operands == DType::F16 {
        Shader::MatmulF16
    } else {
        Shader::Matmul
    }
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
    operands: DType,
    d: Dims,
    (ta, tb): (bool, bool),
    bias: bool,
    accumulate: bool,
    aligned: bool,
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
        DType::F16 => gpu.empty_f16(name, &[n]).and_then(|t| gpu.fill_zero(&t).map(|_| t)),
        _ => gpu.zeros(name, &[n]),
    };
    let a = zeros("tuning A", na)?;
    let b = zeros("tuning B", nb)?;
    let c = gpu.zeros("tuning C", &[nc])?;
    let tiny = Dims { m: t.m.min(8), n: t.n.min(8), k: t.k.min(8), nb1: 1, nb2: 1 };
    let (bias_trial, bias_tiny) = (gpu.zeros("tuning bias", &[t.n])?, gpu.zeros("tuning bias", &[tiny.n])?);
    let (bias_trial, bias_tiny) = (bias.then_some(&bias_trial), bias.then_some(&bias_tiny));
    let mut order = vec![default];
    order.extend(Variant::ALL.into_iter().filter(|v| *v != default));
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
    if d.m == 0 || d.n == 0 || d.nb1 == 0 || d.nb2 == 0 {
        return Ok(());
    }
    if d.k == 0 {
        return Err(shape_err(format!("matmul: inner dimension of {} and {} is 0", a.0.name(), b.0.name())));
    }
    let shader = match (a.0.dtype(), b.0.dtype()) {
        (DType::F32, DType::F32) => Shader::Matmul,
        (DType::F16, DType::F16) => Shader::MatmulF16,
        (ta, tb) => {
            return Err(shape_err(format!(
                "matmul: operands {} ({ta:?}) and {} ({tb:?}) must both be f32 or both f16",
                a.0.name(),
                b.0.name()
            )))
        }
    };
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
    let constants = [
        ("TRANS_A", flag(a.1.trans)),
        ("TRANS_B", flag(b.1.trans)),
        ("HAS_BIAS", flag(bias.is_some())),
        ("ACCUMULATE", flag(accumulate)),
        ("EPILOGUE", epilogue.map_or(0.0, |e| (e.act as u32 + 1) as f64)),
        ("SAVE_PRE", flag(matches!(epilogue, Some(Epilogue { pre: Some(_), .. })))),
    ];
    let bias_arg = bias.unwrap_or(a.0); // unread when HAS_BIAS is off

    // The pre-activation binding is declared by every matmul entry point: without SAVE_PRE a
    // one-word stand-in is bound, never written.
    let unused;
    let pre_arg = match epilogue.and_then(|e| e.pre) {
        Some(t) => t,
        None => {
            unused = gpu.empty("matmul pre-activation (unused)", &[1])?;
            &unused
        }
    };
    if variant == Variant::Panel {
        return gemm_panels(gpu, shader, d, a, b, bias_arg, c, pre_arg, &mut params, &constants);
    }
    let kernel = Kernel { shader, entry: variant.entry(), constants: &constants };
    gpu.launch(
        &kernel,
        &params,
        &[Arg::R(a.0), Arg::R(b.0), Arg::R(bias_arg), Arg::W(c.0), Arg::W(pre_arg)],
        [d.n.div_ceil(tn) as u32, d.m.div_ceil(tm) as u32, batches as u32],
    )
}

/// Rows (of A) and columns (of B) per panel, and the depth of a panel: 128·128 f32 = 64 KiB,
/// the uniform binding limit of most adapters.
const PANEL: usize = 128;
const PANEL_K: usize = 128;
const PANEL_BYTES: u64 = (PANEL * PANEL_K * 4) as u64;
/// K chunks per panel dispatch (matmul.wgsl's PANEL_CHUNKS): 4 A + 4 B panels + the parameters
/// are 9 uniform bindings.
const PANEL_CHUNKS: usize = 4;

/// The K chunks of one panel dispatch: the first chunk, how many, and the depth of the last
/// (PANEL_K except at the end of K). The shader reads that many rows of the last panel, so a
/// depth past PANEL_K would read outside its binding.
#[derive(Clone, Copy, Debug, PartialEq)]
struct ChunkRun {
    first: usize,
    count: usize,
    last_depth: usize,
}

fn chunk_runs(k: usize) -> impl Iterator<Item = ChunkRun> {
    let chunks = k.div_ceil(PANEL_K);
    (0..chunks).step_by(PANEL_CHUNKS).map(move |first| {
        let count = (chunks - first).min(PANEL_CHUNKS);
        ChunkRun { first, count, last_depth: (k - (first + count - 1) * PANEL_K).min(PANEL_K) }
    })
}

/// The panel variant: pack both operands into zero-padded panels, then one dispatch per
/// (batch, block of C, K chunk).
#[allow(clippy::too_many_arguments)]
fn gemm_panels(
    gpu: &Arc<Gpu>,
    shader: Shader,
    d: Dims,
    a: (&Tensor, Layout),
    b: (&Tensor, Layout),
    bias: &Tensor,
    c: (&Tensor, Layout),
    pre: &Tensor,
    params: &mut [u32; 27],
    constants: &[(&'static str, f64)],
) -> Result<(), GpuError> {
    let limits = gpu.limits();
    if limits.max_uniform_buffer_binding_size < PANEL_BYTES
        || (limits.max_uniform_buffers_per_shader_stage as usize) < 2 * PANEL_CHUNKS + 1
    {
        return Err(shape_err(
            "matmul: the panel variant needs 9 uniform bindings of 64 KiB per shader stage; choose reg or tiled",
        ));
    }
    let batches = d.nb1 * d.nb2;
    let (blocks_m, blocks_n, chunks) = (d.m.div_ceil(PANEL), d.n.div_ceil(PANEL), d.k.div_ceil(PANEL_K));
    let per = PANEL * PANEL_K;
    params[17] = blocks_m as u32;
    params[18] = blocks_n as u32;
    params[19] = chunks as u32;
    // pack_a reads A, pack_b reads B; both see the same bindings.
    let pack = |entry: &'static str, blocks: usize, aligned: bool, name: &str, params: &mut [u32; 27]| {
        let total = batches * blocks * chunks * per;
        let packed = gpu.empty(name, &[total])?;
        let tiles = total / 16;
        params[20] = tiles as u32;
        // The packing kernels ignore the epilogue: their pipelines stay one per layout.
        let mut pack_constants: Vec<_> =
            constants.iter().filter(|(k, _)| !matches!(*k, "EPILOGUE" | "SAVE_PRE")).copied().collect();
        pack_constants.push(("PACK_VEC4", if aligned { 1.0 } else { 0.0 }));
        gpu.launch(
            &Kernel { shader, entry, constants: &pack_constants },
            &params[..],
            &[Arg::R(a.0), Arg::R(b.0), Arg::W(&packed)],
            super::grid_1d(tiles, 256),
        )?;
        Ok::<_, GpuError>(packed)
    };
    let pa = pack("pack_a", blocks_m, vec4_aligned(&a.1), "matmul A panels", params)?;
    let pb = pack("pack_b", blocks_n, vec4_aligned(&b.1), "matmul B panels", params)?;
    let c_vec4 = vec4_aligned(&c.1);
    let mut panel_constants = constants.to_vec();
    panel_constants.push(("C_VEC4", if c_vec4 { 1.0 } else { 0.0 }));
    let kernel = Kernel { shader, entry: "matmul_panel", constants: &panel_constants };
    for z in 0..batches {
        let (z1, z2) = (z / d.nb2, z % d.nb2);
        params[12] = (c.1.off + z1 * c.1.s1 + z2 * c.1.s2) as u32;
        for bm in 0..blocks_m {
            for bn in 0..blocks_n {
                for run in chunk_runs(d.k) {
                    params[21] = (bm * PANEL) as u32;
                    params[22] = (bn * PANEL) as u32;
                    params[23] = (run.first == 0) as u32;
                    params[24] = run.last_depth as u32;
                    params[25] = run.count as u32;
                    params[26] = (run.first + run.count == chunks) as u32;
                    // Slots past `run.count` repeat the last panel: bound, never read.
                    let panel =
                        |base: usize, i: usize| (((base * chunks) + run.first + i.min(run.count - 1)) * per * 4) as u64;
                    let mut args = Vec::with_capacity(2 * PANEL_CHUNKS + 3);
                    args.extend((0..PANEL_CHUNKS).map(|i| Arg::U(&pa, panel(z * blocks_m + bm, i), PANEL_BYTES)));
                    args.extend((0..PANEL_CHUNKS).map(|i| Arg::U(&pb, panel(z * blocks_n + bn, i), PANEL_BYTES)));
                    args.push(Arg::R(bias));
                    args.push(Arg::W(c.0));
                    args.push(Arg::W(pre));
                    gpu.launch(&kernel, &params[..], &args, [2, 2, 1])?;
                }
            }
        }
    }
    Ok(())
}

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
    let rows = super::rows_of("linear", x, in_f)?;
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
    let rows = super::rows_of("linear", x, in_f)?;
    let mut shape = x.shape().to_vec();
    *shape.last_mut().expect("rows_of checked the rank") = out_f;
    let y = gpu.empty("linear output", &shape)?;
    let pre = if save_pre { Some(gpu.empty("linear pre-activation", &shape)?) } else { None };
    let d = Dims { m: rows, n: out_f, k: in_f, nb1: 1, nb2: 1 };
    let (la, lb, lc) = (Layout::rows(in_f), Layout::rows(in_f).t(), Layout::rows(out_f));
    // The variant tuned for the plain product of this shape: the epilogue runs once per element.
    let variant = chosen_variant(gpu, x.dtype(), d, la, lb, bias.is_some(), lc, false)?;
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
    linear_backward_with(gpu, dy, dy, x, w, dw, dbias, need_dx)
}

/// `linear_backward` where the products read `dy_operand`, a copy of dy in the element type of
/// x and w (f16 under mixed precision), while the bias gradient sums dy itself (f32).
#[allow(clippy::too_many_arguments)]
pub fn linear_backward_with(
    gpu: &Arc<Gpu>,
    dy: &Tensor,
    dy_operand: &Tensor,
    x: &Tensor,
    w: &Tensor,
    dw: &Tensor,
    dbias: Option<&Tensor>,
    need_dx: bool,
) -> Result<Option<Tensor>, GpuError> {
    let (out_f, in_f) = dims2("linear backward", w)?;
    let rows = super::rows_of("linear backward", x, in_f)?;
    let rows_dy = super::rows_of("linear backward", dy, out_f)?;
    if rows != rows_dy {
        return Err(shape_err(format!("linear backward: {} has {rows} rows, {} has {rows_dy}", x.name(), dy.name())));
    }
    if dy_operand.shape() != dy.shape() {
        return Err(shape_err(format!(
            "linear backward: {} {:?} is not a copy of {} {:?}",
            dy_operand.name(),
            dy_operand.shape(),
            dy.name(),
            dy.shape()
        )));
    }
    let (dy_f32, dy) = (dy, dy_operand);
    dw.expect_shape("linear backward", &[out_f, in_f])?;
    // dw (OUT, IN) += dyᵀ (OUT, R) · x (R, IN)
    gemm(
        gpu,
        Dims { m: out_f, n: in_f, k: rows, nb1: 1, nb2: 1 },
        (dy, Layout::rows(out_f).t()),
        (x, Layout::rows(in_f)),
        None,
        (dw, Layout::rows(in_f)),
        1.0,
        true,
    )?;
    if let Some(db) = dbias {
        reduce::col_sum(gpu, dy_f32, db, true)?;
    }
    if !need_dx {
        return Ok(None);
    }
    // dx (R, IN) = dy (R, OUT) · w (OUT, IN)
    let dx = gpu.empty("linear input gradient", x.shape())?;
    gemm(
        gpu,
        Dims { m: rows, n: in_f, k: out_f, nb1: 1, nb2: 1 },
        (dy, Layout::rows(out_f)),
        (w, Layout::rows(in_f)),
        None,
        (&dx, Layout::rows(in_f)),
        1.0,
        false,
    )?;
    Ok(Some(dx))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_runs_cover_k_once_and_never_read_past_a_panel() {
        for k in [1, 127, 128, 129, 384, 512, 513, 1100, 1536, 4096] {
            let runs: Vec<ChunkRun> = chunk_runs(k).collect();
            let mut next = 0;
            let mut depth = 0;
            for r in &runs {
                assert_eq!(r.first, next, "k={k}: runs must be contiguous");
                assert!((1..=PANEL_CHUNKS).contains(&r.count), "k={k}: {r:?}");
                assert!((1..=PANEL_K).contains(&r.last_depth), "k={k}: {r:?} reads past its panel");
                next += r.count;
                depth += (r.count - 1) * PANEL_K + r.last_depth;
            }
            assert_eq!(next, k.div_ceil(PANEL_K), "k={k}");
            assert_eq!(depth, k, "k={k}: the runs' depths must sum to K");
        }
    }
}
