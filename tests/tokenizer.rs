//! Tokenizer tests: encoding rules on a tiny vocabulary written to a temp dir, and id
//! parity with HF `tokenizers` on tests/fixtures/tokenizer_parity.jsonl.gz (made by
//! tools/make_tokenizer_fixture.py) using the real all-MiniLM-L6-v2 vocabulary.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use wgbert::tokenizer::{pair_truncation, Tokenizer, TokenizerConfig, TokenizerError};

const TINY_VOCAB: &[&str] = &[
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "!", ",", "un", "##aff", "##able", "the", "a",
    "##b", "cafe", "x", "'", "s", "don", "t", ".", "中",
];
// ids:  0       1       2       3        4        5        6       7    8    9     10        11        12     13
//       14     15      16   17   18   19     20   21   22

/// A fresh directory under the system temp dir, unique per test.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wgbert-tok-{}-{}", std::process::id(), name));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write_vocab(name: &str, lines: &[&str], sep: &str) -> PathBuf {
    let dir = temp_dir(name);
    let mut text = lines.join(sep);
    text.push_str(sep);
    std::fs::write(dir.join("vocab.txt"), text).unwrap();
    dir
}

fn tiny(name: &str) -> Tokenizer {
    Tokenizer::from_vocab_file(write_vocab(name, TINY_VOCAB, "\n").join("vocab.txt"), true).unwrap()
}

#[test]
fn wordpiece_and_basic_rules() {
    let t = tiny("rules");
    assert_eq!(t.encode("Hello, WORLD!"), [2, 5, 8, 6, 7, 3]);
    assert_eq!(t.tokens("unaffable"), ["[CLS]", "un", "##aff", "##able", "[SEP]"]);
    // Cannot be fully matched -> one [UNK] for the whole word.
    assert_eq!(t.encode("unaffablez"), [2, 1, 3]);
    // Accents stripped, CJK split, punctuation split, controls dropped.
    assert_eq!(t.encode("Café中x\u{0}\u{200b}!"), [2, 15, 22, 16, 7, 3]);
    assert_eq!(t.encode("don't"), [2, 19, 17, 20, 3]);
    // Over 100 chars -> [UNK]; exactly 100 is still split into pieces.
    let a100 = "a".to_string() + &"b".repeat(99);
    assert_eq!(t.encode(&a100).len(), 2 + 100);
    assert_eq!(t.encode(&(a100 + "b")), [2, 1, 3]);
    // Verbatim special tokens are recognised in raw text.
    assert_eq!(t.encode("hello[SEP]world [MASK]"), [2, 5, 3, 6, 4, 3]);
}

#[test]
fn empty_and_whitespace_text() {
    let t = tiny("empty");
    assert_eq!(t.encode(""), [2, 3]);
    assert_eq!(t.encode(" \t\r\n \u{3000}"), [2, 3]);
    let e = t.encode_for_model("", 5);
    assert_eq!(e.ids, [2, 3, 0, 0, 0]);
    assert_eq!(e.attention_mask, [1, 1, 0, 0, 0]);
    assert_eq!(e.type_ids, [0; 5]);
}

#[test]
fn crlf_gives_same_ids_as_lf() {
    let t = tiny("crlf");
    let lf = "hello world\nthe cafe\n\nun affable\n";
    assert_eq!(t.encode(lf), t.encode(&lf.replace('\n', "\r\n")));
    // And a vocab.txt with \r\n line endings loads the same vocabulary.
    let dir = write_vocab("crlf-vocab", TINY_VOCAB, "\r\n");
    let t2 = Tokenizer::from_vocab_file(dir.join("vocab.txt"), true).unwrap();
    assert_eq!(t2.vocab_size(), TINY_VOCAB.len());
    assert_eq!(t.encode(lf), t2.encode(lf));
}

#[test]
fn truncation_padding_mask() {
    let t = tiny("trunc");
    let e = t.encode_for_model("hello world hello world", 4);
    assert_eq!(e.ids, [2, 5, 6, 3]);
    assert_eq!(e.attention_mask, [1, 1, 1, 1]);
    let e = t.encode_for_model("hello world", 6);
    assert_eq!(e.ids, [2, 5, 6, 3, 0, 0]);
    assert_eq!(e.attention_mask, [1, 1, 1, 1, 0, 0]);
    assert_eq!(e.type_ids, [0; 6]);
    assert_eq!(e.real_len(), 4);
    // Too small a max_len still keeps [CLS] [SEP].
    assert_eq!(t.encode_for_model("hello", 1).ids, [2, 3]);
    // Default model length.
    assert_eq!(t.encode_for_model("hello", wgbert::tokenizer::DEFAULT_MAX_LEN).len(), 128);
}

