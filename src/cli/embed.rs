//! `wgbert embed --model DIR [--pool cls|pooler|mean] [--max-len N] [--pairs]`: one text (or,
//! with --pairs, two texts separated by a tab) per line on standard input, one JSON array of
//! floats per line on standard output.

use std::io::{BufWriter, Write};
use std::path::PathBuf;

use clap::Args;

use super::GpuArgs;
use crate::gpu::Gpu;
use crate::model::{embed, BertClassifier, EmbedInputs, Pooling};

#[derive(Args)]
pub struct EmbedArgs {
    #[command(flatten)]
    gpu: GpuArgs,
    /// Model folder: config.json, vocab.txt or tokenizer.json, and weights.
    #[arg(long)]
    model: PathBuf,
    #[arg(long, value_enum, default_value_t = Pooling::Cls)]
    pool: Pooling,
    /// Truncate each text to this many tokens, [CLS] and [SEP] included (default 128, or the
    /// model's max_position_embeddings where that is smaller).
    #[arg(long)]
    max_len: Option<usize>,
    /// Texts per GPU batch.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// Each line is a sentence pair, its two texts separated by a tab: encoded
    /// `[CLS] a [SEP] b [SEP]` with token types 0 and 1, the longer text truncated first.
    #[arg(long)]
    pairs: bool,
}

pub fn run(a: EmbedArgs) -> anyhow::Result<()> {
    let (config, ckpt, _) = crate::checkpoint::load_model_dir(&a.model)?;
    let max_len = a.max_len.unwrap_or(128.min(config.max_position_embeddings));
    if max_len > config.max_position_embeddings || max_len < 2 {
        anyhow::bail!(
            "--max-len {max_len} must be between 2 and the model's max_position_embeddings ({})",
            config.max_position_embeddings
        );
    }
    let tok = super::load_tokenizer(&a.model)?;
    let gpu = Gpu::new(&a.gpu.options())?;
    let model = BertClassifier::from_checkpoint(&gpu, &config, &ckpt, 1, 0)?;
    drop(ckpt);
    let lines = super::stdin_lines()?;
    let pairs;
    let inputs = if a.pairs {
        pairs = lines
            .iter()
            .enumerate()
            .map(|(n, l)| super::split_pair(l, &format!("line {} of standard input", n + 1)))
            .collect::<anyhow::Result<Vec<_>>>()?;
        EmbedInputs::Pairs(&pairs)
    } else {
        EmbedInputs::Texts(&lines)
    };
    let vectors = embed(&gpu, &model, &tok, inputs, max_len, a.pool, a.batch_size)?;
    let mut out = BufWriter::new(std::io::stdout().lock());
    for v in vectors {
        writeln!(out, "{}", serde_json::to_string(&v)?)?;
    }
    out.flush()?;
    Ok(())
}
