//! Tokenizer settings and where they come from: defaults (uncased BERT), then the model
//! folder's `config.json`, `tokenizer.json` and `tokenizer_config.json`, later ones
//! winning. `tokenizer_config.json` goes last because that is what `transformers` does:
//! its `do_lower_case` / `strip_accents` / `tokenize_chinese_chars` rebuild the
//! normalizer found in `tokenizer.json`.

use std::path::Path;

use serde_json::Value;

use crate::tokenizer::error::{Result, TokenizerError};
use crate::tokenizer::normalize::NormalizerOptions;
use crate::tokenizer::tokenizer_json::TokenizerJson;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenizerConfig {
    pub normalizer: NormalizerOptions,
    pub unk_token: String,
    pub cls_token: String,
    pub sep_token: String,
    pub pad_token: String,
    /// Optional: only looked up, never required.
    pub mask_token: String,
    pub continuing_subword_prefix: String,
    pub max_input_chars_per_word: usize,
    /// Strings matched verbatim in the raw text and never split or normalized (HF "added
    /// tokens" with `normalized: false`). `None`: the special tokens above.
    pub added_tokens: Option<Vec<String>>,
    /// Where these settings make wgbert tokenize otherwise than HF `tokenizers` would on
    /// tokenizer.json alone (each as the sentence a front end prints after `notice: `).
    pub notices: Vec<String>,
}

impl Default for TokenizerConfig {
    fn default() -> Self {
        TokenizerConfig {
            normalizer: NormalizerOptions::uncased(),
            unk_token: "[UNK]".into(),
            cls_token: "[CLS]".into(),
            sep_token: "[SEP]".into(),
            pad_token: "[PAD]".into(),
            mask_token: "[MASK]".into(),
            continuing_subword_prefix: "##".into(),
            max_input_chars_per_word: 100,
            added_tokens: None,
            notices: Vec::new(),
        }
    }
}

impl TokenizerConfig {
    /// Defaults for a bare vocab.txt: uncased (`lowercase`: true) or cased.
    pub fn with_lowercase(lowercase: bool) -> Self {
        let mut c = TokenizerConfig::default();
        c.set_lowercase(lowercase);
        c
    }

    /// Switches casing as a user override would: accents are stripped iff lowercasing.
    pub fn set_lowercase(&mut self, lowercase: bool) {
        self.normalizer.lowercase = lowercase;
        self.normalizer.strip_accents = lowercase;
    }

    /// The special tokens that are matched verbatim in raw text.
    pub fn raw_tokens(&self) -> Vec<String> {
        match &self.added_tokens {
            Some(t) => t.clone(),
            None => [&self.unk_token, &self.sep_token, &self.pad_token, &self.cls_token, &self.mask_token]
                .into_iter()
                .cloned()
                .collect(),
        }
    }

    /// Reads whichever of the config files exist in `dir`; none is required.
    pub fn from_dir(dir: &Path) -> Result<Self> {
        Self::from_files(&ConfigFiles::read(dir)?, dir)
    }

    /// From the config files' bytes (a browser has no folder); `dir` names them in errors.
    pub fn from_files(files: &ConfigFiles, dir: &Path) -> Result<Self> {
        Ok(Self::load(files, dir)?.0)
    }

    /// [`from_files`](Self::from_files), with the parsed tokenizer.json (its vocabulary and the
    /// checks that need one are the tokenizer's to use).
    pub(crate) fn load(files: &ConfigFiles, dir: &Path) -> Result<(Self, Option<TokenizerJson>)> {
        let mut cfg = TokenizerConfig::default();
        // Where a file sets do_lower_case but not strip_accents, stripping follows casing.
        let mut strip: Option<bool> = None;
        if let Some(v) = parse_json(&dir.join("config.json"), files.config_json.as_deref())? {
            if let Some(b) = v.get("do_lower_case").and_then(Value::as_bool) {
                cfg.normalizer.lowercase = b;
            }
        }
        let path = dir.join("tokenizer.json");
        let json = parse_json(&path, files.tokenizer_json.as_deref())?.map(|v| TokenizerJson::new(v, &path));
        if let Some(j) = &json {
            j.apply(&mut cfg, &mut strip)?;
        }
        let json_lowercase = json.as_ref().and_then(TokenizerJson::lowercase);
        if let Some(v) = parse_json(&dir.join("tokenizer_config.json"), files.tokenizer_config_json.as_deref())? {
            if let Some(b) = v.get("do_lower_case").and_then(Value::as_bool) {
                cfg.normalizer.lowercase = b;
            }
            if let Some(b) = v.get("tokenize_chinese_chars").and_then(Value::as_bool) {
                cfg.normalizer.handle_chinese_chars = b;
            }
            // transformers passes this file's strip_accents (absent = null = follow casing)
            // to the normalizer, replacing tokenizer.json's.
            strip = v.get("strip_accents").and_then(Value::as_bool);
            for (key, slot) in [
                ("unk_token", &mut cfg.unk_token),
                ("cls_token", &mut cfg.cls_token),
                ("sep_token", &mut cfg.sep_token),
                ("pad_token", &mut cfg.pad_token),
                ("mask_token", &mut cfg.mask_token),
            ] {
                if let Some(t) = v.get(key).and_then(token_content) {
                    *slot = t;
                }
            }
        }
        cfg.normalizer.strip_accents = strip.unwrap_or(cfg.normalizer.lowercase);
        if let Some(l) = json_lowercase.filter(|&l| l != cfg.normalizer.lowercase) {
            cfg.notices.push(format!(
                "tokenizer_config.json's do_lower_case ({}) replaces tokenizer.json's normalizer (lowercase: {l}), \
                 as transformers does; HF tokenizers on tokenizer.json alone would {}",
                !l,
                if l { "lowercase" } else { "keep case" }
            ));
        }
        Ok((cfg, json))
    }
}

/// A special token is either `"[UNK]"` or `{"content": "[UNK]", ...}`.
fn token_content(v: &Value) -> Option<String> {
    v.as_str().or_else(|| v.get("content").and_then(Value::as_str)).map(str::to_string)
}

/// The bytes of a model folder's files that set the tokenizer; each is optional.
#[derive(Clone, Debug, Default)]
pub struct ConfigFiles {
    pub config_json: Option<Vec<u8>>,
    pub tokenizer_json: Option<Vec<u8>>,
    pub tokenizer_config_json: Option<Vec<u8>>,
}

impl ConfigFiles {
    /// Whichever of the files exist in `dir`.
    pub fn read(dir: &Path) -> Result<ConfigFiles> {
        Ok(ConfigFiles {
            config_json: read_if_there(&dir.join("config.json"))?,
            tokenizer_json: read_if_there(&dir.join("tokenizer.json"))?,
            tokenizer_config_json: read_if_there(&dir.join("tokenizer_config.json"))?,
        })
    }
}

/// The bytes of `path`, `None` when there is no such file.
pub(crate) fn read_if_there(path: &Path) -> Result<Option<Vec<u8>>> {
    if !path.exists() {
        return Ok(None);
    }
    std::fs::read(path).map(Some).map_err(|source| TokenizerError::Io { path: path.to_path_buf(), source })
}

/// A JSON file's bytes, strictly UTF-8 (see `read_text_file`); `path` names them in errors.
fn parse_json(path: &Path, bytes: Option<&[u8]>) -> Result<Option<Value>> {
    let Some(bytes) = bytes else { return Ok(None) };
    let text = crate::tokenizer::decode_text(path, bytes.to_vec())?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| TokenizerError::BadConfig { path: path.to_path_buf(), message: format!("invalid JSON: {e}") })
}
