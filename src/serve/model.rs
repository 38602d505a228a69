//! The model being served: an encoder (embeddings) or a classifier (predictions, and reranking
//! for a pair model), its inputs to token ids under TEI's truncation rules, and one batch of
//! them through `crate::infer`, the path `embed` and `predict` take.

use std::path::Path;
use std::sync::Arc;

use anyhow::{anyhow, Result};

use super::types::{ApiError, ErrorType, Sequence, TruncationDirection};
use crate::gpu::Gpu;
use crate::infer::{embed_encoded_async, logits_async, Classifier, Encoded, Encoder};
use crate::model::{BertClassifier, Pooling};
use crate::tokenizer::{Encoding, Scratch, Tokenizer};

pub enum Model {
    Embedding(Encoder),
    Classifier(Classifier),
}

/// One input as token ids ([CLS] a [SEP] (b [SEP])), unpadded.
pub struct Tokens {
    pub ids: Vec<u32>,
    pub type_ids: Vec<u32>,
}

impl Model {
    /// The model of a folder: a classifier when its checkpoint has a head `predict` can use,
    /// else an encoder as `embed` loads it. `notice` hears why a folder is served as an encoder.
    pub fn load(gpu: &Arc<Gpu>, dir: &Path, notice: impl FnOnce(String)) -> Result<Model> {
        match Classifier::load(gpu, dir) {
            Ok(c) => Ok(Model::Classifier(c)),
            Err(as_classifier) => {
                let e = Encoder::load(gpu, dir).map_err(|as_encoder| {
                    anyhow!(
                        "{}: neither a classifier ({as_classifier:#}) nor an encoder ({as_encoder:#})",
                        dir.display()
                    )
                })?;
                e.check_pooling(e.pooling)?;
                notice(format!(
                    "serving {} as an embedding model (not a classifier: {as_classifier:#})",
                    dir.display()
                ));
                Ok(Model::Embedding(e))
            }
        }
    }

    pub fn bert(&self) -> &BertClassifier {
        match self {
            Model::Embedding(e) => &e.model,
            Model::Classifier(c) => &c.model,
        }
    }

    pub fn bert_mut(&mut self) -> &mut BertClassifier {
        match self {
            Model::Embedding(e) => &mut e.model,
            Model::Classifier(c) => &mut c.model,
        }
    }

    pub fn tokenizer(&self) -> &Tokenizer {
        match self {
            Model::Embedding(e) => &e.tokenizer,
            Model::Classifier(c) => &c.tokenizer,
        }
    }

    /// TEI's name of the model's kind: "embedding", "classifier", or "reranker" (a classifier
    /// of sentence pairs).
    pub fn kind(&self) -> &'static str {
        match self {
            Model::Embedding(_) => "embedding",
            Model::Classifier(c) if c.model.text_pairs => "reranker",
            Model::Classifier(_) => "classifier",
        }
    }

    /// The longest input in tokens, [CLS] and [SEP] included.
    pub fn max_input_length(&self) -> usize {
        self.bert().config.max_position_embeddings
    }

    /// Values per input a batch gives back: the hidden size (a pooled embedding) or the
    /// number of logits.
    pub fn width(&self) -> usize {
        match self {
            Model::Embedding(e) => e.model.config.hidden_size,
            Model::Classifier(c) => c.model.num_labels,
        }
    }

    pub fn pooling(&self) -> Pooling {
        match self {
            Model::Embedding(e) => e.pooling,
            Model::Classifier(c) => c.model.pooling,
        }
    }

    /// `seq` as token ids. An input over the model's length is an error unless `truncate`
    /// (TEI's rule); truncation keeps the start (right-side truncation, longest side first for
    /// pairs, as `predict` and `embed` encode).
    pub fn tokenize(&self, seq: &Sequence, truncate: bool, direction: TruncationDirection) -> Result<Tokens, ApiError> {
        let tok = self.tokenizer();
        let max = self.max_input_length();
        let (len, encode): (usize, Box<dyn Fn(usize) -> Encoding>) = match seq {
            Sequence::Single(s) => {
                let a = words(tok, s);
                (a.len() + 2, Box::new(move |n| Encoding::single(&a, tok.special_ids(), n)))
            }
            Sequence::Pair(s, t) => {
                let (a, b) = (words(tok, s), words(tok, t));
                (a.len() + b.len() + 3, Box::new(move |n| Encoding::pair(&a, &b, tok.special_ids(), n)))
            }
        };
        if len > max {
            if !truncate {
                return Err(ApiError::new(
                    ErrorType::Validation,
                    format!("`inputs` must have less than {max} tokens. Given: {len}"),
                ));
            }
            if direction == TruncationDirection::Left {
                return Err(ApiError::new(
                    ErrorType::Validation,
                    format!("input of {len} tokens needs truncation and wgbert truncates on the right only: send \"truncation_direction\": \"Right\""),
                ));
            }
        }
        let e = encode(len.min(max));
        Ok(Tokens { ids: e.ids, type_ids: e.type_ids })
    }

    /// One batch: `width()` values per input, in order.
    pub fn run(&self, gpu: &Arc<Gpu>, inputs: Vec<Tokens>) -> Result<Vec<f32>> {
        let n = inputs.len();
        let (ids, type_ids) = inputs.into_iter().map(|t| (t.ids, t.type_ids)).unzip();
        let enc = Encoded { ids, type_ids, labels: vec![0; n] };
        let pad = self.tokenizer().pad_id();
        pollster::block_on(async {
            match self {
                Model::Embedding(e) => Ok(embed_encoded_async(gpu, &e.model, &enc, pad, e.pooling, n).await?),
                Model::Classifier(c) => logits_async(gpu, &c.model, &enc, pad, n, |_| {}).await,
            }
        })
    }
}

/// The word-piece ids of `text`, without [CLS] and [SEP].
fn words(tok: &Tokenizer, text: &str) -> Vec<u32> {
    let mut ids = Vec::new();
    tok.encode_words_into(text, &mut Scratch::default(), &mut ids);
    ids
}
