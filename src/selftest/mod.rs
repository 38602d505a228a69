//! `wgbert selftest`: every kernel and variant the adapter can run, checked against the f64 CPU
//! reference (`crate::reference`) at sizes that are no multiple of any tile, a few backward
//! kernels against finite differences, and one training step of a tiny BERT against PyTorch.
//!
//! The checks live here, not in `tests/`, so that a user on a new GPU or driver can run them
//! from the binary alone; `tests/kernels.rs` runs the same groups at full size, and every
//! tolerance comes from one table (`tolerance`), shared with the other tests.

pub mod attention;
mod check;
mod gradients;
pub mod kernels;
mod matmul;
mod optimizer;
pub mod tolerance;
pub mod training;

use std::sync::Arc;
use std::time::Duration;
use web_time::Instant;

pub use check::{Checker, Comparison, Row, Size, Tol};

use crate::gpu::Gpu;

/// A named set of checks (`--filter` matches these names).
pub struct Group {
    pub name: &'static str,
    pub about: &'static str,
    run: fn(&mut Checker) -> anyhow::Result<()>,
}

pub const GROUPS: &[Group] = &[
    Group { name: "matmul", about: "every variant and transpose, f32 and f16 operands", run: matmul::matmul },
    Group { name: "linear", about: "linear forward, backward dx/dW/db", run: matmul::linear_layers },
    Group { name: "epilogue", about: "bias + activation in the matmul epilogue", run: matmul::epilogue },
    Group { name: "layernorm", about: "every variant, add & norm with dropout", run: kernels::layernorm },
    Group { name: "activation", about: "GELU (erf, tanh), ReLU", run: kernels::gelu },
    Group {
        name: "softmax",
        about: "masked, scores up to ±1000; a row per invocation and per subgroup",
        run: attention::softmax,
    },
    Group { name: "attention", about: "fused and matmul paths, [CLS] only", run: attention::attention },
    Group { name: "embedding", about: "word + position + type, backward", run: kernels::embedding },
    Group {
        name: "elementwise",
        about: "dropout, tanh, first token, mean pooling, add, axpy",
        run: kernels::elementwise,
    },
    Group { name: "loss", about: "binary and multi-class", run: kernels::losses },
    Group { name: "reduce", about: "column sums, global sum of squares", run: kernels::reductions },
    Group { name: "adamw", about: "clipping, per-slot decay, loss-scale skips", run: optimizer::adamw },
    Group { name: "casts", about: "f32 <-> f16, exact", run: kernels::casts },
    Group { name: "gradients", about: "backward kernels vs finite differences", run: gradients::finite_differences },
    Group { name: "training", about: "a tiny BERT step vs PyTorch (embedded fixture)", run: training::tiny_bert_step },
];

/// Runs one group; an error (a kernel that does not compile, a lost device) becomes a failing row.
pub fn run_group(gpu: &Arc<Gpu>, group: &Group, size: Size) -> Vec<Row> {
    // Each group draws from its own seed, so a group's inputs do not depend on the filter.
    let seed = GROUPS.iter().position(|g| g.name == group.name).unwrap_or(0) as u64 + 1;
    let mut c = Checker::new(gpu, size, group.name, seed);
    if let Err(e) = (group.run)(&mut c) {
        c.error(&e);
    }
    c.rows
}

/// The group called `name`, for tests.
pub fn group(name: &str) -> &'static Group {
    GROUPS.iter().find(|g| g.name == name).unwrap_or_else(|| panic!("no self-test group {name}"))
}

/// Runs the groups whose name contains `filter` (all without one), calling `progress` after each.
pub fn run(
    gpu: &Arc<Gpu>,
    size: Size,
    filter: Option<&str>,
    mut progress: impl FnMut(&Group, &[Row], Duration),
) -> Vec<Row> {
    let mut rows = Vec::new();
    for group in GROUPS.iter().filter(|g| filter.is_none_or(|f| g.name.contains(f))) {
        let start = Instant::now();
        let got = run_group(gpu, group, size);
        progress(group, &got, start.elapsed());
        rows.extend(got);
    }
    rows
}
