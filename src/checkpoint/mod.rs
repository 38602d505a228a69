//! Checkpoint loading: turns a model folder (Hugging Face safetensors, PyTorch `pytorch_model.bin`,
//! or Google's original TensorFlow BERT release) into named f32 host tensors plus a `BertConfig`.
//!
//! Knows nothing of the GPU: `model` uploads what this produces. Names follow the Hugging Face
//! `BertModel` convention without the `bert.` prefix (`encoder.layer.0.attention.self.query.weight`),
//! and every Linear weight is [out, in] as in PyTorch, whatever the source format stored.

mod config;
mod dtype;
mod names;
mod pickle;
mod pytorch;
mod safetensors;
mod tensor_file;
mod tf_bundle;
mod zip;

pub use config::{BertConfig, HiddenAct};
pub use names::{bert_parameter_shapes, normalise_name};
pub use pytorch::{load_pytorch, parse_pytorch, parse_state_dict_pickle};
pub use safetensors::{load_safetensors, parse_safetensors};
pub use tensor_file::{load_tensors, save_tensors, serialize_tensors};
pub use tf_bundle::{load_tf_bundle, parse_tf_bundle};
pub use zip::write_stored as zip_archive;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// A dense row-major f32 tensor on the host.
#[derive(Clone, Debug, PartialEq)]
pub struct HostTensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl HostTensor {
    /// Panics if `data.len()` is not the product of `shape`: callers inside this module check sizes
    /// against the file before building one, so a mismatch here is a bug, not bad input.
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Self {
        assert_eq!(shape.iter().product::<usize>(), data.len(), "HostTensor shape {shape:?}");
        HostTensor { shape, data }
    }

    pub fn numel(&self) -> usize {
        self.data.len()
    }
}

/// Named host tensors, sorted by name (a `BTreeMap`, so iteration order is deterministic).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Checkpoint {
    pub tensors: BTreeMap<String, HostTensor>,
}

impl Checkpoint {
    pub fn get(&self, name: &str) -> Option<&HostTensor> {
        self.tensors.get(name)
    }

    /// Moves a tensor out, so the model can upload it without holding a second copy.
    pub fn take(&mut self, name: &str) -> Option<HostTensor> {
        self.tensors.remove(name)
    }

    pub fn insert(&mut self, name: impl Into<String>, tensor: HostTensor) {
        self.tensors.insert(name.into(), tensor);
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tensors.keys().map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.tensors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }

    /// Total number of f32 values held.
    pub fn numel(&self) -> usize {
        self.tensors.values().map(HostTensor::numel).sum()
    }

    /// True when both pooler tensors are present; otherwise the model initialises a fresh pooler.
    pub fn has_pooler(&self) -> bool {
        self.tensors.contains_key("pooler.dense.weight") && self.tensors.contains_key("pooler.dense.bias")
    }
}

/// Something the caller should know about a load that is not an error.
#[derive(Clone, Debug, PartialEq)]
pub enum Notice {
    /// Parameters of heads `BertModel` has no use for (`cls.predictions.*`, `cls.seq_relationship.*`).
    Unused { names: Vec<String> },
    /// Entries that are not parameters at all: integer buffers (`embeddings.position_ids`),
    /// `global_step`, optimizer slots (`adam_m`, `adam_v`).
    Skipped { names: Vec<String>, reason: String },
    /// Tensors stored in another float type and widened (or, for f64, narrowed) to f32.
    Converted { dtype: String, count: usize },
    /// The checkpoint has no pooler weights.
    NoPooler,
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Long lists (a TF checkpoint has hundreds of optimizer slots) are cut to a few names.
        fn list(names: &[String]) -> String {
            const SHOWN: usize = 4;
            let mut s = names.iter().take(SHOWN).cloned().collect::<Vec<_>>().join(", ");
            if names.len() > SHOWN {
                s += &format!(", ... ({} more)", names.len() - SHOWN);
            }
            s
        }
        match self {
            Notice::Unused { names } => write!(f, "{} tensors not used by BertModel: {}", names.len(), list(names)),
            Notice::Skipped { names, reason } => {
                write!(f, "skipped {} {}: {}", names.len(), reason, list(names))
            }
            Notice::Converted { dtype, count } => {
                write!(f, "converted {count} {dtype} tensors to f32")
            }
            Notice::NoPooler => write!(f, "no pooler weights: a fresh pooler is initialised"),
        }
    }
}

