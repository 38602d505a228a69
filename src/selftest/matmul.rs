//! The matrix products against the f64 reference: every variant, transpose and operand type of
//! `ops::matmul`, the linear layers' forward and backward, and the activation epilogue.

use anyhow::Result;

use super::kernels::{round_f16, ACTIVATIONS};
use super::tolerance as tol;
use super::{Checker, Size};
use crate::ops::gelu::GeluKind;
use crate::ops::matmul::{
    gemm_epilogue, gemm_pair, gemm_row_sums, gemm_with, linear, linear_act, linear_backward, linear_backward_through,
    pair_fits, Dims, Epilogue, Layout, Operands, Second, Variant,
};
use crate::reference as r;
use crate::reference::to_f64 as f64s;

fn transposes(ta: bool, tb: bool) -> String {
    format!("{}{}", if ta { "Aᵀ" } else { "A" }, if tb { "Bᵀ" } else { "B" })
}

/// C = 0.5·op(A)·op(B) + bias, accumulated onto C, every variant and transpose; f16 operands
/// (f32 accumulation) against the reference on the same f16-rounded inputs.
pub fn matmul(c: &mut Checker) -> Result<()> {
    let g = c.gpu.clone();
    let mut shapes = vec![(1, 1, 1), (7, 33, 5), (33, 7, 129), (127, 129, 33), (40, 300, 300)];
    if c.size == Size::Full {
        // K > 4 panel chunks (several panel dispatches), tall and thin operands.
        shapes.extend([(129, 127, 64), (384, 16, 24), (1536, 9, 12), (30522, 8, 16), (40, 36, 1100)]);
    }
    let kinds: &[Operands] = if g.has_f16() { &[Operands::F32, Operands::F16] } else { &[Operands::F32] };
    if !g.has_f16() {
        c.skip("matmul", "f16 operands", "the adapter has no shader-f16");
    } else if !g.has_coop_matrix() {
        c.skip("matmul f16", "coop", "no cooperative matrix on this adapter (16x16x16 f16 -> f32)");
    }
    for (m, n, k) in shapes {
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let (a, b) = (c.vec(m * k, 1.0), c.vec(k * n, 1.0));
            let (bias, c0) = (c.vec(n, 1.0), c.vec(m * n, 1.0));
            let la = Layout { trans: ta, ..Layout::rows(if ta { m } else { k }) };
            let lb = Layout { trans: tb, ..Layout::rows(if tb { k } else { n }) };
            let d = Dims { m, n, k, nb1: 1, nb2: 1 };
            for &dt in kinds {
                let (ra, rb) =
                    if dt == Operands::F16 { (round_f16(&a), round_f16(&b)) } else { (a.clone(), b.clone()) };
                let mut want = f64s(&c0);
                r::matmul::gemm(
                    d,
                    &f64s(&ra),
                    la,
                    &f64s(&rb),
                    lb,
                    Some(&f64s(&bias)),
                    &mut want,
                    Layout::rows(n),
                    0.5,
                    true,
                );
                let (at, bt) = (c.up("a", &[a.len()], &a)?, c.up("b", &[b.len()], &b)?);
                let (at, bt) = if dt == Operands::F16 { (at.read_as_f16(), bt.read_as_f16()) } else { (at, bt) };
                for v in Variant::runnable(&g, dt) {
                    let (tbias, tc) = (c.up("bias", &[n], &bias)?, c.up("c", &[m, n], &c0)?);
                    gemm_with(&g, v, d, (&at, la), (&bt, lb), Some(&tbias), (&tc, Layout::rows(n)), 0.5, true)?;
                    let kernel = if dt == Operands::F16 { "matmul f16" } else { "matmul" };
                    let shape = format!("{m}x{n}x{k} {}", transposes(ta, tb));
                    c.close(kernel, v.name(), &shape, &tc.to_vec()?, &want, tol::matmul(k));
                }
            }
        }
    }
    // Attention's layout: heads read in place from (B·T, 3C) with two batch levels.
    let (b, nh, t, hs) = (3, 2, 5, 4);
    let cc = nh * hs;
    let qkv = c.vec(b * t * 3 * cc, 1.0);
    let lq = Layout { off: 0, ld: 3 * cc, s1: t * 3 * cc, s2: hs, trans: false };
    let lk = Layout { off: cc, ..lq }.t();
    let ls = Layout { off: 0, ld: t, s1: nh * t * t, s2: t * t, trans: false };
    let d = Dims { m: t, n: t, k: hs, nb1: b, nb2: nh };
    let mut want = vec![0.0; b * nh * t * t];
    r::matmul::gemm(d, &f64s(&qkv), lq, &f64s(&qkv), lk, None, &mut want, ls, 1.0, false);
    for v in Variant::ALL {
        let tq = c.up("qkv", &[b * t, 3 * cc], &qkv)?;
        let out = g.zeros("scores", &[b * nh, t, t])?;
        gemm_with(&g, v, d, (&tq, lq), (&tq, lk), None, (&out, ls), 1.0, false)?;
        c.close("matmul batched (heads in place)", v.name(), "B3 NH2 T5 HS4", &out.to_vec()?, &want, tol::matmul(hs));
    }
    if g.has_f16() {
        f16_operands(c)?;
    }
    Ok(())
}

