//! The `wgbert` subcommands, one file each. Each parses its options, calls the library and
//! prints; errors reach the user as one message (no backtrace) and a non-zero exit.

mod bench;
mod embed;
mod eval;
mod export;
mod info;
mod predict;
mod selftest;
mod serve;
mod shaders;
mod tokenize;
mod train;

use clap::{Args, Parser, Subcommand};

use crate::gpu::GpuOptions;

#[derive(Parser)]
#[command(name = "wgbert", version = env!("WGBERT_VERSION"), about = "Fine-tune BERT on any GPU wgpu reaches, on hand-written WGSL kernels")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Which adapter to run on.
#[derive(Args, Clone, Debug, Default)]
pub struct GpuArgs {
    /// Graphics backend: vulkan, metal, dx12 or gl (default: all; env WGBERT_BACKEND).
    #[arg(long, global = true)]
    backend: Option<String>,
    /// Adapter index or name substring from `wgbert info` (env WGBERT_ADAPTER).
    #[arg(long, global = true)]
    adapter: Option<String>,
    /// Kernel tuning: auto (measure each new shape once, cached on disk), off, or retune
    /// (env WGBERT_TUNE; cache folder WGBERT_CACHE_DIR).
    #[arg(long, global = true)]
    tune: Option<String>,
}

impl GpuArgs {
    fn options(&self) -> GpuOptions {
        GpuOptions::given(self.backend.clone(), self.adapter.clone(), self.tune.clone())
    }
}

#[derive(Subcommand)]
enum Command {
    /// Fine-tune a BERT classifier (IMDB folder/tarball, CSV or JSONL).
    Train(train::TrainArgs),
    /// Evaluate a trained model: loss, accuracy, precision, recall, F1, confusion matrix.
    Eval(eval::EvalArgs),
    /// Score texts with a trained model.
    Predict(predict::PredictArgs),
    /// Write a run's latest checkpoint as a Hugging Face model folder.
    Export(export::ExportArgs),
    /// List adapters, the chosen one, its limits and features.
    Info(info::InfoArgs),
    /// Benchmarks: `kernels` (GPU kernels), `tokenizer`.
    Bench(bench::BenchArgs),
    /// Tokenize standard input, one text per line, to ids (or word pieces).
    Tokenize(tokenize::TokenizeArgs),
    /// Embed standard input, one text per line, to one JSON array per line.
    Embed(embed::EmbedArgs),
    /// Serve a model over HTTP with text-embeddings-inference's API (/embed, /predict,
    /// /rerank, /v1/embeddings, ...).
    Serve(serve::ServeArgs),
    /// Check every kernel and variant on this adapter against the CPU reference.
    Selftest(selftest::SelftestArgs),
    /// Write every WGSL module as compiled, and a manifest of entry points and specializations.
    Shaders(shaders::ShadersArgs),
}

/// The lines of standard input, each without its line ending; a line that is not UTF-8 is an
/// error naming it.
fn stdin_lines() -> anyhow::Result<Vec<String>> {
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
fn load_tokenizer(dir: &std::path::Path) -> anyhow::Result<crate::tokenizer::Tokenizer> {
    use anyhow::Context;
    let tok = crate::tokenizer::Tokenizer::from_dir(dir)
        .with_context(|| format!("loading the tokenizer from {}", dir.display()))?;
    print_notices(&tok);
    Ok(tok)
}

/// A tokenizer's notices (where it departs from HF tokenizers), on standard error.
fn print_notices(tok: &crate::tokenizer::Tokenizer) {
    for n in tok.notices() {
        eprintln!("notice: {n}");
    }
}

/// A sentence pair given on one line, the two texts separated by a tab.
fn split_pair(line: &str, what: &str) -> anyhow::Result<(String, String)> {
    match line.split_once('\t') {
        Some((a, b)) => Ok((a.to_string(), b.to_string())),
        None => anyhow::bail!("{what} has no tab: a sentence pair is given as two texts separated by a tab"),
    }
}

/// Runs the command line; returns the process exit code.
pub fn run() -> i32 {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train(a) => train::run(a),
        Command::Eval(a) => eval::run(a),
        Command::Predict(a) => predict::run(a),
        Command::Export(a) => export::run(a),
        Command::Info(a) => info::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Tokenize(a) => tokenize::run(a),
        Command::Embed(a) => embed::run(a),
        Command::Serve(a) => serve::run(a),
        Command::Selftest(a) => selftest::run(a),
        Command::Shaders(a) => shaders::run(a),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    }
}

/// The GPU and host memory now, for progress lines: the buffer pool's footprint and its part in
/// tensors, what the driver reserved (where the backend says), the process's resident set.
pub(crate) fn memory_line(gpu: &crate::gpu::Gpu) -> String {
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
pub(crate) fn scoring_bar(len: usize, label: &str) -> indicatif::ProgressBar {
    let style = indicatif::ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} ({per_sec}, {eta} left)")
        .expect("a valid template")
        .progress_chars("=> ");
    indicatif::ProgressBar::new(len as u64).with_style(style).with_prefix(label.to_string())
}
