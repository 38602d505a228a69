//! The model folder's tokenizer files: text read strictly as UTF-8, and the settings the files
//! give. Defaults (uncased BERT) first, then the folder's `config.json`, `tokenizer.json` and
//! `tokenizer_config.json`, later ones winning. `tokenizer_config.json` goes last because that
//! is what `transformers` does: its `do_lower_case` / `strip_accents` /
//! `tokenize_chinese_chars` rebuild the normalizer found in `tokenizer.json`.

use std::path::Path;

use serde_json::Value;

use crate::tokenizer::config::TokenizerConfig;
use crate::tokenizer::error::{Result, TokenizerError};
use crate::tokenizer::tokenizer_json::TokenizerJson;

/// Reads a text file (vocab, config, data) strictly as UTF-8. Invalid UTF-8 is an error
/// naming the file and the offset rather than a lossy decode: BERT silently drops the
/// U+FFFD a lossy decode would insert, so bad input would otherwise go unnoticed.
pub fn read_text_file(path: impl AsRef<Path>) -> Result<String> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| TokenizerError::Io { path: path.to_path_buf(), source })?;
    decode_text(path, bytes)
}

/// The UTF-8 check of [`read_text_file`] for bytes already in memory; `path` names them
/// in the error.
pub fn decode_text(path: impl AsRef<Path>, bytes: Vec<u8>) -> Result<String> {
    String::from_utf8(bytes).map_err(|e| TokenizerError::NotUtf8 {
        path: path.as_ref().to_path_buf(),
        offset: e.utf8_error().valid_up_to(),
    })
}

impl TokenizerConfig {
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
    let text = decode_text(path, bytes.to_vec())?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| TokenizerError::BadConfig { path: path.to_path_buf(), message: format!("invalid JSON: {e}") })
}
