//! `BertConfig`: the Hugging Face `config.json` (or Google's `bert_config.json`, which uses the same
//! keys), with Hugging Face's defaults for absent fields and a validation whose errors name the field.

use super::files::read_file;
use super::{CheckpointError, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The activation of the feed-forward block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HiddenAct {
    /// Exact GELU, x·Φ(x) with erf (Hugging Face "gelu", Google BERT's `gelu` after 2019).
    Gelu,
    /// The tanh approximation 0.5x(1 + tanh(√(2/π)(x + 0.044715x³))); PyTorch names it "gelu_pytorch_tanh".
    #[serde(alias = "gelu_pytorch_tanh")]
    GeluNew,
    Relu,
}

/// The fields of a BERT `config.json` the model needs. Unknown keys (`architectures`,
/// `transformers_version`, ...) are ignored; absent ones take Hugging Face's `BertConfig` defaults
/// (those of bert-base-uncased).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BertConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    pub hidden_act: HiddenAct,
    pub hidden_dropout_prob: f32,
    pub attention_probs_dropout_prob: f32,
    pub max_position_embeddings: usize,
    pub type_vocab_size: usize,
    pub layer_norm_eps: f32,
    /// Standard deviation for freshly initialised weights (a missing pooler, a new head).
    pub initializer_range: f32,
    pub pad_token_id: usize,
    /// Only "absolute" is supported; the relative variants add parameters we do not implement.
    pub position_embedding_type: String,
    /// Classification checkpoints only. `num_labels()` resolves it the way Hugging Face does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub num_labels: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id2label: Option<BTreeMap<usize, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label2id: Option<BTreeMap<String, usize>>,
    /// Dropout before the classifier; Hugging Face falls back to `hidden_dropout_prob`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub classifier_dropout: Option<f32>,
}

impl Default for BertConfig {
    fn default() -> Self {
        BertConfig {
            vocab_size: 30522,
            hidden_size: 768,
            num_hidden_layers: 12,
            num_attention_heads: 12,
            intermediate_size: 3072,
            hidden_act: HiddenAct::Gelu,
            hidden_dropout_prob: 0.1,
            attention_probs_dropout_prob: 0.1,
            max_position_embeddings: 512,
            type_vocab_size: 2,
            layer_norm_eps: 1e-12,
            initializer_range: 0.02,
            pad_token_id: 0,
            position_embedding_type: "absolute".to_string(),
            num_labels: None,
            id2label: None,
            label2id: None,
            classifier_dropout: None,
        }
    }
}

impl BertConfig {
    /// Reads and validates a config file; every error names the file and the field.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        Self::parse(path, &read_file(path)?)
    }

    /// Parses and validates config.json's bytes; `path` names them in errors.
    pub fn parse(path: &Path, text: &[u8]) -> Result<Self> {
        Self::from_json(text).map_err(|(field, detail)| CheckpointError::Malformed {
            file: path.to_path_buf(),
            field,
            detail,
        })
    }

    /// Parses and validates; the error is (field, detail).
    fn from_json(text: &[u8]) -> std::result::Result<Self, (String, String)> {
        let value: serde_json::Value = serde_json::from_slice(text).map_err(|e| ("JSON".to_string(), e.to_string()))?;
        let serde_json::Value::Object(map) = &value else {
            return Err(("JSON".into(), "expected an object at the top level".into()));
        };
        let config: BertConfig = match serde_json::from_value(value.clone()) {
            Ok(c) => c,
            Err(e) => {
                // serde's message says what is wrong but not where. Every field has a default, so
                // deserialising one key at a time finds the one at fault.
                let field = map
                    .iter()
                    .find(|(k, v)| serde_json::from_value::<BertConfig>(serde_json::json!({ k.as_str(): v })).is_err())
                    .map_or("JSON".to_string(), |(k, _)| k.clone());
                return Err((field, e.to_string()));
            }
        };
        config.validate().map_err(|e| match e {
            CheckpointError::InvalidConfig { field, detail } => (field, detail),
            other => ("config".into(), other.to_string()),
        })?;
        Ok(config)
    }

    /// Checks the sizes describe a BERT we can build.
    pub fn validate(&self) -> Result<()> {
        let bad = |field: &str, detail: String| Err(CheckpointError::InvalidConfig { field: field.into(), detail });
        let sizes = [
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("num_attention_heads", self.num_attention_heads),
            ("intermediate_size", self.intermediate_size),
            ("max_position_embeddings", self.max_position_embeddings),
            ("type_vocab_size", self.type_vocab_size),
        ];
        for (field, v) in sizes {
            if v == 0 {
                return bad(field, "must be > 0".into());
            }
        }
        if !self.hidden_size.is_multiple_of(self.num_attention_heads) {
            return bad(
                "hidden_size",
                format!("{} is not divisible by num_attention_heads ({})", self.hidden_size, self.num_attention_heads),
            );
        }
        if self.layer_norm_eps.is_nan() || self.layer_norm_eps <= 0.0 {
            return bad("layer_norm_eps", format!("must be > 0, is {}", self.layer_norm_eps));
        }
        for (field, p) in [
            ("hidden_dropout_prob", self.hidden_dropout_prob),
            ("attention_probs_dropout_prob", self.attention_probs_dropout_prob),
            ("classifier_dropout", self.classifier_dropout.unwrap_or(0.0)),
        ] {
            if !(0.0..1.0).contains(&p) {
                return bad(field, format!("must be in [0, 1), is {p}"));
            }
        }
        if self.position_embedding_type != "absolute" {
            return bad(
                "position_embedding_type",
                format!("{:?} is not supported (only \"absolute\")", self.position_embedding_type),
            );
        }
        if self.num_labels == Some(0) {
            return bad("num_labels", "must be > 0".into());
        }
        Ok(())
    }

    /// Size of one attention head (HS = C / NH).
    pub fn head_size(&self) -> usize {
        self.hidden_size / self.num_attention_heads
    }

    /// Hugging Face's rule: `num_labels`, else the size of `id2label`, else 2.
    pub fn num_labels(&self) -> usize {
        self.num_labels.or(self.id2label.as_ref().map(BTreeMap::len)).unwrap_or(2)
    }
}
