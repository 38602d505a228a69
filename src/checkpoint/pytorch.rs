//! `pytorch_model.bin` as written by `torch.save(state_dict)` since PyTorch 1.6: a zip holding
//! `<prefix>/data.pkl` (the pickled OrderedDict of name -> tensor, see `pickle.rs`) and one entry
//! `<prefix>/data/<key>` per storage with its raw little-endian bytes. Tensors are views
//! (storage, offset, shape, stride) into those storages; we copy each out contiguously as f32.

use super::dtype::FloatType;
use super::names::Collector;
use super::pickle::{self, PickleError, TensorRef, Value};
use super::zip::{self, Entry};
use super::{map_file, Checkpoint, CheckpointError, HostTensor, Notice, Result};
use std::path::Path;

/// Loads every tensor `BertModel` uses from a zip-format PyTorch checkpoint.
pub fn load_pytorch(path: impl AsRef<Path>) -> Result<(Checkpoint, Vec<Notice>)> {
    let path = path.as_ref();
    parse_pytorch(path, &map_file(path)?)
}

/// Reads a zip-format PyTorch checkpoint already in memory; `path` names it in errors.
pub fn parse_pytorch(path: &Path, bytes: &[u8]) -> Result<(Checkpoint, Vec<Notice>)> {
    if !bytes.starts_with(b"PK\x03\x04") {
        if bytes.first() == Some(&0x80) {
            // Pre-1.6 torch.save: pickles and raw storages back to back. Rare now; re-save instead.
            return Err(CheckpointError::Unsupported {
                file: path.into(),
                what:
                    "the legacy (pre-1.6, non-zip) torch.save format; re-save it with a recent torch or as safetensors"
                        .into(),
            });
        }
        return Err(CheckpointError::Malformed {
            file: path.into(),
            field: "zip directory".into(),
            detail: "not a zip archive".into(),
        });
    }
    let entries = zip::entries(path, bytes)?;

    // torch names the top folder after the file ("archive", "pytorch_model", ...): find it by data.pkl.
    let pkl_name = entries
        .keys()
        .filter(|n| *n == "data.pkl" || (n.ends_with("/data.pkl") && n.matches('/').count() == 1))
        .min()
        .cloned()
        .ok_or_else(|| CheckpointError::Malformed {
            file: path.into(),
            field: "zip directory".into(),
            detail: "no data.pkl entry".into(),
        })?;
    let prefix = &pkl_name[..pkl_name.len() - "data.pkl".len()];
    if let Some(order) = entries.get(&format!("{prefix}byteorder")) {
        if stored(path, bytes, &format!("{prefix}byteorder"), order)? != b"little" {
            return Err(CheckpointError::Unsupported { file: path.into(), what: "a big-endian checkpoint".into() });
        }
    }

    let pkl = stored(path, bytes, &pkl_name, &entries[&pkl_name])?;
    let root = pickle::unpickle(pkl).map_err(|e| match e {
        PickleError::Unsupported { opcode, offset } => {
            CheckpointError::UnsupportedOpcode { file: path.into(), opcode, offset }
        }
        PickleError::Malformed { offset, detail } => CheckpointError::Malformed {
            file: path.into(),
            field: pkl_name.clone(),
            detail: format!("{detail} at byte {offset}"),
        },
    })?;
    let items = state_dict(root).ok_or_else(|| CheckpointError::Malformed {
        file: path.into(),
        field: pkl_name.clone(),
        detail: "the pickle holds no state dict (a dict of tensors)".into(),
    })?;

    let mut out = Collector::new(path);
    for (key, value) in items {
        let Value::Str(raw) = key else {
            return Err(CheckpointError::Malformed {
                file: path.into(),
                field: pkl_name.clone(),
                detail: "a state dict key is not a string".into(),
            });
        };
        let Value::Tensor(t) = value else {
            out.skip(&raw, "non-tensor entries");
            continue;
        };
        if t.storage.kind == "LongStorage" {
            out.skip(&raw, "integer buffers");
            continue;
        }
        let Some(name) = out.wanted(&raw) else {
            continue;
        };
        let ty = match t.storage.kind.as_str() {
            "FloatStorage" => FloatType::F32,
            "HalfStorage" => FloatType::F16,
            "BFloat16Storage" => FloatType::BF16,
            "DoubleStorage" => FloatType::F64,
            other => {
                return Err(CheckpointError::UnsupportedDtype {
                    file: path.into(),
                    tensor: raw,
                    dtype: other.to_string(),
                })
            }
        };
        let entry_name = format!("{prefix}data/{}", t.storage.key);
        let entry = entries.get(&entry_name).ok_or_else(|| CheckpointError::Malformed {
            file: path.into(),
            field: "zip directory".into(),
            detail: format!("tensor {raw}: storage entry {entry_name} is missing"),
        })?;
        let storage = stored(path, bytes, &entry_name, entry)?;
        let tensor = gather(&t, ty, storage).map_err(|detail| CheckpointError::OutOfRange {
            file: path.into(),
            tensor: raw.clone(),
            detail,
        })?;
        out.insert(name, ty, tensor)?;
    }
    Ok(out.finish())
}