/// f16 operands: each element rounded exactly as f32 -> f16 -> f32, and past f16's range read
/// as ±inf, so its row (column) of C is inf or NaN and the rest stays finite. This is how a
/// loss-scaled gradient's overflow reaches the optimizer, which then skips the step.
fn f16_operands(c: &mut Checker) -> Result<()> {
    let g = c.gpu.clone();
    // The rounding itself, exactly f32 -> f16 -> f32: ties to even (at 1 + 2^-11 down, at
    // 1 + 3·2^-11 up), subnormals (3·2^-25 ties up to 2^-23, 2^-25 to 0), the largest finite
    // values, and the carry into the exponent; C = A · [1].
    let a: Vec<f32> = vec![
        65504.0,
        65519.0,
        -65519.5,
        1.0 + 2f32.powi(-11),
        1.0 + 3.0 * 2f32.powi(-11),
        2f32.powi(-14) - 2f32.powi(-26),
        3.0 * 2f32.powi(-25),
        2f32.powi(-25),
        -1e-40,
        0.1,
        -0.3,
        2047.9,
        1000.7,
    ];
    let want: Vec<f64> = round_f16(&a).iter().map(|&v| v as f64).collect();
    let (m, one) = (a.len(), Dims { m: a.len(), n: 1, k: 1, nb1: 1, nb2: 1 });
    let (at, bt) = (c.up("a", &[m, 1], &a)?.read_as_f16(), c.up("b", &[1, 1], &[1.0])?.read_as_f16());
    for v in Variant::runnable(&g, Operands::F16) {
        let out = g.zeros("c", &[m, 1])?;
        gemm_with(
            &g,
            v,
            one,
            (&at, Layout::rows(1)),
            (&bt, Layout::rows(1)),
            None,
            (&out, Layout::rows(1)),
            1.0,
            false,
        )?;
        c.close("matmul f16 (rounding)", v.name(), &format!("{m}x1x1"), &out.to_vec()?, &want, tol::EXACT);
    }
    let (m, n, k) = (6, 9, 40);
    let d = Dims { m, n, k, nb1: 1, nb2: 1 };
    let (la, lb) = (Layout::rows(k), Layout::rows(n));
    for bad in [65520.0, -1e9, f32::INFINITY, f32::NAN] {
        for in_b in [false, true] {
            let (mut a, mut b) = (c.vec(m * k, 1.0), c.vec(k * n, 1.0));
            // Row 2 of A at depth 7, or column 5 of B at depth 7.
            if in_b {
                b[7 * n + 5] = bad;
            } else {
                a[2 * k + 7] = bad;
            }
            let (at, bt) = (c.up("a", &[m, k], &a)?.read_as_f16(), c.up("b", &[k, n], &b)?.read_as_f16());
            for v in Variant::runnable(&g, Operands::F16) {
                let out = g.zeros("c", &[m, n])?;
                gemm_with(&g, v, d, (&at, la), (&bt, lb), None, (&out, Layout::rows(n)), 1.0, false)?;
                let got = out.to_vec()?;
                let hit = |i: usize| if in_b { i % n == 5 } else { i / n == 2 };
                let ok = got.iter().enumerate().all(|(i, x)| x.is_finite() != hit(i));
                let (what, shape) = (if in_b { "B" } else { "A" }, format!("{m}x{n}x{k}, {bad}"));
                let bad_line = if in_b { "column 5" } else { "row 2" };
                c.holds(
                    &format!("matmul f16 (overflow in {what})"),
                    v.name(),
                    &shape,
                    &format!("{bad_line} of C not finite, the rest finite"),
                    ok,
                    format!("{got:?}"),
                );
            }
        }
    }
    Ok(())
}

