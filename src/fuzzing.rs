//! The checks behind the fuzz targets (tools/fuzz) of the readers of untrusted bytes — the
//! tokenizer, and the safetensors, pickle, zip (pytorch_model.bin) and TF bundle readers — kept here so that the inputs a fuzzer
//! once crashed on are replayed by `cargo test` (tests/fuzz_regressions.rs) through the same code.
//!
//! Each check panics only when the reader breaks an invariant; any error it returns for bad
//! input is the right answer.

use std::path::Path;
use std::sync::OnceLock;

use crate::checkpoint::{Checkpoint, Notice};
use crate::tokenizer::{Tokenizer, TokenizerConfig};

/// Where the tokenizer checks find their vocabulary: `WGBERT_FUZZ_VOCAB`, else the model that
/// tools/fetch_model.sh fetches (a real 30,522-piece vocabulary exercises WordPiece properly).
pub fn vocab_path() -> std::path::PathBuf {
    std::env::var_os("WGBERT_FUZZ_VOCAB")
        .map(Into::into)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("models/all-MiniLM-L6-v2/vocab.txt"))
}

/// The uncased and cased BERT tokenizers over one vocabulary, built once per process.
pub fn tokenizers() -> (&'static Tokenizer, &'static Tokenizer) {
    static TOKS: OnceLock<(Tokenizer, Tokenizer)> = OnceLock::new();
    let toks = TOKS.get_or_init(|| {
        let p = vocab_path();
        let make = |lower| {
            Tokenizer::from_vocab_file_with_config(&p, TokenizerConfig::with_lowercase(lower))
                .unwrap_or_else(|e| panic!("the tokenizer checks need a vocabulary (tools/fetch_model.sh): {e}"))
                .with_threads(1)
        };
        (make(true), make(false))
    });
    (&toks.0, &toks.1)
}

/// The tokenizer target: the first byte picks the casing and max_len, the rest is the text.
pub fn fuzz_tokenizer(data: &[u8]) {
    let Some((&ctl, rest)) = data.split_first() else { return };
    let (uncased, cased) = tokenizers();
    let tok = if ctl & 1 == 0 { uncased } else { cased };
    check_encodings(tok, rest, 2 + (ctl >> 1) as usize % 64);
}

/// Encodes `bytes` (as lossy UTF-8) alone and as a pair split at its first tab, and checks what
/// every encoding must be: `max_len` long, [CLS] first, ids inside the vocabulary, a mask of
/// ones then zeros that counts the real tokens, [SEP] closing each segment.
pub fn check_encodings(tok: &Tokenizer, bytes: &[u8], max_len: usize) {
    let text = String::from_utf8_lossy(bytes);
    let vocab = tok.vocab_size() as u32;
    let check = |e: &crate::tokenizer::Encoding, min: usize, what: &str| {
        let total = max_len.max(min);
        assert_eq!(e.ids.len(), total, "{what}: length");
        assert_eq!(e.attention_mask.len(), total, "{what}: mask length");
        assert_eq!(e.type_ids.len(), total, "{what}: type id length");
        assert_eq!(e.ids[0], tok.cls_id(), "{what}: first id");
        let real = e.real_len();
        assert!(real >= min && real <= total, "{what}: {real} real tokens of {total}");
        assert!(e.attention_mask[..real].iter().all(|&m| m == 1), "{what}: mask has a hole");
        assert_eq!(e.ids[real - 1], tok.sep_id(), "{what}: last real id");
        assert!(e.ids.iter().all(|&id| id < vocab), "{what}: id outside the vocabulary");
        assert!(e.ids[real..].iter().all(|&id| id == tok.pad_id()), "{what}: padding");
    };
    let single = tok.encode_for_model(&text, max_len);
    check(&single, 2, "single");
    let (a, b) = text.split_once('\t').unwrap_or((&text, ""));
    check(&tok.encode_pair(a, b, max_len), 3, "pair");
    // Unbounded encoding agrees with the truncated one on the tokens both keep.
    let full = tok.encode(&text); // [CLS] pieces [SEP], untruncated
    let pieces = &full[1..full.len() - 1];
    let kept = single.real_len() - 2;
    assert_eq!(kept, pieces.len().min(max_len.max(2) - 2), "pieces kept of {} for max_len {max_len}", pieces.len());
    assert_eq!(&single.ids[1..1 + kept], &pieces[..kept], "truncation changed the pieces it kept");
}

/// A checkpoint reader's answer: an error, or tensors whose value counts match their shapes.
fn check_checkpoint(r: crate::checkpoint::Result<(Checkpoint, Vec<Notice>)>) {
    if let Ok((ckpt, _)) = r {
        for name in ckpt.names() {
            let t = ckpt.get(name).expect("a listed name");
            assert_eq!(t.data.len(), t.shape.iter().product::<usize>(), "{name}: values vs shape");
        }
    }
}

/// `bytes` as a model.safetensors.
pub fn fuzz_safetensors(bytes: &[u8]) {
    check_checkpoint(crate::checkpoint::parse_safetensors(Path::new("fuzz.safetensors"), bytes));
}

/// `bytes` as the data.pkl of a pytorch_model.bin, its tensors gathered out of zeroed storages.
pub fn fuzz_pickle(bytes: &[u8]) {
    check_checkpoint(crate::checkpoint::parse_state_dict_pickle(bytes));
}

/// `bytes` as a whole pytorch_model.bin: the zip directory, the pickle, the storages.
pub fn fuzz_zip(bytes: &[u8]) {
    check_checkpoint(crate::checkpoint::parse_pytorch(Path::new("pytorch_model.bin"), bytes));
}

/// A TF bundle: a 4-byte little-endian length, that many bytes of `.index`, then the data shard.
pub fn fuzz_tf_bundle(bytes: &[u8]) {
    let Some((len, rest)) = bytes.split_first_chunk::<4>() else { return };
    let len = (u32::from_le_bytes(*len) as usize).min(rest.len());
    let (index, data) = rest.split_at(len);
    check_checkpoint(crate::checkpoint::parse_tf_bundle(index, data));
}

/// The input `fuzz_tf_bundle` reads: the index's length, the index, the data shard.
pub fn tf_bundle_input(index: &[u8], data: &[u8]) -> Vec<u8> {
    let mut v = (index.len() as u32).to_le_bytes().to_vec();
    v.extend_from_slice(index);
    v.extend_from_slice(data);
    v
}
