//! `tokenizer.json`, the one-file format of HF `tokenizers` (and the only tokenizer file
//! transformers 5 saves): what wgbert reads from it, and the checks that the rest is the
//! pipeline wgbert runs. Another pipeline would give other ids without a word, so whatever is
//! not implemented is an error naming the setting.
//!
//! Read: the WordPiece model (`vocab`, `unk_token`, `continuing_subword_prefix`,
//! `max_input_chars_per_word`), the BertNormalizer's flags and the added tokens.
//! Checked: the pre-tokenizer (BertPreTokenizer, or WhitespaceSplit then Punctuation, which
//! split alike), the post-processor (`[CLS] $A [SEP]`, pairs `[CLS] $A [SEP] $B:1 [SEP]:1`,
//! with the vocabulary's ids), and every added token (in the vocabulary at the same id, matched
//! in the raw text: `normalized` and `single_word` are not implemented; `lstrip` and `rstrip`
//! only move whitespace, which the BERT pre-tokenizer drops anyway).
//! Not read: `decoder` (wgbert never turns ids back into text), `truncation` and `padding`
//! (call-time settings: transformers replaces them at every call with the call's own, as
//! wgbert does with --max-len and its batch padding).

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::tokenizer::config::TokenizerConfig;
use crate::tokenizer::error::{Result, TokenizerError};
use crate::tokenizer::vocab::Vocab;

pub(crate) struct TokenizerJson {
    v: Value,
    path: PathBuf,
}

