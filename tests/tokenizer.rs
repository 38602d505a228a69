//! Tokenizer tests: encoding rules on a tiny vocabulary written to a temp dir, and id
//! parity with HF `tokenizers` on tests/fixtures/tokenizer_parity.jsonl.gz (made by
//! tools/fixtures/make_tokenizer_fixture.py) using the real all-MiniLM-L6-v2 vocabulary.

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

fn ids_of(v: &serde_json::Value) -> Vec<u32> {
    v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect()
}

/// The records of tests/fixtures/tokenizer_parity.jsonl.gz, its meta header left out.
fn parity_records() -> Vec<serde_json::Value> {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tokenizer_parity.jsonl.gz");
    let file = std::fs::File::open(&fixture).unwrap_or_else(|e| panic!("{}: {e}", fixture.display()));
    let reader = std::io::BufReader::new(flate2::read::GzDecoder::new(file));
    let mut records = Vec::new();
    for (n, line) in reader.lines().enumerate() {
        let r: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
        if n == 0 {
            assert!(r.get("meta").is_some(), "first line must be the meta header");
            continue;
        }
        records.push(r);
    }
    records
}

/// Every check of one parity record as (what, HF's ids, `tok`'s ids); `cased` is the same
/// vocabulary with lowercasing (and accent stripping) off.
fn parity_checks(r: &serde_json::Value, tok: &Tokenizer, cased: &Tokenizer) -> Vec<(&'static str, Vec<u32>, Vec<u32>)> {
    let text = r["text"].as_str().unwrap_or("");
    let max_len = || r["max_len"].as_u64().unwrap() as usize;
    match r["kind"].as_str().unwrap() {
        "imdb" | "sweep" => vec![("ids", ids_of(&r["ids"]), tok.encode(text))],
        "hard" => vec![
            ("ids", ids_of(&r["ids"]), tok.encode(text)),
            ("ids_cased", ids_of(&r["ids_cased"]), cased.encode(text)),
        ],
        "trunc" => {
            let e = tok.encode_for_model(text, max_len());
            vec![("ids", ids_of(&r["ids"]), e.ids), ("mask", ids_of(&r["mask"]), e.attention_mask)]
        }
        "pair" => {
            let e = tok.encode_pair(r["a"].as_str().unwrap(), r["b"].as_str().unwrap(), max_len());
            vec![
                ("ids", ids_of(&r["ids"]), e.ids),
                ("type_ids", ids_of(&r["type_ids"]), e.type_ids),
                ("mask", ids_of(&r["mask"]), e.attention_mask),
            ]
        }
        other => panic!("unknown record kind {other}"),
    }
}

