//! Native BERT WordPiece tokenizer, id-for-id identical to HF `tokenizers`' BERT pipeline
//! (BertNormalizer + BertPreTokenizer + WordPiece + `[CLS] … [SEP]` template), checked by
//! the parity fixture in tests/. Roughly 30x the reference's throughput on one thread.
//!
//! ```no_run
//! use wgbert::tokenizer::Tokenizer;
//! let tok = Tokenizer::from_dir("models/all-MiniLM-L6-v2")?;
//! let ids = tok.encode("Hello world!");            // [CLS] hello world ! [SEP]
//! let enc = tok.encode_for_model("Hello", 128);    // padded to 128, mask + type ids
//! # Ok::<(), wgbert::tokenizer::TokenizerError>(())
//! ```
//!
//! A model folder gives the vocabulary as `vocab.txt` or, with none (as transformers 5 saves
//! a model), as `tokenizer.json`'s WordPiece model; a tokenizer.json present is checked to be
//! this pipeline either way (tokenizer_json.rs).
//!
//! Files: normalize.rs (basic tokenizer), wordpiece.rs, vocab.rs, encoding.rs (model
//! inputs), config.rs (the settings), files.rs (reading the model folder: text, and the
//! settings it gives), tokenizer_json.rs, unicode_tables.rs (generated), error.rs, bench.rs.

mod bench;
mod config;
mod encoding;
mod error;
mod files;
mod normalize;
mod tokenizer_json;
pub mod unicode_tables;
mod vocab;
mod wordpiece;

use std::path::{Path, PathBuf};

pub use bench::{bench_tokenizer, TokenizerBench};
pub use config::TokenizerConfig;
pub use encoding::{pair_truncation, Encoding, SpecialIds};
pub use error::{Result, TokenizerError};
pub use files::{decode_text, read_text_file, ConfigFiles};
pub use normalize::{BasicTokenizer, NormalizerOptions, Scratch};
pub use vocab::{FxHasher, FxMap, Vocab};
pub use wordpiece::WordPiece;

/// Default sequence length for fine-tuning.
pub const DEFAULT_MAX_LEN: usize = 128;

/// Buffers one thread reuses across texts.
#[derive(Default)]
struct Buffers {
    scratch: Scratch,
    a: Vec<u32>,
    b: Vec<u32>,
}

#[derive(Debug, Clone)]
pub struct Tokenizer {
    basic: BasicTokenizer,
    wordpiece: WordPiece,
    special: SpecialIds,
    unk_id: u32,
    mask_id: Option<u32>,
    /// Verbatim tokens (`[CLS]`, …) split out of raw text before normalization.
    raw_tokens: Vec<(Box<str>, u32)>,
    raw_first_byte: [bool; 256],
    config: TokenizerConfig,
    /// The file the vocabulary came from (vocab.txt or tokenizer.json), for messages.
    vocab_path: PathBuf,
    threads: usize,
}

impl Tokenizer {
    /// Loads `dir/vocab.txt` (or, without one, `dir/tokenizer.json`'s vocabulary) with the
    /// settings of the model folder's config files (see [`TokenizerConfig::from_dir`]); without
    /// any, uncased BERT defaults.
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Tokenizer> {
        Self::from_dir_with_lowercase(dir, None)
    }

    /// As [`from_dir`](Self::from_dir), with casing forced when `lowercase` is `Some`
    /// (true: lowercase + strip accents; false: keep both).
    pub fn from_dir_with_lowercase(dir: impl AsRef<Path>, lowercase: Option<bool>) -> Result<Tokenizer> {
        let dir = dir.as_ref();
        let vocab_txt = files::read_if_there(&dir.join("vocab.txt"))?;
        Self::from_files(vocab_txt, &ConfigFiles::read(dir)?, dir, lowercase)
    }

    /// From bytes already in memory (a browser's fetch or file picker): vocab.txt (optional when
    /// there is a tokenizer.json) and the config files, as [`from_dir`](Self::from_dir) reads
    /// them from a folder. Errors name the files by their usual names.
    pub fn from_bytes(vocab_txt: Option<&[u8]>, files: &ConfigFiles) -> Result<Tokenizer> {
        Self::from_files(vocab_txt.map(<[u8]>::to_vec), files, Path::new(""), None)
    }

