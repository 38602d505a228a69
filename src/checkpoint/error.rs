//! Every way a load can fail, each naming the file, tensor or field at fault.

use std::path::PathBuf;

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

fn unset_hint(unset: &[&str]) -> String {
    if unset.is_empty() {
        return String::new();
    }
    format!(" (the config does not set {}, so bert-base's defaults were assumed)", unset.join(", "))
}
