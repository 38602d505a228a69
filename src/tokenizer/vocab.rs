//! WordPiece vocabulary: `vocab.txt` (one token per line, id = line number) or tokenizer.json's
//! `model.vocab` (token -> id, ids possibly with holes), held as two hash maps keyed by `&str` so
//! lookups never allocate: whole tokens, and continuation pieces (`##foo`) keyed without their
//! prefix. Also the small Fx-style hasher they use.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::path::Path;

use crate::tokenizer::error::{Result, TokenizerError};

/// FxHash-like hasher (as in rustc): one multiply per 8 bytes. Vocabulary keys are
/// trusted, short strings, so HashDoS resistance (SipHash) buys nothing here.
#[derive(Default, Clone, Copy)]
pub struct FxHasher {
    hash: u64,
}

const FX_SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(FX_SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().expect("chunks_exact(8) gives 8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut buf = [0u8; 8];
            buf[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(buf));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(i as u64);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        // The multiply leaves the low bits weak; the table indexes with them, so fold.
        self.hash ^ (self.hash >> 32)
    }
}

pub type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// Token <-> id mapping loaded from a `vocab.txt` or a tokenizer.json.
#[derive(Debug, Clone)]
pub struct Vocab {
    /// Indexed by id; `None` for an id no token has (a hole in a tokenizer.json's map).
    tokens: Vec<Option<Box<str>>>,
    full: FxMap<Box<str>, u32>,
    cont: FxMap<Box<str>, u32>,
    max_full_len: usize,
    max_cont_len: usize,
}

impl Vocab {
    /// Parses vocab.txt content the way HF does (`BufRead::lines` + `trim_end`, a later
    /// duplicate line wins the id). A leading UTF-8 BOM is dropped. `path` is for errors.
    pub fn from_text(text: &str, prefix: &str, path: &Path) -> Result<Vocab> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let tokens: Vec<Box<str>> = text.lines().map(|l| Box::from(l.trim_end())).collect();
        if tokens.is_empty() || tokens.iter().all(|t| t.is_empty()) {
            return Err(TokenizerError::EmptyVocab { path: path.to_path_buf() });
        }
        Ok(Vocab::from_tokens(tokens, prefix))
    }

    pub fn from_tokens(tokens: Vec<Box<str>>, prefix: &str) -> Vocab {
        Vocab::from_ids(tokens.into_iter().map(Some).collect(), prefix)
    }

    /// From tokens indexed by id, `None` where no token has that id.
    pub fn from_ids(tokens: Vec<Option<Box<str>>>, prefix: &str) -> Vocab {
        let mut full: FxMap<Box<str>, u32> = FxMap::default();
        let mut cont: FxMap<Box<str>, u32> = FxMap::default();
        full.reserve(tokens.len());
        for (id, tok) in tokens.iter().enumerate() {
            let Some(tok) = tok else { continue };
            full.insert(tok.clone(), id as u32);
            // With an empty prefix, continuation pieces are plain tokens.
            if let Some(rest) = tok.strip_prefix(prefix) {
                cont.insert(Box::from(rest), id as u32);
            }
        }
        let max_full_len = full.keys().map(|t| t.len()).max().unwrap_or(0);
        let max_cont_len = cont.keys().map(|t| t.len()).max().unwrap_or(0);
        Vocab { tokens, full, cont, max_full_len, max_cont_len }
    }

    /// Number of ids (lines of vocab.txt, or the largest id + 1): the model's embedding rows.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    #[inline]
    pub fn id(&self, token: &str) -> Option<u32> {
        self.full.get(token).copied()
    }

    /// Id of `prefix + piece` (a word-internal piece), without building that string.
    #[inline]
    pub fn cont_id(&self, piece: &str) -> Option<u32> {
        self.cont.get(piece).copied()
    }

    pub fn token(&self, id: u32) -> Option<&str> {
        self.tokens.get(id as usize)?.as_deref()
    }

    /// The first token whose id differs between `self` and `other` (or that only one of them
    /// has), with its id in each; `None` when both map the same tokens to the same ids.
    pub fn first_difference<'a>(&'a self, other: &'a Vocab) -> Option<(&'a str, Option<u32>, Option<u32>)> {
        let mine = self.full.iter().find(|(t, &id)| other.id(t) != Some(id));
        let theirs = || other.full.iter().find(|(t, _)| self.id(t).is_none());
        match mine {
            Some((t, &id)) => Some((t, Some(id), other.id(t))),
            None => theirs().map(|(t, &id)| (&**t, None, Some(id))),
        }
    }

    /// Longest whole token / continuation piece, in bytes: no match can be longer.
    pub fn max_full_len(&self) -> usize {
        self.max_full_len
    }

    pub fn max_cont_len(&self) -> usize {
        self.max_cont_len
    }
}
