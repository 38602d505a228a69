//! Reading checkpoint files: small ones whole, weights through a read-only memory map, and
//! I/O errors that name the path.

use std::path::Path;

use super::error::{CheckpointError, Result};

/// Reads a whole small file (configs, pickles), naming the path on failure.
pub(super) fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| io_error(path, e))
}

/// Maps a file read-only. Checkpoints are read once, front to back, so a mapping avoids a copy of
/// the raw bytes next to the converted f32 values.
#[cfg(not(target_arch = "wasm32"))]
pub(super) fn map_file(path: &Path) -> Result<memmap2::Mmap> {
    let file = std::fs::File::open(path).map_err(|e| io_error(path, e))?;
    // SAFETY: the mapping is read-only and dropped before the loader returns; a checkpoint being
    // rewritten while we read it is the one case this cannot guard against.
    unsafe { memmap2::Mmap::map(&file) }.map_err(|e| io_error(path, e))
}

/// wasm32 has no memory maps: the file is read whole where there is a file system (the browser
/// has none, and hands the `parse_*` readers bytes instead).
#[cfg(target_arch = "wasm32")]
pub(super) fn map_file(path: &Path) -> Result<Vec<u8>> {
    read_file(path)
}

pub(super) fn io_error(path: &Path, e: std::io::Error) -> CheckpointError {
    if e.kind() == std::io::ErrorKind::NotFound {
        CheckpointError::MissingFile { path: path.to_path_buf() }
    } else {
        CheckpointError::Io { path: path.to_path_buf(), source: e }
    }
}