#[test]
fn pairs_longest_first() {
    let t = tiny("pairs");
    let e = t.encode_pair("hello world", "the", 8);
    assert_eq!(e.ids, [2, 5, 6, 3, 12, 3, 0, 0]);
    assert_eq!(e.type_ids, [0, 0, 0, 0, 1, 1, 0, 0]);
    assert_eq!(e.attention_mask, [1, 1, 1, 1, 1, 1, 0, 0]);
    // Only the longer one is cut while that suffices.
    let e = t.encode_pair("hello hello hello hello", "world", 6);
    assert_eq!(e.ids, [2, 5, 5, 3, 6, 3]);
    // Both cut: half each, the odd token to the longer; equal lengths favour the second.
    assert_eq!(pair_truncation(10, 6, 5), (3, 2));
    assert_eq!(pair_truncation(6, 10, 5), (2, 3));
    assert_eq!(pair_truncation(7, 7, 5), (2, 3));
    assert_eq!(pair_truncation(2, 9, 6), (2, 4));
    assert_eq!(pair_truncation(1, 1, 0), (0, 0));
    let e = t.encode_pair("", "", 3);
    assert_eq!(e.ids, [2, 3, 3]);
    assert_eq!(e.type_ids, [0, 0, 1]);
}

#[test]
fn batch_matches_single() {
    let t = tiny("batch").with_threads(3);
    let texts: Vec<String> = (0..500).map(|i| format!("hello {} world, the cafe{}", "un".repeat(i % 7), i)).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let batch = t.encode_batch(&refs, 16);
    assert_eq!(batch.len(), texts.len());
    for (text, e) in refs.iter().zip(&batch) {
        assert_eq!(*e, t.encode_for_model(text, 16));
    }
    let ids = t.encode_batch_ids(&texts);
    for (text, ids) in texts.iter().zip(&ids) {
        assert_eq!(*ids, t.encode(text));
    }
    let pairs: Vec<(&str, &str)> = refs.iter().zip(refs.iter().rev()).map(|(a, b)| (*a, *b)).collect();
    for (p, e) in pairs.iter().zip(t.encode_pair_batch(&pairs, 12)) {
        assert_eq!(e, t.encode_pair(p.0, p.1, 12));
    }
}

#[test]
fn cased_keeps_case_and_accents() {
    let dir = write_vocab("cased", &["[PAD]", "[UNK]", "[CLS]", "[SEP]", "Hello", "café", "hello"], "\n");
    let t = Tokenizer::from_vocab_file(dir.join("vocab.txt"), false).unwrap();
    assert_eq!(t.encode("Hello café hello"), [2, 4, 5, 6, 3]);
    let u = Tokenizer::from_vocab_file(dir.join("vocab.txt"), true).unwrap();
    assert_eq!(u.encode("Hello café"), [2, 6, 1, 3]);
}

#[test]
fn config_files_and_override() {
    let dir = write_vocab("config", TINY_VOCAB, "\n");
    // No config files: uncased default.
    assert!(Tokenizer::from_dir(&dir).unwrap().config().normalizer.lowercase);
    std::fs::write(dir.join("tokenizer_config.json"), r#"{"do_lower_case": false}"#).unwrap();
    let t = Tokenizer::from_dir(&dir).unwrap();
    assert!(!t.config().normalizer.lowercase && !t.config().normalizer.strip_accents);
    assert_eq!(t.encode("Hello hello"), [2, 1, 5, 3]);
    let t = Tokenizer::from_dir_with_lowercase(&dir, Some(true)).unwrap();
    assert_eq!(t.encode("Hello hello"), [2, 5, 5, 3]);
    std::fs::write(dir.join("tokenizer_config.json"), "{not json").unwrap();
    let err = Tokenizer::from_dir(&dir).unwrap_err().to_string();
    assert!(err.contains("tokenizer_config.json") && err.contains("invalid JSON"), "{err}");
}

#[test]
fn vocab_errors_name_file_and_problem() {
    let missing = temp_dir("missing").join("vocab.txt");
    let err = Tokenizer::from_vocab_file(&missing, true).unwrap_err();
    assert!(matches!(err, TokenizerError::Io { .. }));
    assert!(err.to_string().contains("vocab.txt"), "{err}");

    let dir = temp_dir("emptyvocab");
    std::fs::write(dir.join("vocab.txt"), "").unwrap();
    let err = Tokenizer::from_vocab_file(dir.join("vocab.txt"), true).unwrap_err();
    assert!(matches!(err, TokenizerError::EmptyVocab { .. }));
    assert!(err.to_string().contains("vocab.txt") && err.to_string().contains("empty"), "{err}");

    for (i, drop) in ["[UNK]", "[CLS]", "[SEP]", "[PAD]"].iter().enumerate() {
        let lines: Vec<&str> = TINY_VOCAB.iter().copied().filter(|t| t != drop).collect();
        let dir = write_vocab(&format!("nospecial{i}"), &lines, "\n");
        let err = Tokenizer::from_vocab_file(dir.join("vocab.txt"), true).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, TokenizerError::MissingSpecialToken { .. }));
        assert!(msg.contains("vocab.txt") && msg.contains(drop), "{msg}");
    }

    let dir = temp_dir("latin1");
    std::fs::write(dir.join("vocab.txt"), b"[PAD]\n[UNK]\ncaf\xe9\n").unwrap();
    let err = Tokenizer::from_vocab_file(dir.join("vocab.txt"), true).unwrap_err();
    assert!(matches!(err, TokenizerError::NotUtf8 { offset: 15, .. }), "{err:?}");
    assert!(err.to_string().contains("vocab.txt") && err.to_string().contains("UTF-8"), "{err}");
}