/// Unpickles a bare `data.pkl` as `parse_pytorch` does and counts its state dict's entries.
/// The fuzz target of the pickle reader (tools/fuzz): hostile bytes give an error, never a
/// panic, a hang or an allocation the input does not pay for.
pub fn parse_state_dict_pickle(bytes: &[u8]) -> std::result::Result<usize, String> {
    let root = pickle::unpickle(bytes).map_err(|e| format!("{e:?}"))?;
    state_dict(root).map(|items| items.len()).ok_or_else(|| "no state dict".to_string())
}

/// The entries of the state dict: the top object itself, or the dict under "state_dict"/"model"
/// for training checkpoints that wrap it.
fn state_dict(root: Value) -> Option<Vec<(Value, Value)>> {
    let Value::Dict(items) = root else {
        return None;
    };
    if items.iter().any(|(_, v)| matches!(v, Value::Tensor(_))) || items.is_empty() {
        return Some(items);
    }
    items.into_iter().find_map(|(k, v)| match (k, v) {
        (Value::Str(k), v @ Value::Dict(_)) if k == "state_dict" || k == "model" => state_dict(v),
        _ => None,
    })
}

/// The bytes of a STORED entry.
fn stored<'a>(path: &Path, bytes: &'a [u8], name: &str, e: &Entry) -> Result<&'a [u8]> {
    if e.method != 0 {
        return Err(CheckpointError::Unsupported {
            file: path.into(),
            what: format!("compressed zip entry {name} (method {})", e.method),
        });
    }
    Ok(&bytes[e.start..e.start + e.len])
}

/// Copies a strided view out of its storage into a contiguous tensor; the error says which bound broke.
fn gather(t: &TensorRef, ty: FloatType, storage: &[u8]) -> std::result::Result<HostTensor, String> {
    let es = ty.size();
    if t.shape.len() != t.stride.len() {
        return Err(format!("shape {:?} and stride {:?} differ in rank", t.shape, t.stride));
    }
    let available = (storage.len() / es).min(t.storage.numel);
    if t.storage.numel.checked_mul(es).is_none_or(|n| storage.len() < n) {
        return Err(format!(
            "storage holds {} bytes, its header says {} elements of {es} bytes",
            storage.len(),
            t.storage.numel
        ));
    }
    if t.shape.contains(&0) {
        return Ok(HostTensor::new(t.shape.clone(), Vec::new()));
    }
    // A state dict never holds expanded (stride-0) tensors, so a view larger than its storage is
    // corruption; checking it here also bounds the allocation below.
    let numel = t.shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    let Some(numel) = numel.filter(|&n| n <= available) else {
        return Err(format!("view of shape {:?} has more elements than its storage ({available})", t.shape));
    };
    // Last element touched: offset + Σ (size-1)·stride; it must lie inside the storage.
    let last =
        t.shape.iter().zip(&t.stride).try_fold(t.offset, |acc, (&n, &s)| acc.checked_add((n - 1).checked_mul(s)?));
    match last {
        Some(last) if last < available => {}
        _ => {
            return Err(format!(
                "view (offset {}, shape {:?}, stride {:?}) reaches past a storage of {available} elements",
                t.offset, t.shape, t.stride
            ))
        }
    }
    let contiguous: Vec<usize> = contiguous_strides(&t.shape);
    if t.stride == contiguous {
        let bytes = &storage[t.offset * es..(t.offset + numel) * es];
        return Ok(HostTensor::new(t.shape.clone(), ty.decode(bytes)));
    }
    // Non-contiguous (saved from a transpose or slice): walk the index odometer-style.
    let mut data = Vec::with_capacity(numel);
    let mut index = vec![0usize; t.shape.len()];
    for _ in 0..numel {
        let at = t.offset + index.iter().zip(&t.stride).map(|(i, s)| i * s).sum::<usize>();
        data.push(ty.decode_one(&storage[at * es..(at + 1) * es]));
        for d in (0..index.len()).rev() {
            index[d] += 1;
            if index[d] < t.shape[d] {
                break;
            }
            index[d] = 0;
        }
    }
    Ok(HostTensor::new(t.shape.clone(), data))
}

fn contiguous_strides(shape: &[usize]) -> Vec<usize> {
    let mut strides = vec![1; shape.len()];
    for d in (0..shape.len().saturating_sub(1)).rev() {
        strides[d] = strides[d + 1] * shape[d + 1];
    }
    strides
}