/// linear forward and backward (dx assigned, dW and db accumulated), the variant tuning picks.
pub fn linear_layers(c: &mut Checker) -> Result<()> {
    let g = c.gpu.clone();
    for (rows, in_f, out_f) in [(1, 3, 2), (33, 32, 37), (129, 64, 1), (384, 48, 96), (130, 200, 140)] {
        let (x, w, bias) = (c.vec(rows * in_f, 1.0), c.vec(out_f * in_f, 0.5), c.vec(out_f, 0.5));
        let dy = c.vec(rows * out_f, 1.0);
        let (dw0, db0) = (c.vec(out_f * in_f, 0.1), c.vec(out_f, 0.1));
        let (tx, tw, tb) = (c.up("x", &[rows, in_f], &x)?, c.up("w", &[out_f, in_f], &w)?, c.up("b", &[out_f], &bias)?);
        let shape = format!("{rows}x{in_f} -> {out_f}");
        let y = linear(&g, &tx, &tw, Some(&tb))?;
        let want_y = r::matmul::linear(&f64s(&x), &f64s(&w), Some(&f64s(&bias)), rows, in_f, out_f);
        c.close("linear", "forward", &shape, &y.to_vec()?, &want_y, tol::matmul(in_f));

        let (tdw, tdb, tdy) =
            (c.up("dw", &[out_f, in_f], &dw0)?, c.up("db", &[out_f], &db0)?, c.up("dy", &[rows, out_f], &dy)?);
        let dx = linear_backward(&g, &tdy, &tx, &tw, &tdw, Some(&tdb), true)?.expect("dx was asked for");
        let (rdx, rdw, rdb) = r::matmul::linear_backward(&f64s(&dy), &f64s(&x), &f64s(&w), rows, in_f, out_f);
        let add = |a: Vec<f64>, b: &[f32]| a.iter().zip(b).map(|(x, y)| x + *y as f64).collect::<Vec<_>>();
        c.close("linear", "backward dx", &shape, &dx.to_vec()?, &rdx, tol::matmul(out_f));
        c.close(
            "linear",
            "backward dW (accumulated)",
            &shape,
            &tdw.to_vec()?,
            &add(rdw.clone(), &dw0),
            tol::matmul(rows),
        );
        c.close(
            "linear",
            "backward db (accumulated)",
            &shape,
            &tdb.to_vec()?,
            &add(rdb.clone(), &db0),
            tol::matmul(rows),
        );
        // dW and db from one launch, in the variants that sum rows of A as they multiply.
        let d = Dims { m: out_f, n: in_f, k: rows, nb1: 1, nb2: 1 };
        for v in Variant::ALL.into_iter().filter(|v| v.sums_rows()) {
            let (tdw, tdb) = (c.up("dw", &[out_f, in_f], &dw0)?, c.up("db", &[out_f], &db0)?);
            let (la, lb) = (Layout::rows(out_f).t(), Layout::rows(in_f));
            gemm_row_sums(&g, v, d, (&tdy, la), (&tx, lb), (&tdw, lb), 1.0, &tdb)?;
            c.close(
                "linear dW + db, one launch",
                &format!("{} dW", v.name()),
                &shape,
                &tdw.to_vec()?,
                &add(rdw.clone(), &dw0),
                tol::matmul(rows),
            );
            c.close(
                "linear dW + db, one launch",
                &format!("{} db", v.name()),
                &shape,
                &tdb.to_vec()?,
                &add(rdb.clone(), &db0),
                tol::matmul(rows),
            );
        }
        // The whole backward in one launch (gemm_pair): dW with or without db, and dX added
        // into a gradient so far or, assigned, through each activation's derivative.
        let dx0 = c.vec(rows * in_f, 0.1);
        let pre = c.vec(rows * in_f, 2.0);
        let tpre = c.up("pre", &[rows, in_f], &pre)?;
        let dx_d = Dims { m: rows, n: in_f, k: out_f, nb1: 1, nb2: 1 };
        let (la, lb) = (Layout::rows(out_f).t(), Layout::rows(in_f));
        for v in Variant::ALL.into_iter().filter(|v| v.pair_entry().is_some()) {
            if !pair_fits(&g, v, d, dx_d) {
                c.skip("linear backward, one launch", v.name(), &format!("{shape}: over the grid's row"));
                continue;
            }
            let mut cases: Vec<(Option<GeluKind>, bool)> = vec![(None, true), (None, false)];
            cases.extend(ACTIVATIONS.map(|act| (Some(act), act == GeluKind::Erf)));
            for (act, sums) in cases {
                let (tdw, tdb) = (c.up("dw", &[out_f, in_f], &dw0)?, c.up("db", &[out_f], &db0)?);
                let tdx = match act {
                    None => c.up("dx so far", &[rows, in_f], &dx0)?,
                    Some(_) => g.empty("dx", &[rows, in_f])?,
                };
                let second = Second {
                    d: dx_d,
                    a: Layout::rows(out_f),
                    b: (&tw, Layout::rows(in_f)),
                    c: (&tdx, Layout::rows(in_f)),
                    alpha: 1.0,
                    accumulate: act.is_none(),
                    act_grad: act.map(|a| (a, &tpre)),
                };
                gemm_pair(&g, v, d, (&tdy, la), (&tx, lb), (&tdw, lb), 1.0, true, sums.then_some(&tdb), second)?;
                let (what, want_dx) = match act {
                    None => ("dX accumulated".to_string(), add(rdx.clone(), &dx0)),
                    Some(a) => {
                        let want = rdx.iter().zip(&pre).map(|(d, &p)| d * r::gelu::gelu_grad(p as f64, a)).collect();
                        (format!("dX through {a:?}'"), want)
                    }
                };
                let name = format!("{} {}", v.name(), if sums { "with db" } else { "without db" });
                c.close(
                    "linear backward, one launch",
                    &format!("{name}: {what}"),
                    &shape,
                    &tdx.to_vec()?,
                    &want_dx,
                    tol::matmul(out_f),
                );
                c.close(
                    "linear backward, one launch",
                    &format!("{name}: dW"),
                    &shape,
                    &tdw.to_vec()?,
                    &add(rdw.clone(), &dw0),
                    tol::matmul(rows),
                );
                let want_db = if sums { add(rdb.clone(), &db0) } else { f64s(&db0) };
                c.close(
                    "linear backward, one launch",
                    &format!("{name}: db"),
                    &shape,
                    &tdb.to_vec()?,
                    &want_db,
                    tol::matmul(rows),
                );
            }
        }
        // f16 operands (mixed precision with a wide variant forced): the bias gradient from the
        // launch (dy rounded to f16, summed in f32), dX through GELU's derivative, against the
        // reference on the rounded inputs.
        if g.has_f16() {
            let (dy16, x16, w16) = (round_f16(&dy), round_f16(&x), round_f16(&w));
            let (rdx16, rdw16, rdb16) =
                r::matmul::linear_backward(&f64s(&dy16), &f64s(&x16), &f64s(&w16), rows, in_f, out_f);
            let (tdy16, tx16, tw16) = (
                c.up("dy", &[rows, out_f], &dy)?.read_as_f16(),
                c.up("x", &[rows, in_f], &x)?.read_as_f16(),
                c.up("w", &[out_f, in_f], &w)?.read_as_f16(),
            );
            for v in Variant::ALL.into_iter().filter(|v| v.pair_entry().is_some() && pair_fits(&g, *v, d, dx_d)) {
                let (tdw, tdx) = (c.up("dw", &[out_f, in_f], &dw0)?, g.empty("dx", &[rows, in_f])?);
                let tdb = c.up("db", &[out_f], &db0)?;
                let second = Second {
                    d: dx_d,
                    a: Layout::rows(out_f),
                    b: (&tw16, Layout::rows(in_f)),
                    c: (&tdx, Layout::rows(in_f)),
                    alpha: 1.0,
                    accumulate: false,
                    act_grad: Some((GeluKind::Erf, &tpre)),
                };
                gemm_pair(&g, v, d, (&tdy16, la), (&tx16, lb), (&tdw, lb), 1.0, true, Some(&tdb), second)?;
                let want: Vec<f64> =
                    rdx16.iter().zip(&pre).map(|(d, &p)| d * r::gelu::gelu_grad(p as f64, GeluKind::Erf)).collect();
                let name = format!("{} f16: dX through Erf'", v.name());
                c.close("linear backward, one launch", &name, &shape, &tdx.to_vec()?, &want, tol::matmul(out_f));
                let name = format!("{} f16: dW", v.name());
                c.close(
                    "linear backward, one launch",
                    &name,
                    &shape,
                    &tdw.to_vec()?,
                    &add(rdw16.clone(), &dw0),
                    tol::matmul(rows),
                );
                let name = format!("{} f16: db", v.name());
                let want_db = add(rdb16.clone(), &db0);
                c.close("linear backward, one launch", &name, &shape, &tdb.to_vec()?, &want_db, tol::matmul(rows));
            }
        }
        // The tuned path through the activation (the FFN's second layer).
        let (tdw, tdb) = (c.up("dw", &[out_f, in_f], &dw0)?, c.up("db", &[out_f], &db0)?);
        let dpre = linear_backward_through(&g, &tdy, &tx, &tw, &tdw, Some(&tdb), GeluKind::Erf, &tpre)?;
        let want: Vec<f64> =
            rdx.iter().zip(&pre).map(|(d, &p)| d * r::gelu::gelu_grad(p as f64, GeluKind::Erf)).collect();
        c.close("linear backward through Erf", "tuned", &shape, &dpre.to_vec()?, &want, tol::matmul(out_f));
        c.close(
            "linear backward through Erf",
            "tuned dW",
            &shape,
            &tdw.to_vec()?,
            &add(rdw.clone(), &dw0),
            tol::matmul(rows),
        );
    }
    Ok(())
}

