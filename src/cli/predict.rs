//! `wgbert predict --model RUN [TEXT …]`: each text with its score, as the seed tutorial prints
//! it; standard input (one text per line) when no TEXT is given. A model trained on sentence
//! pairs takes each input as two texts separated by a tab.
//!
//! `wgbert predict --model RUN --data FILE.csv|jsonl [--out FILE.csv|jsonl]`: every row of a
//! file, batched by length at full batch speed, with progress; one row out per row in (its
//! source, label, score and every class's probability), JSON lines on standard output when
//! there is no --out.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::Args;

use super::shared::{GpuArgs, PrecisionArg};
use crate::data::{table, Columns};
use crate::gpu::Gpu;
use crate::infer::{check_pair_column, logits, max_len_for, predictions, probabilities, Classifier, Encoded, Inputs};

#[derive(Args)]
pub struct PredictArgs {
    #[command(flatten)]
    gpu: GpuArgs,
    #[command(flatten)]
    precision: PrecisionArg,
    /// A run folder (its model/) or an exported model folder.
    #[arg(long)]
    model: PathBuf,
    texts: Vec<String>,
    #[arg(long, default_value_t = 128)]
    max_len: usize,
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// One JSON object per line: text, score, label.
    #[arg(long)]
    json: bool,
    /// Score every row of a CSV or JSONL file (its text column, and pair column for pair models).
    #[arg(long, conflicts_with = "texts")]
    data: Option<PathBuf>,
    /// Where --data's scores go: .csv or .jsonl (default: JSON lines on standard output).
    #[arg(long, requires = "data")]
    out: Option<PathBuf>,
    #[arg(long, default_value = "text")]
    text_column: String,
    /// The second text of sentence pairs in --data (models trained with --text-pair-column).
    #[arg(long)]
    text_pair_column: Option<String>,
}