/// Every way a load can fail; each names the file, tensor or field at fault.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("file not found: {path}")]
    MissingFile { path: PathBuf },
    #[error("no model folder at {dir}: give --model a folder with config.json, vocab.txt or tokenizer.json, and weights (tools/fetch_model.sh fetches all-MiniLM-L6-v2 into models/)")]
    NoModelDir { dir: PathBuf },
    #[error("no checkpoint in {dir}: expected model.safetensors, pytorch_model.bin or bert_model.ckpt.index")]
    NoCheckpoint { dir: PathBuf },
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("tensor {name} is missing from the checkpoint")]
    MissingTensor { name: String },
    #[error("tensor {name}: expected shape {expected:?}, found {found:?}")]
    ShapeMismatch { name: String, expected: Vec<usize>, found: Vec<usize> },
    #[error("{file}: tensor {tensor} has unsupported dtype {dtype}")]
    UnsupportedDtype { file: PathBuf, tensor: String, dtype: String },
    /// The file is shorter than its own header says, or an offset points outside it.
    #[error("{file}: tensor {tensor}: {detail}")]
    OutOfRange { file: PathBuf, tensor: String, detail: String },
    /// A header, directory, index or config that cannot be parsed; `field` says which part.
    #[error("{file}: malformed {field}: {detail}")]
    Malformed { file: PathBuf, field: String, detail: String },
    /// A config that parses but describes no valid BERT.
    #[error("invalid config: {field}: {detail}")]
    InvalidConfig { field: String, detail: String },
    /// `offset` counts from the start of the pickle (`data.pkl` inside the zip).
    #[error("{file}: unsupported pickle opcode 0x{opcode:02x} at byte {offset} of data.pkl")]
    UnsupportedOpcode { file: PathBuf, opcode: u8, offset: usize },
    /// The weights do not fit the config (a tensor missing or of another shape). `unset` names the
    /// size fields the config leaves to bert-base's defaults, a common cause.
    #[error("{weights} does not fit {config}: {error}{}", unset_hint(.unset))]
    Mismatch { weights: PathBuf, config: PathBuf, error: Box<CheckpointError>, unset: Vec<&'static str> },
    /// A well-formed file using a feature these readers leave out (compressed blocks, legacy formats).
    #[error("{file}: {what} is not supported")]
    Unsupported { file: PathBuf, what: String },
}

pub type Result<T, E = CheckpointError> = std::result::Result<T, E>;

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

fn unset_hint(unset: &[&str]) -> String {
    if unset.is_empty() {
        return String::new();
    }
    format!(" (the config does not set {}, so bert-base's defaults were assumed)", unset.join(", "))
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

/// Reads a whole small file (configs, pickles), naming the path on failure.
fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| io_error(path, e))
}

/// Maps a file read-only. Checkpoints are read once, front to back, so a mapping avoids a copy of
/// the raw bytes next to the converted f32 values.
#[cfg(not(target_arch = "wasm32"))]
fn map_file(path: &Path) -> Result<memmap2::Mmap> {
    let file = std::fs::File::open(path).map_err(|e| io_error(path, e))?;
    // SAFETY: the mapping is read-only and dropped before the loader returns; a checkpoint being
    // rewritten while we read it is the one case this cannot guard against.
    unsafe { memmap2::Mmap::map(&file) }.map_err(|e| io_error(path, e))
}

/// wasm32 has no memory maps: the file is read whole where there is a file system (the browser
/// has none, and hands the `parse_*` readers bytes instead).
#[cfg(target_arch = "wasm32")]
fn map_file(path: &Path) -> Result<Vec<u8>> {
    read_file(path)
}

fn io_error(path: &Path, e: std::io::Error) -> CheckpointError {
    if e.kind() == std::io::ErrorKind::NotFound {
        CheckpointError::MissingFile { path: path.to_path_buf() }
    } else {
        CheckpointError::Io { path: path.to_path_buf(), source: e }
    }
}
