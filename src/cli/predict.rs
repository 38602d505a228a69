//! `wgbert predict --model RUN [TEXT …]`: each text with its score, as the seed tutorial prints
//! it; standard input (one text per line) when no TEXT is given.

use std::io::BufRead;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use super::GpuArgs;
use crate::gpu::Gpu;

#[derive(Args)]
pub struct PredictArgs {
    #[command(flatten)]
    gpu: GpuArgs,
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
}

pub fn run(a: PredictArgs) -> anyhow::Result<()> {
    let gpu = Gpu::new(&a.gpu.options())?;
    let (model, classes, tok) = crate::train::load_classifier(&gpu, &a.model)?;
    let texts = if a.texts.is_empty() {
        let mut v = Vec::new();
        for (n, line) in std::io::stdin().lock().split(b'\n').enumerate() {
            let bytes = line.context("reading standard input")?;
            let t = String::from_utf8(bytes).map_err(|e| {
                anyhow::anyhow!("line {} of standard input is not UTF-8 (byte {})", n + 1, e.utf8_error().valid_up_to())
            })?;
            v.push(t.strip_suffix('\r').map(str::to_string).unwrap_or(t));
        }
        v
    } else {
        a.texts.clone()
    };
    let preds = crate::train::predict(
        &gpu,
        &model,
        &tok,
        &texts,
        a.max_len.min(model.config.max_position_embeddings),
        a.batch_size,
    )?;
    for (text, (class, score)) in texts.iter().zip(preds) {
        let label = classes.get(class).cloned().unwrap_or_else(|| class.to_string());
        if a.json {
            println!("{}", serde_json::json!({ "text": text, "score": score, "label": label }));
        } else {
            println!("input: {text:<30} : score: {score:.6}");
        }
    }
    Ok(())
}
