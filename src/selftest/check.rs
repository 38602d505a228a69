//! One row of the self-test (kernel, variant, shape, max error, tolerance, pass/fail) and the
//! checker that collects rows while a group of checks runs.

use std::sync::Arc;

use serde::Serialize;

use crate::data::sample::Rng;
use crate::gpu::{Gpu, Tensor};

/// An element passes when |got − want| <= atol + rtol·|want|.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Tol {
    pub atol: f64,
    pub rtol: f64,
}

impl Tol {
    pub const EXACT: Tol = Tol { atol: 0.0, rtol: 0.0 };

    pub const fn new(atol: f64, rtol: f64) -> Tol {
        Tol { atol, rtol }
    }

    /// The largest |got − want| and whether every element is within the tolerance. A NaN on
    /// one side fails; NaN against NaN and equal infinities pass (exact checks of casts).
    pub fn compare(&self, got: &[f32], want: &[f64]) -> Comparison {
        let mut c = Comparison { max_err: 0.0, worst: None, passed: got.len() == want.len() };
        for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
            let g = g as f64;
            // Equal values (infinities too) and NaN against NaN are no error.
            let same = g == w || (g.is_nan() && w.is_nan());
            let err = if same { 0.0 } else { (g - w).abs() };
            let ok = same || err <= self.atol + self.rtol * w.abs();
            if !ok && c.worst.is_none() {
                c.worst = Some((i, g, w));
            }
            c.passed &= ok;
            if err > c.max_err || err.is_nan() {
                c.max_err = if err.is_nan() { f64::INFINITY } else { err };
            }
        }
        c
    }
}

impl std::fmt::Display for Tol {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match (self.atol, self.rtol) {
            (a, r) if a == 0.0 && r == 0.0 => write!(f, "exact"),
            (a, r) if r == 0.0 => write!(f, "{a:.0e}"),
            (a, r) if a == 0.0 => write!(f, "{r:.0e}·|ref|"),
            (a, r) => write!(f, "{a:.0e} + {r:.0e}·|ref|"),
        }
    }
}

pub struct Comparison {
    pub max_err: f64,
    /// The first element out of tolerance: (index, got, want).
    pub worst: Option<(usize, f64, f64)>,
    pub passed: bool,
}

/// One line of the report.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// The check group ("matmul", "attention", ...), as `--filter` selects it.
    pub group: &'static str,
    pub kernel: String,
    pub variant: String,
    pub shape: String,
    /// Largest |got − reference| (0 for checks that are pass/fail only).
    pub max_err: f64,
    /// "1e-5 + 1e-5·|ref|", "exact", or what a pass/fail check demands.
    pub tolerance: String,
    pub passed: bool,
    /// Why a row failed (the first element out of tolerance, or the error), or what was skipped.
    pub note: String,
}

/// How much to check: `Full` is what `tests/` runs; `Quick` drops the largest shapes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Size {
    Quick,
    Full,
}

/// Runs the checks of one group on one adapter and keeps their rows.
pub struct Checker {
    pub gpu: Arc<Gpu>,
    pub size: Size,
    pub rng: Rng,
    pub group: &'static str,
    pub rows: Vec<Row>,
}

impl Checker {
    pub fn new(gpu: &Arc<Gpu>, size: Size, group: &'static str, seed: u64) -> Checker {
        Checker { gpu: gpu.clone(), size, rng: Rng::new(seed), group, rows: Vec::new() }
    }

    /// `n` values uniform in [-scale, scale).
    pub fn vec(&mut self, n: usize, scale: f32) -> Vec<f32> {
        (0..n).map(|_| self.uniform() * scale).collect()
    }

    /// Uniform in [-1, 1).
    pub fn uniform(&mut self) -> f32 {
        ((self.rng.next_u64() >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }

    pub fn below(&mut self, n: u32) -> u32 {
        (self.rng.next_u64() % n as u64) as u32
    }

    pub fn up(&self, name: &str, shape: &[usize], data: &[f32]) -> anyhow::Result<Tensor> {
        Ok(self.gpu.upload(name, shape, data)?)
    }

    /// Compares a kernel's output with the reference and records the row.
    pub fn close(&mut self, kernel: &str, variant: &str, shape: &str, got: &[f32], want: &[f64], tol: Tol) -> bool {
        let c = tol.compare(got, want);
        let note = match (got.len() == want.len(), c.worst) {
            (false, _) => format!("{} values, the reference has {}", got.len(), want.len()),
            (true, Some((i, g, w))) => format!("element {i} is {g} but the reference says {w}"),
            (true, None) => String::new(),
        };
        self.record(kernel, variant, shape, c.max_err, tol.to_string(), c.passed, note)
    }

    /// A pass/fail check without an error figure (bit-exact casts, flags, rates).
    pub fn holds(&mut self, kernel: &str, variant: &str, shape: &str, demand: &str, ok: bool, note: String) -> bool {
        self.record(kernel, variant, shape, 0.0, demand.to_string(), ok, if ok { String::new() } else { note })
    }

    /// A check the adapter cannot run (a missing feature): a passing row that says so.
    pub fn skip(&mut self, kernel: &str, variant: &str, why: &str) {
        self.record(kernel, variant, "-", 0.0, "-".into(), true, format!("skipped: {why}"));
    }

    /// A row as it is; returns whether it passed.
    #[allow(clippy::too_many_arguments)]
    pub fn record(
        &mut self,
        kernel: &str,
        variant: &str,
        shape: &str,
        err: f64,
        tol: String,
        ok: bool,
        note: String,
    ) -> bool {
        self.rows.push(Row {
            group: self.group,
            kernel: kernel.into(),
            variant: variant.into(),
            shape: shape.into(),
            max_err: err,
            tolerance: tol,
            passed: ok,
            note,
        });
        ok
    }

    /// A group that stopped on an error (a kernel that failed to compile, a lost device): one
    /// failing row naming it, so the report still says what broke.
    pub fn error(&mut self, e: &anyhow::Error) {
        let group = self.group;
        self.record(group, "-", "-", f64::INFINITY, "-".into(), false, format!("error: {e:#}"));
    }
}