    /// The vocabulary is vocab.txt's when there is one, else tokenizer.json's. With both, they
    /// must agree: transformers reads tokenizer.json, so a stale one would make its ids differ
    /// from ours.
    fn from_files(
        vocab_txt: Option<Vec<u8>>,
        files: &ConfigFiles,
        dir: &Path,
        lowercase: Option<bool>,
    ) -> Result<Tokenizer> {
        let (mut config, json) = TokenizerConfig::load(files, dir)?;
        if let Some(l) = lowercase {
            if l != config.normalizer.lowercase {
                config.notices.push(format!(
                    "text is {} as asked, where the model's tokenizer files {}: ids will differ from transformers'",
                    if l { "lowercased" } else { "kept in its case" },
                    if l { "keep case" } else { "lowercase" }
                ));
            }
            config.set_lowercase(l);
        }
        let prefix = config.continuing_subword_prefix.clone();
        let (vocab, path) = match (vocab_txt, &json) {
            (Some(bytes), _) => {
                let path = dir.join("vocab.txt");
                let vocab = Vocab::from_text(&decode_text(&path, bytes)?, &prefix, &path)?;
                if let Some(j) = &json {
                    if let Some((token, here, there)) = vocab.first_difference(&j.vocab(&prefix)?) {
                        let id = |i: Option<u32>| i.map_or("absent".to_string(), |i| format!("id {i}"));
                        return Err(TokenizerError::BadConfig {
                            path: j.path().to_path_buf(),
                            message: format!(
                                "the vocabulary differs from vocab.txt's (token {token:?}: {} in vocab.txt, {} \
                                 here); transformers reads this file and wgbert vocab.txt: remove or fix the stale one",
                                id(here),
                                id(there)
                            ),
                        });
                    }
                }
                (vocab, path)
            }
            (None, Some(j)) => (j.vocab(&prefix)?, j.path().to_path_buf()),
            (None, None) => return Err(TokenizerError::NoVocab { dir: dir.to_path_buf() }),
        };
        let tok = Self::from_vocab(vocab, config, &path)?;
        if let Some(j) = &json {
            j.check(tok.vocab(), tok.cls_id(), tok.sep_id())?;
        }
        Ok(tok)
    }

    /// A bare vocab.txt; `lowercase` true for uncased models (also strips accents).
    pub fn from_vocab_file(path: impl AsRef<Path>, lowercase: bool) -> Result<Tokenizer> {
        Self::from_vocab_file_with_config(path, TokenizerConfig::with_lowercase(lowercase))
    }

    pub fn from_vocab_file_with_config(path: impl AsRef<Path>, config: TokenizerConfig) -> Result<Tokenizer> {
        let path = path.as_ref();
        let text = read_text_file(path)?;
        let vocab = Vocab::from_text(&text, &config.continuing_subword_prefix, path)?;
        Self::from_vocab(vocab, config, path)
    }