impl TokenizerJson {
    pub(crate) fn new(v: Value, path: &Path) -> TokenizerJson {
        TokenizerJson { v, path: path.to_path_buf() }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    fn bad(&self, message: String) -> TokenizerError {
        TokenizerError::BadConfig { path: self.path.clone(), message }
    }

    /// The section `key`, `None` when absent or null.
    fn section(&self, key: &str) -> Option<&Value> {
        self.v.get(key).filter(|s| !s.is_null())
    }

    /// Sets `cfg` from the model, normalizer and added tokens; `strip` gets the normalizer's
    /// `strip_accents` (null: follow casing). Refuses a pipeline wgbert does not run.
    pub(crate) fn apply(&self, cfg: &mut TokenizerConfig, strip: &mut Option<bool>) -> Result<()> {
        let model = self.section("model").ok_or_else(|| self.bad("no \"model\" section".into()))?;
        match model.get("type").and_then(Value::as_str) {
            Some("WordPiece") | None => {}
            Some(other) => return Err(self.bad(format!("model type {other:?} is not WordPiece"))),
        }
        if let Some(t) = model.get("unk_token").and_then(Value::as_str) {
            cfg.unk_token = t.to_string();
        }
        if let Some(t) = model.get("continuing_subword_prefix").and_then(Value::as_str) {
            cfg.continuing_subword_prefix = t.to_string();
        }
        if let Some(n) = model.get("max_input_chars_per_word").and_then(Value::as_u64) {
            cfg.max_input_chars_per_word = n as usize;
        }
        let n = self.section("normalizer").ok_or_else(|| {
            self.bad("no normalizer: wgbert implements BERT's (BertNormalizer), which this file leaves out".into())
        })?;
        let bert = find_single(n, "BertNormalizer", "normalizers").ok_or_else(|| {
            self.bad(format!("normalizer {} is not implemented (only BertNormalizer is)", describe(n)))
        })?;
        let flag = |k: &str, default: bool| bert.get(k).and_then(Value::as_bool).unwrap_or(default);
        cfg.normalizer.clean_text = flag("clean_text", true);
        cfg.normalizer.handle_chinese_chars = flag("handle_chinese_chars", true);
        cfg.normalizer.lowercase = flag("lowercase", true);
        *strip = bert.get("strip_accents").and_then(Value::as_bool);

        let p = self.section("pre_tokenizer").ok_or_else(|| {
            self.bad("no pre_tokenizer: wgbert implements BERT's (BertPreTokenizer), which this file leaves out".into())
        })?;
        if !is_bert_pre_tokenizer(p) {
            return Err(self.bad(format!(
                "pre_tokenizer {} is not implemented (only BertPreTokenizer, or WhitespaceSplit then Punctuation, is)",
                describe(p)
            )));
        }
        if let Some(list) = self.section("added_tokens").and_then(Value::as_array) {
            let mut raw = Vec::new();
            for t in list {
                let content = t.get("content").and_then(Value::as_str).unwrap_or_default();
                for unsupported in ["normalized", "single_word"] {
                    if t.get(unsupported).and_then(Value::as_bool) == Some(true) {
                        return Err(self.bad(format!(
                            "added token {content:?} has {unsupported}: true, which wgbert does not implement \
                             (it matches added tokens verbatim in the raw text)"
                        )));
                    }
                }
                raw.push(content.to_string());
            }
            cfg.added_tokens = Some(raw);
        }
        Ok(())
    }

    /// The normalizer's `lowercase` flag as the file has it (before tokenizer_config.json).
    pub(crate) fn lowercase(&self) -> Option<bool> {
        let n = find_single(self.section("normalizer")?, "BertNormalizer", "normalizers")?;
        Some(n.get("lowercase").and_then(Value::as_bool).unwrap_or(true))
    }

    /// The WordPiece vocabulary of `model.vocab` (token -> id). Ids may leave holes (ids no token
    /// has: a duplicate line in the vocab.txt it was made from leaves one), as HF allows; two
    /// tokens with one id, or a map mostly made of holes, are errors.
    pub(crate) fn vocab(&self, prefix: &str) -> Result<Vocab> {
        let map = self
            .section("model")
            .and_then(|m| m.get("vocab"))
            .and_then(Value::as_object)
            .ok_or_else(|| self.bad("model.vocab is missing or not a map of token to id".into()))?;
        if map.is_empty() {
            return Err(TokenizerError::EmptyVocab { path: self.path.clone() });
        }
        let mut entries = Vec::with_capacity(map.len());
        for (token, id) in map {
            let id = id
                .as_u64()
                .filter(|&i| i <= u32::MAX as u64)
                .ok_or_else(|| self.bad(format!("model.vocab: token {token:?} has id {id}, not an integer id")))?;
            entries.push((id as usize, token.as_str()));
        }
        entries.sort_unstable();
        let (max, n) = (entries[entries.len() - 1].0, entries.len());
        // A bound on the table's size (one slot per id): beyond it the ids are not a vocabulary's.
        if max >= 2 * n + 1024 {
            return Err(self.bad(format!("model.vocab: {n} tokens with ids up to {max}: most ids unused")));
        }
        let mut tokens: Vec<Option<Box<str>>> = vec![None; max + 1];
        for (id, token) in entries {
            if let Some(other) = &tokens[id] {
                return Err(self.bad(format!("model.vocab: tokens {other:?} and {token:?} both have id {id}")));
            }
            tokens[id] = Some(Box::from(token));
        }
        Ok(Vocab::from_ids(tokens, prefix))
    }

    /// Checks what needs the vocabulary: every added token is in it at the id the file gives,
    /// and the post-processor adds `cls` and `sep` (ids) as wgbert does.
    pub(crate) fn check(&self, vocab: &Vocab, cls: u32, sep: u32) -> Result<()> {
        for t in self.section("added_tokens").and_then(Value::as_array).into_iter().flatten() {
            let content = t.get("content").and_then(Value::as_str).unwrap_or_default();
            let id = t.get("id").and_then(Value::as_u64);
            match vocab.id(content) {
                None => {
                    return Err(self.bad(format!(
                        "added token {content:?} (id {}) is not in the vocabulary: added tokens beyond \
                         the WordPiece vocabulary are not implemented",
                        id.map_or("?".into(), |i| i.to_string())
                    )))
                }
                Some(v) if id.is_some_and(|i| i != v as u64) => {
                    return Err(self.bad(format!(
                        "added token {content:?} has id {} here but {v} in the vocabulary",
                        id.unwrap_or_default()
                    )))
                }
                Some(_) => {}
            }
        }
        let p = self.section("post_processor").ok_or_else(|| {
            self.bad("no post_processor: HF would add no [CLS]/[SEP], wgbert always adds them".into())
        })?;
        self.check_post_processor(p, vocab, cls, sep)
    }

    fn check_post_processor(&self, p: &Value, vocab: &Vocab, cls: u32, sep: u32) -> Result<()> {
        let name = |id: u32| vocab.token(id).unwrap_or("?").to_string();
        let (c, s) = (name(cls), name(sep));
        let ids = |id: u32| json!([id]);
        match p.get("type").and_then(Value::as_str) {
            Some("TemplateProcessing") => {
                let special = |k: usize| p["single"][k]["SpecialToken"]["id"].as_str().unwrap_or_default();
                let (c_name, s_name) = (special(0), special(2));
                let piece = |token: &str, type_id: u32| json!({"SpecialToken": {"id": token, "type_id": type_id}});
                let seq = |id: &str, type_id: u32| json!({"Sequence": {"id": id, "type_id": type_id}});
                let single = json!([piece(c_name, 0), seq("A", 0), piece(s_name, 0)]);
                let pair = json!([piece(c_name, 0), seq("A", 0), piece(s_name, 0), seq("B", 1), piece(s_name, 1)]);
                if p["single"] != single || p["pair"] != pair {
                    return Err(self.bad(format!(
                        "post_processor template \"{}\", pairs \"{}\", is not implemented (wgbert adds \
                         \"{c} $A {s}\", pairs \"{c} $A {s} $B:1 {s}:1\")",
                        template(&p["single"]),
                        template(&p["pair"])
                    )));
                }
                let got = |k: &str| &p["special_tokens"][k]["ids"];
                if *got(c_name) != ids(cls) || *got(s_name) != ids(sep) {
                    return Err(self.bad(format!(
                        "post_processor adds {c_name:?} as {} and {s_name:?} as {}, where the vocabulary \
                         has {c:?} = {cls} and {s:?} = {sep}",
                        got(c_name),
                        got(s_name)
                    )));
                }
            }
            Some("BertProcessing") => {
                let (pc, ps) = (&p["cls"][1], &p["sep"][1]);
                if *pc != json!(cls) || *ps != json!(sep) {
                    return Err(self.bad(format!(
                        "post_processor BertProcessing adds ids {pc} and {ps}, where the vocabulary has \
                         {c:?} = {cls} and {s:?} = {sep}"
                    )));
                }
            }
            Some("Sequence") => match p.get("processors").and_then(Value::as_array).map(Vec::as_slice) {
                Some([one]) => return self.check_post_processor(one, vocab, cls, sep),
                _ => return Err(self.bad(format!("post_processor {} is not implemented", describe(p)))),
            },
            _ => {
                return Err(self.bad(format!(
                    "post_processor {} is not implemented (only BERT's [CLS] $A [SEP] template is)",
                    describe(p)
                )))
            }
        }
        Ok(())
    }
}

/// `v` when it is of type `ty`, or a Sequence (list under `list_key`) of just that.
fn find_single<'a>(v: &'a Value, ty: &str, list_key: &str) -> Option<&'a Value> {
    match v.get("type").and_then(Value::as_str)? {
        t if t == ty => Some(v),
        "Sequence" => match v.get(list_key)?.as_array()?.as_slice() {
            [one] => find_single(one, ty, list_key),
            _ => None,
        },
        _ => None,
    }
}

