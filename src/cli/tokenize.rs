//! `wgbert tokenize --model DIR [--max-len N] [--tokens]`: one text per line on standard input,
//! one line of space-separated ids (or word pieces) per text on standard output.
//! `--prefix N` prints instead the shortest prefix of each text, cut at a space, that holds its
//! first N word pieces (`Tokenizer::prefix_holding`).

use std::io::{BufRead, BufWriter, Write};
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

#[derive(Args)]
pub struct TokenizeArgs {
    /// Model folder holding vocab.txt or tokenizer.json (and optionally tokenizer_config.json /
    /// config.json).
    #[arg(long)]
    model: PathBuf,
    /// Truncate to this many ids, [CLS] and [SEP] included (default: no truncation).
    #[arg(long)]
    max_len: Option<usize>,
    /// Print word pieces instead of ids.
    #[arg(long)]
    tokens: bool,
    /// Print the shortest prefix of each text, cut at a space, that holds its first N word pieces
    /// (the whole text when it has fewer): the same encoding at any --max-len up to N + 2.
    #[arg(long, value_name = "N", conflicts_with_all = ["max_len", "tokens"])]
    prefix: Option<usize>,
}

pub fn run(a: TokenizeArgs) -> anyhow::Result<()> {
    let tok = super::shared::load_tokenizer(&a.model)?;
    let stdin = std::io::stdin();
    let mut out = BufWriter::new(std::io::stdout().lock());
    for (n, line) in stdin.lock().split(b'\n').enumerate() {
        let bytes = line.context("reading standard input")?;
        let text = String::from_utf8(bytes).map_err(|e| {
            anyhow::anyhow!("line {} of standard input is not UTF-8 (byte {})", n + 1, e.utf8_error().valid_up_to())
        })?;
        let text = text.strip_suffix('\r').unwrap_or(&text);
        if let Some(n) = a.prefix {
            writeln!(out, "{}", tok.prefix_holding(text, n))?;
            continue;
        }
        let mut ids = match a.max_len {
            Some(max) => {
                let enc = tok.encode_for_model(text, max);
                enc.ids[..enc.real_len()].to_vec()
            }
            None => tok.encode(text),
        };
        if a.tokens {
            let pieces: Vec<&str> = ids.iter().map(|&i| tok.id_to_token(i).unwrap_or("[UNK]")).collect();
            writeln!(out, "{}", pieces.join(" "))?;
        } else {
            let s: Vec<String> = ids.drain(..).map(|i| i.to_string()).collect();
            writeln!(out, "{}", s.join(" "))?;
        }
    }
    out.flush()?;
    Ok(())
}
