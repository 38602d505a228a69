//! The optimizer's kernels against the f64 CPU reference (`crate::reference`): AdamW's update
//! with clipping, per-slot decay, a frozen prefix and loss-scale unscaling and skips, and
//! `adamw_begin`'s loss-scale rules step after step.

use anyhow::Result;

use super::tolerance as tol;
use super::Checker;
use crate::ops::{adamw, reduce};
use crate::reference as r;
use crate::reference::to_f64 as f64s;

/// BERT's AdamW settings with clipping at norm 1.
fn adamw_bert() -> adamw::AdamwStep {
    adamw::AdamwStep { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-6, weight_decay: 0.01, max_norm: 1.0, first: 0 }
}

/// The steps `adamw` runs: the optimizer's third, after two taken.
const ADAMW_TAKEN: u32 = 2;

/// AdamW with clipping and per-slot weight decay; under loss scaling, unscaling and skipping;
/// and the loss scale's rules as adamw_begin applies them on the GPU.
pub fn adamw(c: &mut Checker) -> Result<()> {
    let g = c.gpu.clone();
    let n = 1000;
    let (p0, g0, m0) = (c.vec(n, 1.0), c.vec(n, 1.0), c.vec(n, 0.1));
    let v0: Vec<f32> = c.vec(n, 0.01).iter().map(|v| v.abs()).collect();
    // Weight decay per 64-element slot, as a parameter arena lays it out: on, off, on, ...
    let slots = n.div_ceil(adamw::DECAY_SLOT);
    let decay: Vec<f32> = (0..slots).map(|s| (s % 2 == 0) as u32 as f32).collect();
    let td = c.up("decay", &[slots], &decay)?;
    let h = adamw_bert();
    // A table shorter than t: the last pair serves (it is the one for t = 3).
    let table = adamw::bias_corrections(h.beta1, h.beta2, ADAMW_TAKEN + 1);
    let corrections = c.up("bias corrections", &[table.len()], &table)?;
    // One step from the control words `words`, with loss scaling or not: the parameters, the
    // moments, and the control words after.
    let run = |c: &mut Checker,
               grads: &[f32],
               h: adamw::AdamwStep,
               scaling: bool,
               words: [u32; adamw::control::WORDS]|
     -> Result<_> {
        let (tp, tg) = (c.up("p", &[n], &p0)?, c.up("g", &[n], grads)?);
        let (tm, tv) = (c.up("m", &[n], &m0)?, c.up("v", &[n], &v0)?);
        let norm_sq = g.zeros("norm", &[1])?;
        reduce::global_sumsq(&g, &[&tg], &norm_sq)?;
        let control = g.upload_u32("control", &[words.len()], &words)?;
        let scaling = scaling.then_some(adamw::Scaling { growth: 2000 });
        adamw::adamw_begin(&g, scaling, &norm_sq, &control, &corrections)?;
        adamw::adamw_update(&g, &h, &tp, &tg, &tm, &tv, &td, &norm_sq, &control)?;
        Ok(((tp.to_vec()?, tm.to_vec()?, tv.to_vec()?), control.to_vec_u32()?))
    };
    let taken = |scale: f32| {
        let mut w = adamw::control::initial(scale);
        w[adamw::control::STEPS] = ADAMW_TAKEN;
        w
    };
    let ((p, m, v), after) = run(c, &g0, h, false, taken(1.0))?;
    let (mut rp, mut rm, mut rv) = (f64s(&p0), f64s(&m0), f64s(&v0));
    let norm = g0.iter().map(|&v| (v as f64).powi(2)).sum::<f64>().sqrt();
    let g64 = f64s(&g0);
    for (s, &d) in decay.iter().enumerate() {
        let r = s * adamw::DECAY_SLOT..((s + 1) * adamw::DECAY_SLOT).min(n);
        let clip = r::adamw::clip_coefficient(norm, 1.0);
        let (p, m, v) = (&mut rp[r.clone()], &mut rm[r.clone()], &mut rv[r.clone()]);
        let t = ADAMW_TAKEN as i32 + 1;
        r::adamw::step(p, &g64[r], m, v, 1e-3, 0.9, 0.999, 1e-6, 0.01 * d as f64, t, clip);
    }
    c.close("adamw (parameters)", "clipped", "1000", &p, &rp, tol::ADAMW_PARAM);
    c.close("adamw (first moment)", "clipped", "1000", &m, &rm, tol::ADAMW_M);
    c.close("adamw (second moment)", "clipped", "1000", &v, &rv, tol::ADAMW_V);
    let steps = after[adamw::control::STEPS];
    let note = format!("t {steps}");
    c.holds("adamw counts the step", "clipped", "1000", "t 3", steps == ADAMW_TAKEN + 1, note);

    // A frozen prefix (--freeze-layers): elements before `first` keep their values, the rest
    // take the very same step (the norm still spans every gradient).
    let first = 300;
    let ((fp, fm, _), _) = run(c, &g0, adamw::AdamwStep { first, ..h }, false, taken(1.0))?;
    let want_p: Vec<f64> = f64s(&p0[..first]).into_iter().chain(f64s(&p[first..])).collect();
    let want_m: Vec<f64> = f64s(&m0[..first]).into_iter().chain(f64s(&m[first..])).collect();
    c.close("adamw frozen prefix (parameters)", "first 300", "1000", &fp, &want_p, tol::EXACT);
    c.close("adamw frozen prefix (first moment)", "first 300", "1000", &fm, &want_m, tol::EXACT);

    // Loss scaling: gradients scaled by S, with S in the control words, give the unscaled step.
    let s = 4096.0;
    let scaled: Vec<f32> = g0.iter().map(|v| v * s).collect();
    let ((up_, um, uv), after) = run(c, &scaled, h, true, taken(s))?;
    c.close("adamw unscaled (parameters)", "loss scale 4096", "1000", &up_, &f64s(&p), tol::ADAMW_PARAM);
    c.close("adamw unscaled (first moment)", "loss scale 4096", "1000", &um, &f64s(&m), tol::ADAMW_M);
    c.close("adamw unscaled (second moment)", "loss scale 4096", "1000", &uv, &f64s(&v), tol::ADAMW_V);
    let skipped = after[adamw::control::SKIPPED];
    c.holds(
        "adamw unscaled (not skipped)",
        "loss scale 4096",
        "1000",
        "skip flag 0",
        skipped == 0,
        format!("skip flag {skipped}"),
    );
    // An infinite or NaN gradient (one that overflowed f16): nothing moves, t stays.
    let (mut inf, mut nan) = (scaled.clone(), scaled.clone());
    (inf[5], nan[999]) = (f32::INFINITY, f32::NAN);
    for (what, grads) in [("infinite gradient", &inf), ("NaN gradient", &nan)] {
        let ((hp, hm, hv), after) = run(c, grads, h, true, taken(s))?;
        let (skipped, steps) = (after[adamw::control::SKIPPED], after[adamw::control::STEPS]);
        let held = skipped == 1 && steps == ADAMW_TAKEN && hp == p0 && hm == m0 && hv == v0;
        let note = format!("skip flag {skipped}, t {steps}; or parameters or moments moved");
        c.holds("adamw skips the step", what, "1000", "nothing moves, skip flag 1, t 2", held, note);
    }
    loss_scale_rules(c, &corrections)
}