/// BertPreTokenizer splits at whitespace (dropped) and then isolates each punctuation mark;
/// WhitespaceSplit then Punctuation (behavior Isolated) use the same character classes.
fn is_bert_pre_tokenizer(p: &Value) -> bool {
    if find_single(p, "BertPreTokenizer", "pretokenizers").is_some() {
        return true;
    }
    let ty = |v: &Value| v.get("type").and_then(Value::as_str).map(str::to_string);
    match p.get("pretokenizers").and_then(Value::as_array).map(Vec::as_slice) {
        Some([a, b]) if ty(p).as_deref() == Some("Sequence") => {
            ty(a).as_deref() == Some("WhitespaceSplit")
                && ty(b).as_deref() == Some("Punctuation")
                && b.get("behavior").and_then(Value::as_str).unwrap_or("Isolated") == "Isolated"
        }
        _ => false,
    }
}

/// A section named in a message: its type, or (a Sequence) the types inside.
fn describe(v: &Value) -> String {
    let ty = v.get("type").and_then(Value::as_str).unwrap_or("(no type)");
    let inner = ["normalizers", "pretokenizers", "processors"].iter().find_map(|k| v.get(*k)?.as_array());
    match inner {
        Some(list) if ty == "Sequence" => {
            format!("Sequence[{}]", list.iter().map(describe).collect::<Vec<_>>().join(", "))
        }
        _ => ty.to_string(),
    }
}

/// A TemplateProcessing template in HF's string notation: `[CLS] $A [SEP] $B:1 [SEP]:1`.
fn template(pieces: &Value) -> String {
    let Some(list) = pieces.as_array() else { return pieces.to_string() };
    let one = |p: &Value| {
        let (name, body) = match (p.get("SpecialToken"), p.get("Sequence")) {
            (Some(s), _) => (s["id"].as_str().unwrap_or("?").to_string(), s),
            (None, Some(s)) => (format!("${}", s["id"].as_str().unwrap_or("?")), s),
            _ => return p.to_string(),
        };
        match body["type_id"].as_u64() {
            Some(0) => name,
            Some(t) => format!("{name}:{t}"),
            None => format!("{name}:?"),
        }
    };
    list.iter().map(one).collect::<Vec<_>>().join(" ")
}