/// act(x·Wᵀ + bias) in the matmul's epilogue, every variant and activation, pre-activation
/// saved; K = 1100 takes three panel dispatches (the activation only on the last).
pub fn epilogue(c: &mut Checker) -> Result<()> {
    let g = c.gpu.clone();
    let shapes: &[(usize, usize, usize)] = match c.size {
        Size::Quick => &[(33, 32, 37), (129, 1100, 64)],
        Size::Full => &[(33, 32, 37), (129, 1100, 64), (256, 384, 1536)],
    };
    for &(rows, in_f, out_f) in shapes {
        let (x, w, bias) =
            (c.vec(rows * in_f, 1.0), c.vec(out_f * in_f, 2.0 / (in_f as f32).sqrt()), c.vec(out_f, 0.5));
        let (tx, tw, tb) = (c.up("x", &[rows, in_f], &x)?, c.up("w", &[out_f, in_f], &w)?, c.up("b", &[out_f], &bias)?);
        let h = r::matmul::linear(&f64s(&x), &f64s(&w), Some(&f64s(&bias)), rows, in_f, out_f);
        let d = Dims { m: rows, n: out_f, k: in_f, nb1: 1, nb2: 1 };
        let (la, lb, lc) = (Layout::rows(in_f), Layout::rows(in_f).t(), Layout::rows(out_f));
        let shape = format!("{rows}x{in_f} -> {out_f}");
        for act in ACTIVATIONS {
            let want: Vec<f64> = h.iter().map(|&v| r::gelu::gelu(v, act)).collect();
            for v in Variant::ALL {
                let (y, pre) = (g.empty("y", &[rows, out_f])?, g.empty("pre", &[rows, out_f])?);
                let e = Epilogue { act, pre: Some(&pre) };
                gemm_epilogue(&g, v, d, (&tx, la), (&tw, lb), Some(&tb), (&y, lc), 1.0, false, Some(e))?;
                let kernel = format!("matmul + {act:?}");
                c.close(&kernel, v.name(), &shape, &y.to_vec()?, &want, tol::matmul(in_f));
                c.close(&format!("{kernel} (pre-activation)"), v.name(), &shape, &pre.to_vec()?, &h, tol::matmul(in_f));
            }
        }
        let (y, _) = linear_act(&g, &tx, &tw, Some(&tb), GeluKind::Erf, false)?;
        let want: Vec<f64> = h.iter().map(|&v| r::gelu::gelu(v, GeluKind::Erf)).collect();
        c.close("linear + Erf", "tuned", &shape, &y.to_vec()?, &want, tol::matmul(in_f));
    }
    if !g.has_f16() {
        c.skip("matmul f16 + Erf", "all", "the adapter has no shader-f16");
        return Ok(());
    }
    // The GELU epilogue on f16 operands.
    let (m, n, k) = (33, 130, 300);
    let (x, w, bias) = (c.vec(m * k, 1.0), c.vec(n * k, 0.1), c.vec(n, 1.0));
    let (xt, wt) = (c.up("x", &[m, k], &x)?.read_as_f16(), c.up("w", &[n, k], &w)?.read_as_f16());
    let d = Dims { m, n, k, nb1: 1, nb2: 1 };
    let (lx, lw) = (Layout::rows(k), Layout::rows(k).t());
    let mut pre = vec![0.0; m * n];
    r::matmul::gemm(
        d,
        &f64s(&round_f16(&x)),
        lx,
        &f64s(&round_f16(&w)),
        lw,
        Some(&f64s(&bias)),
        &mut pre,
        Layout::rows(n),
        1.0,
        false,
    );
    let want: Vec<f64> = pre.iter().map(|&h| r::gelu::gelu(h, GeluKind::Erf)).collect();
    for v in Variant::runnable(&g, Operands::F16) {
        let (y, p) = (g.zeros("y", &[m, n])?, g.zeros("pre", &[m, n])?);
        let e = Epilogue { act: GeluKind::Erf, pre: Some(&p) };
        let tb = c.up("bias", &[n], &bias)?;
        gemm_epilogue(&g, v, d, (&xt, lx), (&wt, lw), Some(&tb), (&y, Layout::rows(n)), 1.0, false, Some(e))?;
        c.close("matmul f16 + Erf", v.name(), "33x300 -> 130", &y.to_vec()?, &want, tol::F16_EPILOGUE);
        c.close("matmul f16 + Erf (pre-activation)", v.name(), "33x300 -> 130", &p.to_vec()?, &pre, tol::F16_EPILOGUE);
    }
    Ok(())
}
