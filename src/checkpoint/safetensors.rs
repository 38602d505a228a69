//! `model.safetensors`: an 8-byte header length, a JSON header (name -> dtype, shape, byte range),
//! then raw little-endian tensor bytes. Parsed by the `safetensors` crate over a memory mapping;
//! f32/f16/bf16/f64 become f32, I64 buffers (`embeddings.position_ids`) are skipped.

use super::dtype::FloatType;
use super::files::map_file;
use super::names::Collector;
use super::{Checkpoint, CheckpointError, HostTensor, Notice, Result};
use safetensors::tensor::{Dtype, Metadata, SafeTensorError, SafeTensors};
use std::path::Path;

/// Loads every tensor `BertModel` uses from a safetensors file.
pub fn load_safetensors(path: impl AsRef<Path>) -> Result<(Checkpoint, Vec<Notice>)> {
    let path = path.as_ref();
    parse_safetensors(path, &map_file(path)?)
}

/// Reads the tensors of a safetensors file already in memory; `path` names it in errors.
pub fn parse_safetensors(path: &Path, bytes: &[u8]) -> Result<(Checkpoint, Vec<Notice>)> {
    let (header_len, metadata) = SafeTensors::read_metadata(bytes).map_err(|e| header_error(path, bytes, e))?;
    let data = &bytes[8 + header_len..];

    let mut out = Collector::new(path);
    for raw in metadata.offset_keys() {
        let info = metadata.info(&raw).expect("offset_keys come from this metadata");
        if info.dtype == Dtype::I64 {
            out.skip(&raw, "integer buffers");
            continue;
        }
        let Some(name) = out.wanted(&raw) else {
            continue;
        };
        let ty = match info.dtype {
            Dtype::F32 => FloatType::F32,
            Dtype::F16 => FloatType::F16,
            Dtype::BF16 => FloatType::BF16,
            Dtype::F64 => FloatType::F64,
            other => {
                return Err(CheckpointError::UnsupportedDtype {
                    file: path.into(),
                    tensor: raw,
                    dtype: format!("{other:?}"),
                })
            }
        };
        // read_metadata has checked that the ranges tile the data section exactly and match
        // shape x dtype, so this slice is in bounds and of the right length.
        let (start, end) = info.data_offsets;
        out.insert(name, ty, HostTensor::new(info.shape.clone(), ty.decode(&data[start..end])))?;
    }
    Ok(out.finish())
}

/// The header length the first 8 bytes give (called once the crate has read a header).
fn header_len(bytes: &[u8]) -> usize {
    u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")) as usize
}

/// Turns the crate's error into ours; for a truncated file, finds the first tensor that no longer fits.
fn header_error(path: &Path, bytes: &[u8], e: SafeTensorError) -> CheckpointError {
    if let SafeTensorError::MetadataIncompleteBuffer = e {
        // The header parsed, so re-read it to name the tensor that the file cuts off.
        let n = header_len(bytes);
        let available = bytes.len() - 8 - n;
        let described = match serde_json::from_slice::<Metadata>(&bytes[8..8 + n]) {
            Ok(meta) => {
                let cut =
                    meta.offset_keys().into_iter().find(|k| meta.info(k).is_some_and(|i| i.data_offsets.1 > available));
                if let Some(tensor) = cut {
                    let end = meta.info(&tensor).map_or(0, |i| i.data_offsets.1);
                    return CheckpointError::OutOfRange {
                        file: path.into(),
                        tensor,
                        detail: format!(
                            "file truncated: its data ends at byte {end} of a data section of {available} bytes"
                        ),
                    };
                }
                meta.data_len()
            }
            Err(_) => 0,
        };
        return CheckpointError::Malformed {
            file: path.into(),
            field: "header".into(),
            detail: format!("data section is {available} bytes, the header describes {described}"),
        };
    }
    if let SafeTensorError::InvalidOffset(name) = e {
        // The header parsed; tell a range past the end from one that overlaps its neighbour.
        let n = header_len(bytes);
        let available = bytes.len().saturating_sub(8 + n);
        // (Metadata's own deserialiser refuses such a header, so read it as plain JSON.)
        let end = serde_json::from_slice::<serde_json::Value>(&bytes[8..8 + n])
            .ok()
            .and_then(|h| h.get(&name)?.get("data_offsets")?.get(1)?.as_u64())
            .map(|e| e as usize);
        let detail = match end {
            Some(end) if end > available => {
                format!("byte range ends at {end}, past the end of the data section ({available} bytes)")
            }
            _ => "byte range overlaps another tensor's or leaves a gap".into(),
        };
        return CheckpointError::OutOfRange { file: path.into(), tensor: name, detail };
    }
    CheckpointError::Malformed { file: path.into(), field: "header".into(), detail: e.to_string() }
}