/// adamw_begin's loss scale against the reference's rules, step after step, through skips, a
/// growth interval and the normal range's ends.
fn loss_scale_rules(c: &mut Checker, corrections: &crate::gpu::Tensor) -> Result<()> {
    use adamw::control as w;
    let g = c.gpu.clone();
    let growth = 3;
    let (ok, bad) = (g.zeros("norm", &[1])?, g.upload("norm", &[1], &[f32::INFINITY])?);
    for (start, pattern) in [(65536.0, "xx....x......x"), (f32::MIN_POSITIVE * 2.0, "xxx"), (f32::MAX / 4.0, "......")]
    {
        let control = g.upload_u32("control", &[w::WORDS], &w::initial(start))?;
        let mut want = r::loss_scale::Scaler { scale: start, clean_steps: 0, skipped_in_a_row: 0 };
        let mut fails = Vec::new();
        for (k, step) in pattern.chars().enumerate() {
            let skip = step == 'x';
            let norm = if skip { &bad } else { &ok };
            adamw::adamw_begin(&g, Some(adamw::Scaling { growth }), norm, &control, corrections)?;
            let got = control.to_vec_u32()?;
            want = r::loss_scale::after_step(want, skip, growth);
            let seen = r::loss_scale::Scaler {
                scale: f32::from_bits(got[w::LOSS_SCALE]),
                clean_steps: got[w::CLEAN_STEPS],
                skipped_in_a_row: got[w::SKIPPED_IN_A_ROW],
            };
            if seen != want || got[w::SKIPPED] != skip as u32 {
                fails.push(format!("step {}: {seen:?}, skip flag {}, want {want:?}", k + 1, got[w::SKIPPED]));
                break; // the steps after follow from this one
            }
        }
        let steps = control.to_vec_u32()?[w::STEPS] as usize;
        let clean = pattern.chars().filter(|&s| s == '.').count();
        if steps != clean {
            fails.push(format!("t {steps}, want {clean}"));
        }
        let what = format!("from {start:e}, growth {growth}");
        c.holds(
            "loss scale on the GPU",
            &what,
            pattern,
            "as the reference's rules",
            fails.is_empty(),
            fails.join("; "),
        );
    }
    Ok(())
}