    /// From an in-memory vocabulary; `path` only names it in errors.
    pub fn from_vocab(vocab: Vocab, config: TokenizerConfig, path: &Path) -> Result<Tokenizer> {
        let need = |role: &'static str, token: &str| {
            vocab.id(token).ok_or_else(|| TokenizerError::MissingSpecialToken {
                path: PathBuf::from(path),
                role,
                token: token.to_string(),
            })
        };
        let unk_id = need("unknown", &config.unk_token)?;
        let special = SpecialIds {
            cls: need("classifier", &config.cls_token)?,
            sep: need("separator", &config.sep_token)?,
            pad: need("padding", &config.pad_token)?,
        };
        let mask_id = vocab.id(&config.mask_token);
        let mut raw_tokens: Vec<(Box<str>, u32)> = config
            .raw_tokens()
            .into_iter()
            .filter(|t| !t.is_empty())
            .filter_map(|t| vocab.id(&t).map(|id| (Box::from(t.as_str()), id)))
            .collect();
        // Longest first, so the first hit at a position is the longest match.
        raw_tokens.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        raw_tokens.dedup_by(|a, b| a.0 == b.0);
        let mut raw_first_byte = [false; 256];
        for (t, _) in &raw_tokens {
            raw_first_byte[t.as_bytes()[0] as usize] = true;
        }
        Ok(Tokenizer {
            basic: BasicTokenizer::new(config.normalizer),
            wordpiece: WordPiece::new(vocab, unk_id, config.max_input_chars_per_word),
            special,
            unk_id,
            mask_id,
            raw_tokens,
            raw_first_byte,
            config,
            vocab_path: path.to_path_buf(),
            threads: 0,
        })
    }

    /// Threads for batch calls; 0 (the default) means all cores.
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads;
        self
    }

    pub fn threads(&self) -> usize {
        // wasm32 in a browser has no threads (std's spawn panics there): one, whatever was asked.
        if cfg!(target_arch = "wasm32") {
            1
        } else if self.threads > 0 {
            self.threads
        } else {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        }
    }

    // ---- accessors ----

    pub fn vocab(&self) -> &Vocab {
        self.wordpiece.vocab()
    }
    /// Number of ids (rows of the embedding table).
    pub fn vocab_size(&self) -> usize {
        self.vocab().len()
    }
    pub fn cls_id(&self) -> u32 {
        self.special.cls
    }
    pub fn sep_id(&self) -> u32 {
        self.special.sep
    }
    pub fn pad_id(&self) -> u32 {
        self.special.pad
    }
    pub fn unk_id(&self) -> u32 {
        self.unk_id
    }
    pub fn mask_id(&self) -> Option<u32> {
        self.mask_id
    }
    pub fn special_ids(&self) -> SpecialIds {
        self.special
    }
    pub fn config(&self) -> &TokenizerConfig {
        &self.config
    }
    /// Where this tokenizer departs from what HF `tokenizers` would do with the model's
    /// tokenizer.json alone: sentences a front end prints after `notice: `.
    pub fn notices(&self) -> &[String] {
        &self.config.notices
    }
    /// The file the vocabulary came from (vocab.txt or tokenizer.json).
    pub fn vocab_path(&self) -> &Path {
        &self.vocab_path
    }
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.vocab().id(token)
    }
    pub fn id_to_token(&self, id: u32) -> Option<&str> {
        self.vocab().token(id)
    }

    // ---- encoding ----

    /// `[CLS] tokens [SEP]` ids, no truncation, no padding. Empty text gives `[CLS] [SEP]`.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let mut buf = Buffers::default();
        self.encode_with(text, &mut buf)
    }

    /// The token strings of [`encode`](Self::encode), `[CLS]`/`[SEP]` included.
    pub fn tokens(&self, text: &str) -> Vec<String> {
        self.encode(text)
            .into_iter()
            .map(|id| self.id_to_token(id).unwrap_or(&self.config.unk_token).to_string())
            .collect()
    }

    fn encode_with(&self, text: &str, buf: &mut Buffers) -> Vec<u32> {
        buf.a.clear();
        buf.a.push(self.special.cls);
        self.encode_words_into(text, &mut buf.scratch, &mut buf.a);
        buf.a.push(self.special.sep);
        buf.a.clone()
    }

    /// Word-piece ids of `text` without `[CLS]`/`[SEP]`, appended to `out`; `scratch`
    /// is reused so a loop over texts does not allocate.
    pub fn encode_words_into(&self, text: &str, scratch: &mut Scratch, out: &mut Vec<u32>) {
        if self.raw_tokens.is_empty() || !text.bytes().any(|b| self.raw_first_byte[b as usize]) {
            let wp = &self.wordpiece;
            self.basic.for_each_word(text, scratch, &mut |w: &str| wp.push_word(w, out));
            return;
        }
        // Split out verbatim special tokens (leftmost, then longest), as HF added tokens;
        // the pieces between them are tokenized on their own.
        let bytes = text.as_bytes();
        let (mut seg, mut i) = (0, 0);
        while i < bytes.len() {
            if self.raw_first_byte[bytes[i] as usize] {
                if let Some((t, id)) = self.raw_tokens.iter().find(|(t, _)| bytes[i..].starts_with(t.as_bytes())) {
                    let wp = &self.wordpiece;
                    self.basic.for_each_word(&text[seg..i], scratch, &mut |w: &str| wp.push_word(w, out));
                    out.push(*id);
                    i += t.len();
                    seg = i;
                    continue;
                }
            }
            i += 1;
        }
        let wp = &self.wordpiece;
        self.basic.for_each_word(&text[seg..], scratch, &mut |w: &str| wp.push_word(w, out));
    }

    /// The shortest prefix of `text` cut just before an ASCII space (or `text` itself) whose
    /// word pieces begin with the first `n` word pieces of `text`, so that an encoding with
    /// `max_len <= n + 2` is the same for the prefix as for the whole text: a long review can be
    /// stored as that prefix (tools/gpu/pack.sh). The basic tokenizer splits at spaces before
    /// anything else, so the space-separated chunks are tokenized one after another until `n`
    /// pieces are in; the prefix found is then checked against the whole text's pieces, and the
    /// whole text is returned where they differ.
    pub fn prefix_holding<'t>(&self, text: &'t str, n: usize) -> &'t str {
        let mut scratch = Scratch::default();
        let mut pieces = Vec::new();
        let mut start = 0usize;
        let mut cut = None;
        for (space, _) in text.match_indices(' ') {
            if pieces.len() >= n {
                cut = Some(start.saturating_sub(1));
                break;
            }
            self.encode_words_into(&text[start..space], &mut scratch, &mut pieces);
            start = space + 1;
        }
        if cut.is_none() && pieces.len() >= n {
            cut = Some(start.saturating_sub(1));
        }
        let Some(cut) = cut else { return text };
        let prefix = &text[..cut];
        let (mut whole, mut head) = (Vec::new(), Vec::new());
        self.encode_words_into(text, &mut scratch, &mut whole);
        self.encode_words_into(prefix, &mut scratch, &mut head);
        if head.len() >= n && whole.len() >= n && head[..n] == whole[..n] {
            prefix
        } else {
            text
        }
    }

    /// `[CLS] text [SEP]` truncated to `max_len` and padded to `max_len` (min 2).
    pub fn encode_for_model(&self, text: &str, max_len: usize) -> Encoding {
        self.model_with(text, max_len, &mut Buffers::default())
    }

    fn model_with(&self, text: &str, max_len: usize, buf: &mut Buffers) -> Encoding {
        buf.a.clear();
        self.encode_words_into(text, &mut buf.scratch, &mut buf.a);
        Encoding::single(&buf.a, self.special, max_len)
    }

    /// `[CLS] a [SEP] b [SEP]`, type ids 0 then 1, longest-first truncation to `max_len`,
    /// padded to `max_len` (min 3).
    pub fn encode_pair(&self, a: &str, b: &str, max_len: usize) -> Encoding {
        self.pair_with(a, b, max_len, &mut Buffers::default())
    }

    fn pair_with(&self, a: &str, b: &str, max_len: usize, buf: &mut Buffers) -> Encoding {
        buf.a.clear();
        buf.b.clear();
        self.encode_words_into(a, &mut buf.scratch, &mut buf.a);
        self.encode_words_into(b, &mut buf.scratch, &mut buf.b);
        Encoding::pair(&buf.a, &buf.b, self.special, max_len)
    }

    /// [`encode_for_model`](Self::encode_for_model) for many texts on all threads.
    pub fn encode_batch(&self, texts: &[&str], max_len: usize) -> Vec<Encoding> {
        self.par_map(texts, |t, buf| self.model_with(t, max_len, buf))
    }

    /// [`encode_pair`](Self::encode_pair) for many pairs on all threads.
    pub fn encode_pair_batch(&self, pairs: &[(&str, &str)], max_len: usize) -> Vec<Encoding> {
        self.par_map(pairs, |(a, b), buf| self.pair_with(a, b, max_len, buf))
    }

    /// [`encode`](Self::encode) for many texts on all threads (no truncation/padding).
    pub fn encode_batch_ids<S: AsRef<str> + Sync>(&self, texts: &[S]) -> Vec<Vec<u32>> {
        self.par_map(texts, |t, buf| self.encode_with(t.as_ref(), buf))
    }

    /// Maps `f` over `items` in order, contiguous chunks on scoped threads, one set of
    /// buffers per thread.
    fn par_map<I: Sync, T: Send>(&self, items: &[I], f: impl Fn(&I, &mut Buffers) -> T + Sync) -> Vec<T> {
        // Below a few dozen texts a thread costs more than it saves.
        let threads = self.threads().min(items.len() / 32).max(1);
        if threads == 1 {
            let mut buf = Buffers::default();
            return items.iter().map(|it| f(it, &mut buf)).collect();
        }
        let chunk = items.len().div_ceil(threads);
        let f = &f;
        std::thread::scope(|s| {
            let handles: Vec<_> = items
                .chunks(chunk)
                .map(|part| {
                    s.spawn(move || {
                        let mut buf = Buffers::default();
                        part.iter().map(|it| f(it, &mut buf)).collect::<Vec<T>>()
                    })
                })
                .collect();
            let mut out = Vec::with_capacity(items.len());
            for h in handles {
                // A worker's panic is a bug: re-raise it here with its own message.
                out.extend(h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)));
            }
            out
        })
    }
}