#[test]
fn read_text_file_rejects_non_utf8() {
    let dir = temp_dir("text");
    std::fs::write(dir.join("ok.txt"), "héllo\r\n").unwrap();
    assert_eq!(wgbert::tokenizer::read_text_file(dir.join("ok.txt")).unwrap(), "héllo\r\n");
    std::fs::write(dir.join("bad.txt"), b"ok \xff\xfe").unwrap();
    let err = wgbert::tokenizer::read_text_file(dir.join("bad.txt")).unwrap_err();
    assert!(err.to_string().contains("bad.txt") && err.to_string().contains("offset 3"), "{err}");
}

// ---------------------------------------------------------------------------------------
// Parity with HF tokenizers.

fn model_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models/all-MiniLM-L6-v2")
}

fn ids_of(v: &serde_json::Value) -> Vec<u32> {
    v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect()
}

#[test]
fn parity_with_hf_tokenizers() {
    let dir = model_dir();
    if !dir.join("vocab.txt").exists() {
        println!("parity_with_hf_tokenizers skipped: {} missing; run tools/fetch_model.sh", dir.display());
        return;
    }
    let tok = Tokenizer::from_dir(&dir).unwrap();
    let mut cased_cfg = TokenizerConfig::from_dir(&dir).unwrap();
    cased_cfg.set_lowercase(false);
    let cased = Tokenizer::from_vocab_file_with_config(dir.join("vocab.txt"), cased_cfg).unwrap();

    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tokenizer_parity.jsonl.gz");
    let file = std::fs::File::open(&fixture).unwrap_or_else(|e| panic!("{}: {e}", fixture.display()));
    let reader = std::io::BufReader::new(flate2::read::GzDecoder::new(file));
    let (mut total, mut same) = (0usize, 0usize);
    let mut by_kind: std::collections::BTreeMap<String, (usize, usize)> = Default::default();
    let mut failures = Vec::new();
    for (n, line) in reader.lines().enumerate() {
        let line = line.unwrap();
        let r: serde_json::Value = serde_json::from_str(&line).unwrap();
        if n == 0 {
            assert!(r.get("meta").is_some(), "first line must be the meta header");
            continue;
        }
        let kind = r["kind"].as_str().unwrap().to_string();
        let text = r["text"].as_str().unwrap_or("");
        let mut checks: Vec<(&str, Vec<u32>, Vec<u32>)> = Vec::new();
        match kind.as_str() {
            "imdb" | "sweep" => checks.push(("ids", ids_of(&r["ids"]), tok.encode(text))),
            "hard" => {
                checks.push(("ids", ids_of(&r["ids"]), tok.encode(text)));
                checks.push(("ids_cased", ids_of(&r["ids_cased"]), cased.encode(text)));
            }
            "trunc" => {
                let e = tok.encode_for_model(text, r["max_len"].as_u64().unwrap() as usize);
                checks.push(("ids", ids_of(&r["ids"]), e.ids));
                checks.push(("mask", ids_of(&r["mask"]), e.attention_mask));
            }
            "pair" => {
                let (a, b) = (r["a"].as_str().unwrap(), r["b"].as_str().unwrap());
                let e = tok.encode_pair(a, b, r["max_len"].as_u64().unwrap() as usize);
                checks.push(("ids", ids_of(&r["ids"]), e.ids));
                checks.push(("type_ids", ids_of(&r["type_ids"]), e.type_ids));
                checks.push(("mask", ids_of(&r["mask"]), e.attention_mask));
            }
            other => panic!("unknown record kind {other}"),
        }
        for (what, want, got) in checks {
            total += 1;
            let k = by_kind.entry(format!("{kind}.{what}")).or_default();
            k.0 += 1;
            if want == got {
                same += 1;
                k.1 += 1;
            } else if failures.len() < 10 {
                let at = want.iter().zip(&got).position(|(a, b)| a != b).unwrap_or(want.len().min(got.len()));
                failures.push(format!(
                    "line {} [{kind}.{what}] {:?}: first difference at {at}: want {:?} got {:?}",
                    n + 1,
                    text.chars().take(80).collect::<String>(),
                    &want[at.saturating_sub(2)..(at + 3).min(want.len())],
                    &got[at.saturating_sub(2)..(at + 3).min(got.len())],
                ));
            }
        }
    }
    for (k, (n, ok)) in &by_kind {
        println!("  {k}: {ok} of {n} identical");
    }
    println!("parity: {same} of {total} identical");
    assert!(total > 2000, "fixture too small: {total}");
    assert!(failures.is_empty(), "parity failures:\n{}", failures.join("\n"));
}

