//! The JSON of text-embeddings-inference's HTTP API (its `router/src/http/types.rs`): requests
//! as clients send them, responses as they parse them. Field names, defaults and shapes follow
//! TEI; what wgbert does not run (token-id inputs, prompts, `dimensions`) is refused by the
//! handlers with a validation error rather than ignored.

use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

/// One model input: a text, or a sentence pair for pair models.
#[derive(Debug, Clone, PartialEq)]
pub enum Sequence {
    Single(String),
    Pair(String, String),
}

/// `inputs` of /embed, /tokenize and `input` of /v1/embeddings: a string or a list of them.
#[derive(Deserialize, Debug)]
#[serde(untagged)]
pub enum Texts {
    Single(String),
    Batch(Vec<String>),
}

impl Texts {
    pub fn into_vec(self) -> Vec<String> {
        match self {
            Texts::Single(s) => vec![s],
            Texts::Batch(v) => v,
        }
    }
}

/// `inputs` of /predict: a string, a pair `[a, b]`, or a batch of `[a]` and `[a, b]` entries
/// (TEI's `PredictInput`); a batch answers a list of prediction lists.
#[derive(Debug)]
pub enum PredictInput {
    Single(Sequence),
    Batch(Vec<Sequence>),
}

impl<'de> Deserialize<'de> for PredictInput {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        /// A string or `[string]`/`[string, string]` as the first element decides the shape.
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum First {
            Text(String),
            Entry(Vec<String>),
        }
        struct V;
        const EXPECTED: &str =
            "a string, a pair of strings [string, string] or a batch [[string], [string, string], ...]";
        fn entry<E: de::Error>(mut v: Vec<String>) -> Result<Sequence, E> {
            match v.len() {
                1 => Ok(Sequence::Single(v.remove(0))),
                2 => {
                    let b = v.remove(1);
                    Ok(Sequence::Pair(v.remove(0), b))
                }
                n => Err(E::invalid_length(n, &EXPECTED)),
            }
        }
        impl<'de> Visitor<'de> for V {
            type Value = PredictInput;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(EXPECTED)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<PredictInput, E> {
                Ok(PredictInput::Single(Sequence::Single(v.to_string())))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<PredictInput, A::Error> {
                match seq.next_element::<First>()? {
                    None => Ok(PredictInput::Batch(Vec::new())),
                    Some(First::Text(a)) => {
                        let b: Option<String> = seq.next_element()?;
                        if seq.next_element::<String>()?.is_some() {
                            return Err(de::Error::invalid_length(3, &EXPECTED));
                        }
                        Ok(PredictInput::Single(match b {
                            Some(b) => Sequence::Pair(a, b),
                            None => Sequence::Single(a),
                        }))
                    }
                    Some(First::Entry(v)) => {
                        let mut batch = vec![entry(v)?];
                        while let Some(v) = seq.next_element::<Vec<String>>()? {
                            batch.push(entry(v)?);
                        }
                        Ok(PredictInput::Batch(batch))
                    }
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// Which end of a too-long input `truncate` cuts (TEI's `truncation_direction`).
#[derive(Deserialize, Debug, Clone, Copy, Default, PartialEq)]
pub enum TruncationDirection {
    #[serde(alias = "left", alias = "Left")]
    Left,
    #[serde(alias = "right", alias = "Right")]
    #[default]
    Right,
}

#[derive(Deserialize, Debug)]
pub struct EmbedRequest {
    pub inputs: Texts,
    #[serde(default)]
    pub truncate: Option<bool>,
    #[serde(default)]
    pub truncation_direction: TruncationDirection,
    #[serde(default = "yes")]
    pub normalize: bool,
    pub prompt_name: Option<String>,
    pub dimensions: Option<usize>,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize, Debug)]
pub struct PredictRequest {
    pub inputs: PredictInput,
    #[serde(default)]
    pub truncate: Option<bool>,
    #[serde(default)]
    pub truncation_direction: TruncationDirection,
    #[serde(default)]
    pub raw_scores: bool,
}

#[derive(Serialize, Debug, Clone)]
pub struct Prediction {
    pub score: f32,
    pub label: String,
}

#[derive(Deserialize, Debug)]
pub struct RerankRequest {
    pub query: String,
    pub texts: Vec<String>,
    #[serde(default)]
    pub truncate: Option<bool>,
    #[serde(default)]
    pub truncation_direction: TruncationDirection,
    #[serde(default)]
    pub raw_scores: bool,
    #[serde(default)]
    pub return_text: bool,
}

#[derive(Serialize, Debug)]
pub struct Rank {
    pub index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    pub score: f32,
}

/// OpenAI's `encoding_format`: floats, or base64 of the little-endian f32 bytes.
#[derive(Deserialize, Debug, Default, PartialEq, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum EncodingFormat {
    #[default]
    Float,
    Base64,
}

/// OpenAI's embeddings request (`model` and `user` are accepted and not used, as TEI).
#[derive(Deserialize, Debug)]
pub struct OpenAiRequest {
    pub input: Texts,
    #[allow(dead_code)]
    pub model: Option<String>,
    #[allow(dead_code)]
    pub user: Option<String>,
    #[serde(default)]
    pub encoding_format: EncodingFormat,
    pub dimensions: Option<usize>,
}

#[derive(Serialize, Debug)]
#[serde(untagged)]
pub enum OpenAiVector {
    Float(Vec<f32>),
    Base64(String),
}

#[derive(Serialize, Debug)]
pub struct OpenAiEmbedding {
    pub object: &'static str,
    pub embedding: OpenAiVector,
    pub index: usize,
}

#[derive(Serialize, Debug)]
pub struct OpenAiUsage {
    pub prompt_tokens: usize,
    pub total_tokens: usize,
}

#[derive(Serialize, Debug)]
pub struct OpenAiResponse {
    pub object: &'static str,
    pub data: Vec<OpenAiEmbedding>,
    pub model: String,
    pub usage: OpenAiUsage,
}

#[derive(Deserialize, Debug)]
pub struct TokenizeRequest {
    pub inputs: Texts,
    #[serde(default = "yes")]
    pub add_special_tokens: bool,
    pub prompt_name: Option<String>,
}

/// A token as /tokenize lists it. wgbert's tokenizer keeps no character offsets, so `start`
/// and `stop` are null.
#[derive(Serialize, Debug)]
pub struct SimpleToken {
    pub id: u32,
    pub text: String,
    pub special: bool,
    pub start: Option<usize>,
    pub stop: Option<usize>,
}

/// TEI's error kinds; each maps to one status code (`routes::status_of`).
#[derive(Serialize, Debug, Clone, Copy, PartialEq)]
pub enum ErrorType {
    Unhealthy,
    Backend,
    Overloaded,
    Validation,
    Tokenizer,
    Empty,
    /// Not TEI's (it answers 413 and 401 without a body): a body over `--payload-limit`.
    Payload,
    /// Not TEI's: a missing or wrong `Authorization: Bearer` key.
    Unauthorized,
    /// Not TEI's: a body not sent within the read timeout.
    Timeout,
}

#[derive(Serialize, Debug)]
pub struct ErrorResponse {
    pub error: String,
    pub error_type: ErrorType,
}

/// An error a handler answers with: its kind (one status code each) and a message naming
/// the input, field or limit at fault.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub kind: ErrorType,
    pub message: String,
}

impl ApiError {
    pub fn new(kind: ErrorType, message: impl Into<String>) -> ApiError {
        ApiError { kind, message: message.into() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn predict(json: &str) -> Result<PredictInput, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn predict_inputs_take_teis_three_shapes() {
        assert!(matches!(predict(r#""a""#).unwrap(), PredictInput::Single(Sequence::Single(s)) if s == "a"));
        assert!(
            matches!(predict(r#"["a","b"]"#).unwrap(), PredictInput::Single(Sequence::Pair(a, b)) if a == "a" && b == "b")
        );
        match predict(r#"[["a"],["b","c"]]"#).unwrap() {
            PredictInput::Batch(v) => {
                assert_eq!(v, vec![Sequence::Single("a".into()), Sequence::Pair("b".into(), "c".into())])
            }
            other => panic!("{other:?}"),
        }
        assert!(predict(r#"["a","b","c"]"#).is_err());
        assert!(predict(r#"[["a","b","c"]]"#).is_err());
        assert!(predict("3").is_err());
    }
}
