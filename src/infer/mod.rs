//! Using a model: loading a classifier or an encoder as its authors saved it, texts to token
//! ids, length-sorted batches, logits and scores, pooled embeddings. `predict`, `eval`,
//! `embed`, the server, the browser and the Python package all call this one path, so that a
//! number printed by one equals the number the others return.

mod batches;
mod embed;
mod load;
mod scores;

pub use batches::{batched_rows, make_batch, Batch, Encoded, Inputs};
#[cfg(not(target_arch = "wasm32"))]
pub use embed::embed;
pub use embed::{embed_async, embed_encoded_async, normalize};
pub use load::{
    check_pair_column, classes_of_head, classifier_of, declared_pooling, embed_max_len, head_in_config, max_len_for,
    model_dir, run_half, Classifier, Encoder, ModelError, CLASSES_KEY, POOLING_KEY, TEXT_PAIRS_KEY,
};
#[cfg(not(target_arch = "wasm32"))]
pub use scores::{logits, predict};
pub use scores::{logits_async, predict_async, predictions, probabilities};
