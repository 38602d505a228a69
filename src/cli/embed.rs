//! `wgbert embed --model DIR [--pool cls|pooler|mean] [--normalize] [--max-len N] [--pairs]`: one
//! text (or, with --pairs, two texts separated by a tab) per line on standard input, one JSON
//! array of floats per line on standard output.

use std::io::{BufWriter, Write};
use std::path::PathBuf;

use clap::Args;

use super::shared::{GpuArgs, PrecisionArg};
use crate::gpu::Gpu;
use crate::infer::{embed, embed_max_len, normalize, Encoder, Inputs};
use crate::model::Pooling;

#[derive(Args)]
pub struct EmbedArgs {
    #[command(flatten)]
    gpu: GpuArgs,
    #[command(flatten)]
    precision: PrecisionArg,
    /// Model folder: config.json, vocab.txt or tokenizer.json, and weights.
    #[arg(long)]
    model: PathBuf,
    /// What summarizes a text (default: what the model declares: a sentence-transformers
    /// Pooling module, or the pooling of a head trained by wgbert; else cls).
    #[arg(long, value_enum)]
    pool: Option<Pooling>,
    /// Scale each vector to unit length (sentence-transformers' Normalize; TEI's default).
    #[arg(long)]
    normalize: bool,
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
    let gpu = Gpu::new(&a.gpu.options())?;
    let mut e = Encoder::load(&gpu, &a.model)?;
    a.precision.apply(&gpu, &mut e.model)?;
    super::shared::print_notices(&e.tokenizer);
    let max_len = embed_max_len(&e.model.config, a.max_len)?;
    let pool = a.pool.unwrap_or(e.pooling);
    e.check_pooling(pool)?;
    let lines = super::shared::stdin_lines()?;
    let pairs;
    let inputs = if a.pairs {
        pairs = lines
            .iter()
            .enumerate()
            .map(|(n, l)| super::shared::split_pair(l, &format!("line {} of standard input", n + 1)))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Inputs::Pairs(&pairs)
    } else {
        Inputs::Texts(&lines)
    };
    let mut vectors = embed(&gpu, &e.model, &e.tokenizer, inputs, max_len, pool, a.batch_size)?;
    if a.normalize {
        normalize(&mut vectors);
    }
    let mut out = BufWriter::new(std::io::stdout().lock());
    for v in vectors {
        writeln!(out, "{}", serde_json::to_string(&v)?)?;
    }
    out.flush()?;
    Ok(())
}
