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
mod shared;
mod tokenize;
mod train;

use clap::{Parser, Subcommand};

pub use shared::GpuArgs;

#[derive(Parser)]
#[command(name = "wgbert", version = env!("WGBERT_VERSION"), about = "Fine-tune BERT on any GPU wgpu reaches, on hand-written WGSL kernels")]
struct Cli {
    #[command(subcommand)]
    command: Command,
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
