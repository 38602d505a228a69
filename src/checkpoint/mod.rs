//! Checkpoint loading: turns a model folder (Hugging Face safetensors, PyTorch `pytorch_model.bin`,
//! or Google's original TensorFlow BERT release) into named f32 host tensors plus a `BertConfig`.
//!
//! Knows nothing of the GPU: `model` uploads what this produces. Names follow the Hugging Face
//! `BertModel` convention without the `bert.` prefix (`encoder.layer.0.attention.self.query.weight`),
//! and every Linear weight is [out, in] as in PyTorch, whatever the source format stored.

mod config;
mod dtype;
mod error;
mod files;
mod names;
mod pickle;
mod pytorch;
mod safetensors;
mod tensor_file;
mod tensors;
mod tf_bundle;
mod zip;

pub use config::{BertConfig, HiddenAct};
pub use error::{CheckpointError, Result};
pub use names::{bert_parameter_shapes, normalise_name};
pub use pytorch::{load_pytorch, parse_pytorch, parse_state_dict_pickle};
pub use safetensors::{load_safetensors, parse_safetensors};
pub use tensor_file::{load_tensors, save_tensors, serialize_tensors};
pub use tensors::{Checkpoint, HostTensor, Notice};
pub use tf_bundle::{load_tf_bundle, parse_tf_bundle};
pub use zip::write_stored as zip_archive;

use std::path::{Path, PathBuf};

use files::read_file;

/// Loads a model folder: `config.json` (or `bert_config.json`) and the first weights file found of
/// `model.safetensors`, `pytorch_model.bin`, `bert_model.ckpt.index` (+ its data shard).
/// Checks every `BertModel` tensor against the config (the pooler may be absent: see `Notice::NoPooler`).
pub fn load_model_dir(dir: impl AsRef<Path>) -> Result<(BertConfig, Checkpoint, Vec<Notice>)> {
    let dir = dir.as_ref();
    if !dir.is_dir() {
        return Err(CheckpointError::NoModelDir { dir: dir.to_path_buf() });
    }
    let config_path = ["config.json", "bert_config.json"]
        .iter()
        .map(|f| dir.join(f))
        .find(|p| p.is_file())
        .ok_or_else(|| CheckpointError::MissingFile { path: dir.join("config.json") })?;
    let config_bytes = read_file(&config_path)?;
    let config = BertConfig::parse(&config_path, &config_bytes)?;

    let (weights, (ckpt, notices)) = if dir.join("model.safetensors").is_file() {
        let p = dir.join("model.safetensors");
        (p.clone(), load_safetensors(p)?)
    } else if dir.join("pytorch_model.bin").is_file() {
        let p = dir.join("pytorch_model.bin");
        (p.clone(), load_pytorch(p)?)
    } else if dir.join("bert_model.ckpt.index").is_file() {
        (dir.join("bert_model.ckpt.index"), load_tf_bundle(dir.join("bert_model.ckpt"))?)
    } else {
        return Err(CheckpointError::NoCheckpoint { dir: dir.to_path_buf() });
    };
    check_fit(&config, &ckpt, &config_bytes, config_path, weights)?;
    Ok((config, ckpt, notices))
}

/// A model from bytes already in memory (a browser's fetch or file picker): `config.json` and
/// `model.safetensors`, checked as [`load_model_dir`] checks a folder. Errors name the files
/// by those names.
pub fn load_model_bytes(config_json: &[u8], safetensors: &[u8]) -> Result<(BertConfig, Checkpoint, Vec<Notice>)> {
    let (config_path, weights) = (PathBuf::from("config.json"), PathBuf::from("model.safetensors"));
    let config = BertConfig::parse(&config_path, config_json)?;
    let (ckpt, notices) = parse_safetensors(&weights, safetensors)?;
    check_fit(&config, &ckpt, config_json, config_path, weights)?;
    Ok((config, ckpt, notices))
}

/// Every `BertModel` tensor against the config, the error naming both files.
fn check_fit(
    config: &BertConfig,
    ckpt: &Checkpoint,
    config_json: &[u8],
    config_path: PathBuf,
    weights: PathBuf,
) -> Result<()> {
    ckpt.check_against(config).map_err(|error| CheckpointError::Mismatch {
        weights,
        unset: unset_size_fields(config_json),
        config: config_path,
        error: Box::new(error),
    })
}

/// The size fields a config file (its bytes) leaves to their defaults.
fn unset_size_fields(config_json: &[u8]) -> Vec<&'static str> {
    const SIZES: [&str; 7] = [
        "vocab_size",
        "hidden_size",
        "num_hidden_layers",
        "num_attention_heads",
        "intermediate_size",
        "max_position_embeddings",
        "type_vocab_size",
    ];
    let keys = serde_json::from_slice::<serde_json::Value>(config_json).ok();
    let Some(serde_json::Value::Object(map)) = keys else { return vec![] };
    SIZES.iter().copied().filter(|k| !map.contains_key(*k)).collect()
}