pub fn run(a: PredictArgs) -> anyhow::Result<()> {
    let gpu = Gpu::new(&a.gpu.options())?;
    let mut c = Classifier::load(&gpu, &a.model)?;
    a.precision.apply(&gpu, &mut c.model)?;
    super::shared::print_notices(&c.tokenizer);
    let (max_len, clamped) = max_len_for(&c.model.config, a.max_len);
    if let Some(n) = clamped {
        eprintln!("notice: {n}");
    }
    if let Some(data) = &a.data {
        return score_file(&gpu, &c, data, &a, max_len);
    }
    let lines = if a.texts.is_empty() { super::shared::stdin_lines()? } else { a.texts.clone() };
    let pairs;
    let inputs = if c.model.text_pairs {
        pairs = lines
            .iter()
            .enumerate()
            .map(|(n, line)| {
                let what = if a.texts.is_empty() {
                    format!("line {} of standard input", n + 1)
                } else {
                    format!("text {}", n + 1)
                };
                super::shared::split_pair(line, &format!("{what} (this model reads sentence pairs)"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Inputs::Pairs(&pairs)
    } else {
        Inputs::Texts(&lines)
    };
    let enc = inputs.encode(&c.tokenizer, max_len);
    let logits = logits(&gpu, &c.model, &enc, c.tokenizer.pad_id(), a.batch_size, |_| {})?;
    for (text, (class, score)) in lines.iter().zip(predictions(&logits, c.model.num_labels)) {
        let label = c.label(class);
        if a.json {
            println!("{}", serde_json::json!({ "text": text, "score": score, "label": label }));
        } else if c.model.num_labels > 2 {
            // Past two classes the score is the top class's probability: say which class it is.
            println!("input: {text:<30} : score: {score:.6} : label: {label}");
        } else {
            println!("input: {text:<30} : score: {score:.6}");
        }
    }
    Ok(())
}

/// Output format of --data's scores, by --out's extension.
#[derive(PartialEq)]
enum Format {
    Csv,
    Jsonl,
}

fn score_file(
    gpu: &std::sync::Arc<Gpu>,
    c: &Classifier,
    data: &Path,
    a: &PredictArgs,
    max_len: usize,
) -> anyhow::Result<()> {
    let (model, classes, tok) = (&c.model, &c.classes, &c.tokenizer);
    check_pair_column(model, a.text_pair_column.as_deref())?;
    let format = match &a.out {
        None => Format::Jsonl,
        Some(out) => {
            let lower = out.to_string_lossy().to_ascii_lowercase();
            if lower.ends_with(".csv") {
                Format::Csv
            } else if lower.ends_with(".jsonl") || lower.ends_with(".json") {
                Format::Jsonl
            } else {
                bail!("--out {}: name a .csv or .jsonl file", out.display());
            }
        }
    };
    if let Some(out) = &a.out {
        if out.canonicalize().ok().is_some_and(|o| data.canonicalize().ok() == Some(o)) {
            bail!("--out {} is the --data file itself: choose another name", out.display());
        }
    }
    let cols = Columns { text: a.text_column.clone(), label: "label".into(), pair: a.text_pair_column.clone() };
    let d = table::read_texts(data, &cols)?;
    if d.is_empty() {
        bail!("{}: no rows to score", data.display());
    }
    let t0 = std::time::Instant::now();
    let enc = Encoded::new(tok, &d, max_len);
    let bar = super::shared::scoring_bar(d.len(), "scoring");
    // Without a terminal (a log file) the bar is hidden: a line every 30 s instead, with the
    // memory figures that show a long run staying flat.
    let plain = !std::io::IsTerminal::is_terminal(&std::io::stderr());
    let mut last_line = std::time::Instant::now();
    let logits = logits(gpu, model, &enc, tok.pad_id(), a.batch_size, |n| {
        bar.set_position(n as u64);
        if plain && last_line.elapsed().as_secs() >= 30 {
            last_line = std::time::Instant::now();
            eprintln!("scored {n}/{}: {}", d.len(), super::shared::memory_line(gpu));
        }
    })?;
    bar.finish_and_clear();
    let seconds = t0.elapsed().as_secs_f64();

    let mut text = String::new();
    if format == Format::Csv {
        let head: Vec<String> = classes.iter().map(|c| csv_field(&format!("p_{c}"))).collect();
        text += &format!("source,label,score,{}\n", head.join(","));
    }
    let probs = probabilities(&logits, model.num_labels);
    for ((e, (class, score)), p) in d.examples.iter().zip(predictions(&logits, model.num_labels)).zip(&probs) {
        let label = c.label(class);
        match format {
            Format::Jsonl => {
                let by_class: serde_json::Map<String, serde_json::Value> =
                    classes.iter().zip(p).map(|(c, v)| (c.clone(), (*v).into())).collect();
                let row = serde_json::json!({ "source": e.source, "label": label, "score": score, "probabilities": by_class });
                text += &format!("{row}\n");
            }
            Format::Csv => {
                let ps: Vec<String> = p.iter().map(|v| v.to_string()).collect();
                text += &format!("{},{},{score},{}\n", csv_field(&e.source), csv_field(label), ps.join(","));
            }
        }
    }
    match &a.out {
        Some(out) => {
            crate::fsio::write_atomic(out, text.as_bytes()).with_context(|| format!("writing {}", out.display()))?
        }
        None => std::io::stdout().lock().write_all(text.as_bytes())?,
    }
    eprintln!(
        "scored {} rows in {seconds:.1} s ({:.1} rows/s, batches of {} sorted by length, {max_len} tokens at most)",
        d.len(),
        d.len() as f64 / seconds,
        a.batch_size
    );
    let m = gpu.memory();
    eprintln!(
        "at the end: {}; the pool's peak {:.0} MiB",
        super::shared::memory_line(gpu),
        crate::bench::train::mib(m.peak_total)
    );
    Ok(())
}

/// A CSV field, quoted when it holds a comma, a quote or a line break.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