/// Runs every parity record through `tok` (and `cased`), prints the tally per kind and fails
/// on the first ten differences from HF's ids.
fn assert_parity(tok: &Tokenizer, cased: &Tokenizer) {
    let (mut total, mut same) = (0usize, 0usize);
    let mut by_kind: std::collections::BTreeMap<String, (usize, usize)> = Default::default();
    let mut failures = Vec::new();
    for (n, r) in parity_records().iter().enumerate() {
        let kind = r["kind"].as_str().unwrap();
        let text = r["text"].as_str().unwrap_or("");
        for (what, want, got) in parity_checks(r, tok, cased) {
            total += 1;
            let k = by_kind.entry(format!("{kind}.{what}")).or_default();
            k.0 += 1;
            if want == got {
                same += 1;
                k.1 += 1;
            } else if failures.len() < 10 {
                let at = want.iter().zip(&got).position(|(a, b)| a != b).unwrap_or(want.len().min(got.len()));
                failures.push(format!(
                    "record {} [{kind}.{what}] {:?}: first difference at {at}: want {:?} got {:?}",
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

#[test]
fn parity_with_hf_tokenizers() {
    let Some(dir) = minilm_dir() else { return };
    let tok = Tokenizer::from_dir(&dir).unwrap();
    let mut cased_cfg = TokenizerConfig::from_dir(&dir).unwrap();
    cased_cfg.set_lowercase(false);
    let cased = Tokenizer::from_vocab_file_with_config(dir.join("vocab.txt"), cased_cfg).unwrap();
    assert_parity(&tok, &cased);
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

// ---------------------------------------------------------------------------------------
// Folders with tokenizer.json and no vocab.txt, as transformers 5 saves them.

/// The made-up 99-line vocabulary of the tiny BERT ("a" and "i" on two lines each).
const TINY_TF: &str = "tests/fixtures/tiny_bert/tf";
/// That vocabulary as transformers 5 saves it (tools/fixtures/make_tokenizer_json_fixture.py): 97 tokens,
/// no ids 5 and 13.
const TINY_T5: &str = "tests/fixtures/tiny_bert/transformers5";

fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// A fresh temp folder holding a copy of each (source folder, file name).
fn folder_of(name: &str, files: &[(&Path, &str)]) -> PathBuf {
    let dir = temp_dir(name);
    for (from, f) in files {
        std::fs::copy(from.join(f), dir.join(f)).unwrap_or_else(|e| panic!("{}: {e}", from.join(f).display()));
    }
    dir
}

#[test]
fn a_tokenizer_json_only_copy_of_minilm_matches_hf_and_the_vocab_txt_copy() {
    let Some(dir) = minilm_dir() else { return };
    let files = ["config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"];
    let copy = folder_of("minilm-json", &files.map(|f| (dir.as_path(), f)));
    let tok = Tokenizer::from_dir(&copy).unwrap();
    assert_eq!(tok.vocab_path(), copy.join("tokenizer.json"));
    assert!(tok.notices().is_empty(), "{:?}", tok.notices());
    let cased = Tokenizer::from_dir_with_lowercase(&copy, Some(false)).unwrap();
    assert_parity(&tok, &cased);
    // The original folder has both files: they agree, and give the same tokenizer.
    let original = Tokenizer::from_dir(&dir).unwrap();
    assert_eq!(tok.config(), original.config());
    assert_eq!(tok.vocab_size(), original.vocab_size());
    for id in 0..tok.vocab_size() as u32 {
        assert_eq!(tok.id_to_token(id), original.id_to_token(id), "id {id}");
    }
}

#[test]
fn the_tiny_models_tokenizer_json_tokenizes_as_its_vocab_txt() {
    let txt = Tokenizer::from_dir(fixture(TINY_TF)).unwrap();
    let json = Tokenizer::from_dir(fixture(TINY_T5)).unwrap();
    assert_eq!((txt.vocab_size(), json.vocab_size()), (99, 99));
    // vocab.txt's first "a" (line 5) is never produced; tokenizer.json has no id 5 at all.
    assert_eq!((txt.token_to_id("a"), json.token_to_id("a"), json.id_to_token(5)), (Some(76), Some(76), None));
    // HF's ids, as tools/fixtures/make_tokenizer_json_fixture.py printed them (transformers 5.25.0,
    // tokenizers 0.23.3): `AutoTokenizer.from_pretrained(TINY_T5)(text)["input_ids"]`.
    assert_eq!(
        json.encode("This movie was a GREAT film, I think!"),
        [2, 79, 68, 69, 76, 70, 72, 96, 84, 24, 48, 49, 54, 51, 94, 3]
    );
    assert_eq!(json.encode("a i [MASK] x[SEP]y"), [2, 76, 84, 4, 28, 3, 29, 3]);
    let mut n = 0;
    for r in parity_records() {
        let text = r["text"].as_str().unwrap_or("");
        let max_len = r["max_len"].as_u64().unwrap_or(128) as usize;
        match r["kind"].as_str().unwrap() {
            "pair" => {
                let (a, b) = (r["a"].as_str().unwrap(), r["b"].as_str().unwrap());
                assert_eq!(json.encode_pair(a, b, max_len), txt.encode_pair(a, b, max_len), "{a:?} / {b:?}");
            }
            "trunc" => {
                assert_eq!(json.encode_for_model(text, max_len), txt.encode_for_model(text, max_len), "{text:?}")
            }
            _ => assert_eq!(json.encode(text), txt.encode(text), "{text:?}"),
        }
        n += 1;
    }
    assert!(n > 2000, "only {n} records");
    // Both files in one folder agree: vocab.txt's duplicate lines are tokenizer.json's holes.
    let both = folder_of("tiny-both", &[(&fixture(TINY_TF), "vocab.txt"), (&fixture(TINY_T5), "tokenizer.json")]);
    let t = Tokenizer::from_dir(&both).unwrap();
    assert_eq!(t.vocab_path(), both.join("vocab.txt"));
    assert_eq!(t.encode("a i movie"), json.encode("a i movie"));
}

/// The tiny transformers-5 tokenizer.json changed by `edit`, alone in a folder (plus `extra`
/// files: (name, content)); what loading that folder gives.
fn tiny_json_with(
    name: &str,
    extra: &[(&str, &str)],
    edit: impl FnOnce(&mut serde_json::Value),
) -> (PathBuf, Result<Tokenizer, TokenizerError>) {
    let dir = temp_dir(name);
    let bytes = std::fs::read(fixture(TINY_T5).join("tokenizer.json")).unwrap();
    let mut v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    edit(&mut v);
    std::fs::write(dir.join("tokenizer.json"), v.to_string()).unwrap();
    for (f, content) in extra {
        std::fs::write(dir.join(f), content).unwrap();
    }
    let tok = Tokenizer::from_dir(&dir);
    (dir, tok)
}

#[test]
fn tokenizer_json_settings_not_implemented_are_errors_naming_them() {
    use serde_json::json;
    type Edit = fn(&mut serde_json::Value);
    let cases: &[(&str, Edit, &str)] = &[
        ("bpe", |v| v["model"]["type"] = json!("BPE"), r#"model type "BPE" is not WordPiece"#),
        ("pre", |v| v["pre_tokenizer"] = json!({"type": "Whitespace"}), "pre_tokenizer Whitespace is not implemented"),
        ("no-pre", |v| v["pre_tokenizer"] = json!(null), "no pre_tokenizer"),
        (
            "pre-order",
            |v| {
                v["pre_tokenizer"] =
                    json!({"type": "Sequence", "pretokenizers": [{"type": "Punctuation"}, {"type": "WhitespaceSplit"}]})
            },
            "pre_tokenizer Sequence[Punctuation, WhitespaceSplit] is not implemented",
        ),
        ("norm", |v| v["normalizer"] = json!({"type": "Lowercase"}), "normalizer Lowercase is not implemented"),
        ("no-norm", |v| v["normalizer"] = json!(null), "no normalizer"),
        (
            "roberta",
            |v| v["post_processor"] = json!({"type": "RobertaProcessing"}),
            "post_processor RobertaProcessing is not implemented",
        ),
        ("no-post", |v| v["post_processor"] = json!(null), "no post_processor"),
        (
            "pair-types",
            |v| v["post_processor"]["pair"][3]["Sequence"]["type_id"] = json!(0),
            r#"template "[CLS] $A [SEP]", pairs "[CLS] $A [SEP] $B [SEP]:1", is not implemented"#,
        ),
        (
            "template-ids",
            |v| v["post_processor"]["special_tokens"]["[CLS]"]["ids"] = json!([3]),
            r#"adds "[CLS]" as [3]"#,
        ),
        (
            "added-new",
            |v| {
                v["added_tokens"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"id": 99, "content": "[NEW]", "normalized": false}))
            },
            r#"added token "[NEW]" (id 99) is not in the vocabulary"#,
        ),
        ("added-id", |v| v["added_tokens"][4]["id"] = json!(50), r#"added token "[MASK]" has id 50 here but 4"#),
        ("normalized", |v| v["added_tokens"][0]["normalized"] = json!(true), r#""[PAD]" has normalized: true"#),
        ("single-word", |v| v["added_tokens"][3]["single_word"] = json!(true), r#""[SEP]" has single_word: true"#),
        ("dup-id", |v| v["model"]["vocab"]["zzz"] = json!(6), r#"tokens "b" and "zzz" both have id 6"#),
        ("bad-id", |v| v["model"]["vocab"]["zzz"] = json!("x"), r#"token "zzz" has id "x", not an integer id"#),
        ("sparse", |v| v["model"]["vocab"]["zzz"] = json!(1u64 << 31), "98 tokens with ids up to 2147483648"),
        ("empty", |v| v["model"]["vocab"] = json!({}), "vocabulary is empty"),
    ];
    for (name, edit, want) in cases {
        let (dir, tok) = tiny_json_with(&format!("refuse-{name}"), &[], edit);
        let err = tok.err().unwrap_or_else(|| panic!("{name}: loaded")).to_string();
        assert!(err.contains(&dir.join("tokenizer.json").display().to_string()) && err.contains(want), "{name}: {err}");
    }
}

#[test]
fn tokenizer_json_variants_that_tokenize_alike_are_accepted() {
    use serde_json::json;
    let base = Tokenizer::from_dir(fixture(TINY_T5)).unwrap();
    type Edit = fn(&mut serde_json::Value);
    let cases: &[(&str, Edit)] = &[
        ("pre-seq", |v| {
            v["pre_tokenizer"] = json!({"type": "Sequence", "pretokenizers": [
                {"type": "WhitespaceSplit"}, {"type": "Punctuation", "behavior": "Isolated"}]})
        }),
        ("bert-post", |v| {
            v["post_processor"] = json!({"type": "BertProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2]})
        }),
        ("norm-seq", |v| v["normalizer"] = json!({"type": "Sequence", "normalizers": [v["normalizer"].clone()]})),
        // lstrip/rstrip take whitespace into the match, which the pre-tokenizer drops anyway.
        ("lstrip", |v| v["added_tokens"][4]["lstrip"] = json!(true)),
        // Call-time settings: wgbert's --max-len and batch padding take their place.
        ("trunc", |v| {
            v["truncation"] = json!({"max_length": 4, "strategy": "LongestFirst", "stride": 0});
            v["padding"] = json!({"strategy": {"Fixed": 8}, "direction": "Right", "pad_id": 0, "pad_type_id": 0, "pad_token": "[PAD]"});
        }),
    ];
    for (name, edit) in cases {
        let (_, tok) = tiny_json_with(&format!("accept-{name}"), &[], edit);
        let tok = tok.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(tok.notices().is_empty(), "{name}: {:?}", tok.notices());
        for text in ["This movie was a GREAT film, I think!", "x [MASK] y", "don't,stop  here"] {
            assert_eq!(tok.encode(text), base.encode(text), "{name}: {text:?}");
        }
    }
}

#[test]
fn casing_that_departs_from_tokenizer_json_is_a_notice() {
    let uncased = Tokenizer::from_dir(fixture(TINY_T5)).unwrap();
    let cased_json = |v: &mut serde_json::Value| v["normalizer"]["lowercase"] = false.into();
    let (dir, cased) = tiny_json_with("cased", &[], cased_json);
    let cased = cased.unwrap();
    assert!(cased.notices().is_empty(), "{:?}", cased.notices());
    assert_ne!(cased.encode("GREAT"), uncased.encode("GREAT"));
    // A cased tokenizer.json lowercased on request: the ids HF would not give, with a notice.
    let forced = Tokenizer::from_dir_with_lowercase(&dir, Some(true)).unwrap();
    assert_eq!(forced.encode("GREAT"), uncased.encode("GREAT"));
    assert!(
        forced.notices().len() == 1 && forced.notices()[0].contains("lowercased as asked"),
        "{:?}",
        forced.notices()
    );
    // tokenizer_config.json's do_lower_case replaces the normalizer's, as transformers does.
    let (_, t) = tiny_json_with("cased-config", &[("tokenizer_config.json", r#"{"do_lower_case": true}"#)], cased_json);
    let t = t.unwrap();
    assert_eq!(t.encode("GREAT"), uncased.encode("GREAT"));
    let n = t.notices();
    assert!(n.len() == 1 && n[0].contains("do_lower_case (true) replaces tokenizer.json's normalizer"), "{n:?}");
}

#[test]
fn folders_without_a_vocabulary_or_with_two_that_disagree_are_errors() {
    let dir = temp_dir("novocab");
    std::fs::write(dir.join("config.json"), "{}").unwrap();
    let err = Tokenizer::from_dir(&dir).unwrap_err();
    assert!(matches!(err, TokenizerError::NoVocab { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains(&dir.display().to_string()) && msg.contains("no vocab.txt and no tokenizer.json"), "{msg}");

    let dir = folder_of("disagree", &[(&fixture(TINY_T5), "tokenizer.json")]);
    let vocab = std::fs::read_to_string(fixture(TINY_TF).join("vocab.txt")).unwrap();
    std::fs::write(dir.join("vocab.txt"), vocab.replace("\nmovie\n", "\ncinema\n")).unwrap();
    let msg = Tokenizer::from_dir(&dir).unwrap_err().to_string();
    assert!(msg.contains("tokenizer.json: the vocabulary differs from vocab.txt's"), "{msg}");
    assert!(
        msg.contains(r#""cinema": id 68 in vocab.txt, absent here"#)
            || msg.contains(r#""movie": absent in vocab.txt, id 68 here"#),
        "{msg}"
    );
}
