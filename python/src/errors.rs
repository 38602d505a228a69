//! Engine errors as Python exceptions, decided in one place by the error's type: a missing file
//! or folder is `FileNotFoundError`, a fault of the GPU or its driver `RuntimeError`, anything
//! else the caller gave (a malformed model, bad options, bad input) `ValueError`. The message is
//! the CLI's (`{:#}`: each context, then its cause).

use pyo3::exceptions::{PyFileNotFoundError, PyRuntimeError, PyValueError};
use pyo3::PyErr;
use wgbert::checkpoint::CheckpointError;
use wgbert::gpu::GpuError;
use wgbert::infer::ModelError;
use wgbert::tokenizer::TokenizerError;

enum Kind {
    Missing,
    Gpu,
    Input,
}

fn kind(e: &anyhow::Error) -> Kind {
    for cause in e.chain() {
        // A model folder's error holds its cause whole, outside the chain (see ModelError).
        if let Some(m) = cause.downcast_ref::<ModelError>() {
            return kind(&m.cause);
        }
        if let Some(c) = cause.downcast_ref::<CheckpointError>() {
            if matches!(
                c,
                CheckpointError::MissingFile { .. }
                    | CheckpointError::NoModelDir { .. }
                    | CheckpointError::NoCheckpoint { .. }
            ) {
                return Kind::Missing;
            }
        }
        if let Some(TokenizerError::NoVocab { .. }) = cause.downcast_ref::<TokenizerError>() {
            return Kind::Missing;
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::NotFound {
                return Kind::Missing;
            }
        }
        if let Some(g) = cause.downcast_ref::<GpuError>() {
            return match g {
                // What the caller named or set, not a fault of the device.
                GpuError::UnknownBackend(_)
                | GpuError::AdapterNotFound(..)
                | GpuError::BadSetting { .. }
                | GpuError::Shape(_) => Kind::Input,
                _ => Kind::Gpu,
            };
        }
    }
    Kind::Input
}

/// The Python exception for an engine error.
pub fn to_py(e: anyhow::Error) -> PyErr {
    let message = format!("{e:#}");
    match kind(&e) {
        Kind::Missing => PyFileNotFoundError::new_err(message),
        Kind::Gpu => PyRuntimeError::new_err(message),
        Kind::Input => PyValueError::new_err(message),
    }
}

/// `to_py` for the GPU layer's own errors.
pub fn gpu_to_py(e: GpuError) -> PyErr {
    to_py(e.into())
}
