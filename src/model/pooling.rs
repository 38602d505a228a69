//! What summarizes a sequence into one vector.

/// What summarizes a sequence: for `embed`, the vector returned; for the classifier, what its
/// head reads (`wgbert train --pool`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Pooling {
    /// The last hidden state of [CLS].
    Cls,
    /// tanh(dense([CLS])): BERT's pooler output (HF `BertForSequenceClassification`'s head).
    #[default]
    Pooler,
    /// Mean of the token states where the attention mask is 1.
    Mean,
}
