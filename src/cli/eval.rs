//! `wgbert eval --model RUN --data PATH`: loss, accuracy, precision, recall, F1, confusion matrix.

use std::path::PathBuf;

use clap::Args;

use super::shared::{GpuArgs, PrecisionArg};
use crate::data::{self, sample, Columns};
use crate::gpu::Gpu;
use crate::infer::{check_pair_column, max_len_for, Classifier, Encoded};
use crate::train::evaluate;

#[derive(Args)]
pub struct EvalArgs {
    #[command(flatten)]
    gpu: GpuArgs,
    #[command(flatten)]
    precision: PrecisionArg,
    /// A run folder (its model/) or an exported model folder.
    #[arg(long)]
    model: PathBuf,
    /// IMDB folder or tarball (its test/ split), or a CSV / JSONL file.
    #[arg(long)]
    data: PathBuf,
    #[arg(long)]
    limit_test: Option<usize>,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    #[arg(long, default_value_t = 128)]
    max_len: usize,
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    #[arg(long, default_value = "text")]
    text_column: String,
    #[arg(long, default_value = "label")]
    label_column: String,
    /// The second text of sentence pairs (models trained with --text-pair-column).
    #[arg(long)]
    text_pair_column: Option<String>,
    #[arg(long)]
    json: bool,
}

pub fn run(a: EvalArgs) -> anyhow::Result<()> {
    let gpu = Gpu::new(&a.gpu.options())?;
    let Classifier { mut model, classes, tokenizer: tok, .. } = Classifier::load(&gpu, &a.model)?;
    a.precision.apply(&gpu, &mut model)?;
    super::shared::print_notices(&tok);
    check_pair_column(&model, a.text_pair_column.as_deref())?;
    let (max_len, clamped) = max_len_for(&model.config, a.max_len);
    if let Some(n) = clamped {
        eprintln!("notice: {n}");
    }
    let cols = Columns { text: a.text_column.clone(), label: a.label_column.clone(), pair: a.text_pair_column.clone() };
    let d = data::load(&a.data, "test", &cols)?;
    let d = crate::train::job::align_classes(d, &classes, &a.data)?;
    let d = match a.limit_test {
        Some(n) => sample::balanced_sample(&d, n, a.seed),
        None => d,
    };
    let enc = Encoded::new(&tok, &d, max_len);
    let bar = super::shared::scoring_bar(enc.len(), "scoring");
    let (r, _) = evaluate(&gpu, &model, &enc, &classes, a.batch_size, tok.pad_id(), |n| bar.set_position(n as u64))?;
    bar.finish_and_clear();
    if a.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(());
    }
    println!("examples: {}", r.examples);
    println!("loss: {:.4}  accuracy: {:.4}", r.loss, r.accuracy);
    println!("{:<12} {:>9} {:>9} {:>9}", "class", "precision", "recall", "f1");
    for (i, c) in r.classes.iter().enumerate() {
        println!("{c:<12} {:>9.4} {:>9.4} {:>9.4}", r.precision[i], r.recall[i], r.f1[i]);
    }
    println!("confusion (rows: true, columns: predicted):");
    for (i, row) in r.confusion.iter().enumerate() {
        let cells: Vec<String> = row.iter().map(|v| format!("{v:>7}")).collect();
        println!("{:<12}{}", r.classes.get(i).cloned().unwrap_or_default(), cells.join(""));
    }
    Ok(())
}
