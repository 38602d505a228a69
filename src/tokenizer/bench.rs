//! Throughput of the tokenizer on a corpus (the CLI's `wgbert bench tokenizer`): encode
//! every text to ids with `[CLS]`/`[SEP]`, no truncation, first on one thread, then on all.

use web_time::Instant;

use crate::tokenizer::Tokenizer;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TokenizerBench {
    pub reviews: usize,
    /// Tokens produced per pass, `[CLS]`/`[SEP]` included.
    pub tokens: usize,
    pub secs_1t: f64,
    pub reviews_per_s_1t: f64,
    pub tokens_per_s_1t: f64,
    pub secs_all: f64,
    pub reviews_per_s_all: f64,
    pub tokens_per_s_all: f64,
    pub threads: usize,
}

pub fn bench_tokenizer(tok: &Tokenizer, texts: &[String]) -> TokenizerBench {
    let one = tok.clone().with_threads(1);
    let t0 = Instant::now();
    let ids = one.encode_batch_ids(texts);
    let secs_1t = t0.elapsed().as_secs_f64();
    let tokens: usize = ids.iter().map(Vec::len).sum();
    drop(ids);

    let threads = tok.threads();
    let t0 = Instant::now();
    let ids = tok.encode_batch_ids(texts);
    let secs_all = t0.elapsed().as_secs_f64();
    debug_assert_eq!(tokens, ids.iter().map(Vec::len).sum::<usize>());
    drop(ids);

    let per_s = |n: usize, s: f64| n as f64 / s.max(1e-9);
    TokenizerBench {
        reviews: texts.len(),
        tokens,
        secs_1t,
        reviews_per_s_1t: per_s(texts.len(), secs_1t),
        tokens_per_s_1t: per_s(tokens, secs_1t),
        secs_all,
        reviews_per_s_all: per_s(texts.len(), secs_all),
        tokens_per_s_all: per_s(tokens, secs_all),
        threads,
    }
}