// ---------------------------------------------------------------------------------------
// Prefixes that keep the first N word pieces (the GPU kit's IMDB cut, tools/gpu/pack.sh).

#[test]
fn prefix_holding_cuts_at_the_first_space_after_n_pieces() {
    let t = tiny("prefix");
    // Pieces: hello , world un ##aff ##able the world !
    let text = "hello, world unaffable  the world!";
    assert_eq!(t.prefix_holding(text, 0), "");
    assert_eq!(t.prefix_holding(text, 1), "hello,");
    assert_eq!(t.prefix_holding(text, 2), "hello,");
    assert_eq!(t.prefix_holding(text, 3), "hello, world");
    assert_eq!(t.prefix_holding(text, 4), "hello, world unaffable");
    assert_eq!(t.prefix_holding(text, 6), "hello, world unaffable");
    assert_eq!(t.prefix_holding(text, 7), "hello, world unaffable  the");
    assert_eq!(t.prefix_holding(text, 8), text);
    assert_eq!(t.prefix_holding(text, 100), text);
    assert_eq!(t.prefix_holding("", 3), "");
}

/// The all-MiniLM-L6-v2 folder, or None (and a line saying so) when tools/fetch_model.sh has not
/// filled it.
fn minilm_dir() -> Option<PathBuf> {
    let dir = model_dir();
    let ok = dir.join("vocab.txt").exists();
    if !ok {
        println!("skipped: {} missing; run tools/fetch_model.sh", dir.display());
    }
    ok.then_some(dir)
}

/// Every review of the bundled IMDB sample: the prefix is a prefix, encodes to the same ids at
/// max_len n + 2, and is the shortest such cut at a space.
#[test]
fn prefix_holding_keeps_the_encoding_of_imdb_reviews() {
    let Some(dir) = minilm_dir() else { return };
    let tok = Tokenizer::from_dir(&dir).unwrap();
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/imdb_sample/train.jsonl");
    let mut cut = 0;
    for line in std::fs::read_to_string(sample).unwrap().lines() {
        let r: serde_json::Value = serde_json::from_str(line).unwrap();
        let text = r["text"].as_str().unwrap();
        for n in [16, 126, 128] {
            let p = tok.prefix_holding(text, n);
            assert!(text.starts_with(p));
            assert_eq!(tok.encode_for_model(p, n + 2).ids, tok.encode_for_model(text, n + 2).ids, "{p:?}");
            if p.len() < text.len() {
                cut += 1;
                let shorter = &p[..p.rfind(' ').unwrap_or(0)];
                assert!(tok.encode(shorter).len() - 2 < n, "{p:?} is not the shortest");
            }
        }
    }
    assert!(cut > 300, "only {cut} cuts shortened the text");
}

#[test]
fn tokenize_prefix_prints_the_cut_text() {
    let Some(dir) = minilm_dir() else { return };
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_wgbert"))
        .args(["tokenize", "--model", dir.to_str().unwrap(), "--prefix", "3"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"Hello, world! and more words\nshort\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    // hello , | world ! : the second chunk brings the count past 3.
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "Hello, world!\nshort\n");
}
