//! What the subcommands share: the adapter options, standard input read line by line, the
//! model folder's tokenizer with its notices, and the progress lines and bars.

use clap::Args;

use crate::gpu::GpuOptions;

/// Which adapter to run on.
#[derive(Args, Clone, Debug, Default)]
pub struct GpuArgs {
    /// Graphics backend: vulkan, metal, dx12 or gl (default: all; env WGBERT_BACKEND).
    #[arg(long, global = true)]
    pub(super) backend: Option<String>,
    /// Adapter index or name substring from `wgbert info` (env WGBERT_ADAPTER).
    #[arg(long, global = true)]
    pub(super) adapter: Option<String>,
    /// Kernel tuning: auto (measure each new shape once, cached on disk), off, or retune
    /// (env WGBERT_TUNE; cache folder WGBERT_CACHE_DIR).
    #[arg(long, global = true)]
    pub(super) tune: Option<String>,
}

/// The precision inference runs in.
#[derive(Args, Clone, Debug, Default)]
pub struct PrecisionArg {
    /// f32, or mixed: the linear layers' products on their inputs and weights rounded to f16, f32
    /// accumulation, as PyTorch's autocast (needs an adapter with shader-f16) [default: f32].
    #[arg(long, value_enum)]
    precision: Option<crate::train::Precision>,
}

impl PrecisionArg {
    /// Puts `model` in the precision asked for.
    pub(super) fn apply(
        &self,
        gpu: &std::sync::Arc<crate::gpu::Gpu>,
        model: &mut crate::model::BertClassifier,
    ) -> anyhow::Result<()> {
        if self.is_mixed() {
            crate::infer::run_half(gpu, model)?;
        }
        Ok(())
    }

    pub(super) fn is_mixed(&self) -> bool {
        self.precision == Some(crate::train::Precision::Mixed)
    }
}

impl GpuArgs {
    pub(super) fn options(&self) -> GpuOptions {
        GpuOptions::given(self.backend.clone(), self.adapter.clone(), self.tune.clone())
    }
}

/// The lines of standard input, each without its line ending; a line that is not UTF-8 is an
/// error naming it.
pub(super) fn stdin_lines() -> anyhow::Result<Vec<String>> {
    use anyhow::Context;
    use std::io::BufRead;
    let mut lines = Vec::new();
    for (n, line) in std::io::stdin().lock().split(b'\n').enumerate() {
        let bytes = line.context("reading standard input")?;
        let text = String::from_utf8(bytes).map_err(|e| {
            anyhow::anyhow!("line {} of standard input is not UTF-8 (byte {})", n + 1, e.utf8_error().valid_up_to())
        })?;
        lines.push(text.strip_suffix('\r').map(str::to_string).unwrap_or(text));
    }
    Ok(lines)
}

/// The tokenizer of the model folder `dir`, its notices printed on standard error.
pub(super) fn load_tokenizer(dir: &std::path::Path) -> anyhow::Result<crate::tokenizer::Tokenizer> {
    use anyhow::Context;
    let tok = crate::tokenizer::Tokenizer::from_dir(dir)
        .with_context(|| format!("loading the tokenizer from {}", dir.display()))?;
    print_notices(&tok);
    Ok(tok)
}

/// A tokenizer's notices (where it departs from HF tokenizers), on standard error.
pub(super) fn print_notices(tok: &crate::tokenizer::Tokenizer) {
    for n in tok.notices() {
        eprintln!("notice: {n}");
    }
}

/// A sentence pair given on one line, the two texts separated by a tab.
pub(super) fn split_pair(line: &str, what: &str) -> anyhow::Result<(String, String)> {
    match line.split_once('\t') {
        Some((a, b)) => Ok((a.to_string(), b.to_string())),
        None => anyhow::bail!("{what} has no tab: a sentence pair is given as two texts separated by a tab"),
    }
}

/// The GPU and host memory now, for progress lines: the buffer pool's footprint and its part in
/// tensors, what the driver reserved (where the backend says), the process's resident set.
pub(super) fn memory_line(gpu: &crate::gpu::Gpu) -> String {
    use crate::bench::train::{host_rss_mib, mib};
    let m = gpu.memory();
    let show = |v: Option<f64>| v.map(|v| format!("{v:.0} MiB")).unwrap_or("-".into());
    format!(
        "GPU buffer pool {:.0} MiB ({:.0} MiB in tensors), driver reserved {}, host RSS {}",
        mib(m.footprint()),
        mib(m.live),
        show(gpu.device_reserved_bytes().map(mib)),
        show(host_rss_mib())
    )
}

/// The bar shown while `len` examples are scored (`predict`, `eval`, and `train`'s validation
/// and test sets), labelled `label`; hidden without a terminal.
pub(super) fn scoring_bar(len: usize, label: &str) -> indicatif::ProgressBar {
    let style = indicatif::ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} ({per_sec}, {eta} left)")
        .expect("a valid template")
        .progress_chars("=> ");
    indicatif::ProgressBar::new(len as u64).with_style(style).with_prefix(label.to_string())
}
