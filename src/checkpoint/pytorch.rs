//! `pytorch_model.bin` as written by `torch.save(state_dict)` since PyTorch 1.6: a zip holding
//! `<prefix>/data.pkl` (the pickled OrderedDict of name -> tensor, see `pickle.rs`) and one entry
//! `<prefix>/data/<key>` per storage with its raw little-endian bytes. Tensors are views
//! (storage, offset, shape, stride) into those storages; we copy each out contiguously as f32.

use super::dtype::FloatType;
use super::files::map_file;
use super::names::Collector;
use super::pickle::{self, PickleError, TensorRef, Value};
use super::zip::{self, Entry};
use super::{Checkpoint, CheckpointError, HostTensor, Notice, Result};
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
    let storage = |tensor: &str, key: &str| {
        let entry_name = format!("{prefix}data/{key}");
        let entry = entries.get(&entry_name).ok_or_else(|| CheckpointError::Malformed {
            file: path.into(),
            field: "zip directory".into(),
            detail: format!("tensor {tensor}: storage entry {entry_name} is missing"),
        })?;
        stored(path, bytes, &entry_name, entry)
    };
    // Tensors may be views of one storage; the bytes they decode are bounded by the file's.
    collect(path, &pkl_name, pkl, storage, bytes.len())
}

/// Unpickles `pkl` (the zip's `pkl_name`) and gathers every tensor the model uses out of the
/// storage bytes `storage(tensor, key)` gives, decoding at most `budget` bytes in all.
fn collect<'a>(
    path: &Path,
    pkl_name: &str,
    pkl: &[u8],
    storage: impl Fn(&str, &str) -> Result<&'a [u8]>,
    budget: usize,
) -> Result<(Checkpoint, Vec<Notice>)> {
    let malformed = |detail: String| CheckpointError::Malformed { file: path.into(), field: pkl_name.into(), detail };
    let root = pickle::unpickle(pkl).map_err(|e| match e {
        PickleError::Unsupported { opcode, offset } => {
            CheckpointError::UnsupportedOpcode { file: path.into(), opcode, offset }
        }
        PickleError::Malformed { offset, detail } => malformed(format!("{detail} at byte {offset}")),
    })?;
    let items = state_dict(root, pickle::MAX_DEPTH)
        .ok_or_else(|| malformed("the pickle holds no state dict (a dict of tensors)".into()))?;

    let mut out = Collector::new(path).with_budget(budget as u64);
    for (key, value) in items {
        let Value::Str(raw) = key else {
            return Err(malformed("a state dict key is not a string".into()));
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
        let bytes = storage(&raw, &t.storage.key)?;
        let out_of_range = |detail| CheckpointError::OutOfRange { file: path.into(), tensor: raw.clone(), detail };
        let numel = check_view(&t, ty, bytes).map_err(out_of_range)?;
        out.pay(&raw, (numel * ty.size()) as u64)?;
        out.insert(name, ty, gather(&t, ty, bytes, numel))?;
    }
    Ok(out.finish())
}

/// Unpickles a bare `data.pkl` as `parse_pytorch` does and gathers its tensors out of zeroed
/// storages (64 KiB each). The fuzz target of the pickle reader (tools/fuzz): hostile bytes give
/// an error, never a panic, a hang or an allocation the input does not pay for.
pub fn parse_state_dict_pickle(bytes: &[u8]) -> Result<(Checkpoint, Vec<Notice>)> {
    let zeros = vec![0u8; 64 << 10];
    let path = Path::new("data.pkl");
    collect(path, "data.pkl", bytes, |_, _| Ok(&zeros[..]), 16 * zeros.len())
}

/// The entries of the state dict: the top object itself, or the dict under "state_dict"/"model"
/// for training checkpoints that wrap it.
fn state_dict(root: Value, depth: usize) -> Option<Vec<(Value, Value)>> {
    let Value::Dict(items) = root else {
        return None;
    };
    if items.iter().any(|(_, v)| matches!(v, Value::Tensor(_))) || items.is_empty() {
        return Some(items);
    }
    items.into_iter().find_map(|(k, v)| match (k, v) {
        (Value::Str(k), v @ Value::Dict(_)) if k == "state_dict" || k == "model" => {
            state_dict(v, depth.checked_sub(1)?)
        }
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

/// Tensors of more dimensions are corruption (torch allows 64); each gathered element walks
/// every dimension.
const MAX_RANK: usize = 64;

/// Checks a strided view against its storage and returns its element count; the error says
/// which bound broke.
fn check_view(t: &TensorRef, ty: FloatType, storage: &[u8]) -> std::result::Result<usize, String> {
    let es = ty.size();
    if t.shape.len() != t.stride.len() {
        return Err(format!("shape {:?} and stride {:?} differ in rank", t.shape, t.stride));
    }
    if t.shape.len() > MAX_RANK {
        return Err(format!("{} dimensions (at most {MAX_RANK})", t.shape.len()));
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
        return Ok(0);
    }
    // A state dict never holds expanded (stride-0) tensors, so a view larger than its storage is
    // corruption; checking it here also bounds the allocation in `gather`.
    let numel = t.shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    let Some(numel) = numel.filter(|&n| n <= available) else {
        return Err(format!("view of shape {:?} has more elements than its storage ({available})", t.shape));
    };
    // Last element touched: offset + Σ (size-1)·stride; it must lie inside the storage.
    let last =
        t.shape.iter().zip(&t.stride).try_fold(t.offset, |acc, (&n, &s)| acc.checked_add((n - 1).checked_mul(s)?));
    match last {
        Some(last) if last < available => Ok(numel),
        _ => Err(format!(
            "view (offset {}, shape {:?}, stride {:?}) reaches past a storage of {available} elements",
            t.offset, t.shape, t.stride
        )),
    }
}

/// Copies a view `check_view` accepted (of `numel` elements) out of its storage into a
/// contiguous tensor.
fn gather(t: &TensorRef, ty: FloatType, storage: &[u8], numel: usize) -> HostTensor {
    let es = ty.size();
    if numel == 0 {
        return HostTensor::new(t.shape.clone(), Vec::new());
    }
    if t.stride == contiguous_strides(&t.shape) {
        let bytes = &storage[t.offset * es..(t.offset + numel) * es];
        return HostTensor::new(t.shape.clone(), ty.decode(bytes));
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
    HostTensor::new(t.shape.clone(), data)
}

fn contiguous_strides(shape: &[usize]) -> Vec<usize> {
    let mut strides = vec![1; shape.len()];
    for d in (0..shape.len().saturating_sub(1)).rev() {
        strides[d] = strides[d + 1] * shape[d + 1];
    }
    strides
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(p: &mut Vec<u8>, s: &str) {
        p.push(b'X');
        p.extend((s.len() as u32).to_le_bytes());
        p.extend(s.as_bytes());
    }

    fn int(p: &mut Vec<u8>, v: u32) {
        p.push(b'J');
        p.extend(v.to_le_bytes());
    }

    fn ints(p: &mut Vec<u8>, v: &[u32]) {
        p.push(b'(');
        v.iter().for_each(|&x| int(p, x));
        p.push(b't');
    }

    /// A state dict of `names`, all the same tensor (memo 0): a view of `shape` over one storage
    /// of `numel` floats.
    fn shared_views(names: &[&str], numel: u32, shape: &[u32]) -> Vec<u8> {
        let mut p = vec![0x80, 2, b'}', b'('];
        for (i, name) in names.iter().enumerate() {
            text(&mut p, name);
            if i > 0 {
                p.extend([b'h', 0]);
                continue;
            }
            p.extend(b"ctorch._utils\n_rebuild_tensor_v2\n((");
            text(&mut p, "storage");
            p.extend(b"ctorch\nFloatStorage\n");
            text(&mut p, "0");
            text(&mut p, "cpu");
            int(&mut p, numel);
            p.extend(b"tQ");
            int(&mut p, 0); // offset
            ints(&mut p, shape);
            let mut stride = vec![1; shape.len()];
            for d in (0..shape.len().saturating_sub(1)).rev() {
                stride[d] = stride[d + 1] * shape[d + 1];
            }
            ints(&mut p, &stride);
            p.extend(b"\x89ccollections\nOrderedDict\n)RtRq\x00");
        }
        p.extend(b"u.");
        p
    }

    fn read(pkl: &[u8], storage: &[u8], budget: usize) -> Result<(Checkpoint, Vec<Notice>)> {
        collect(Path::new("p.bin"), "archive/data.pkl", pkl, |_, _| Ok(storage), budget)
    }

    #[test]
    fn views_of_one_storage_decode_no_more_than_the_file_holds() {
        let storage = [0u8; 64]; // 16 floats
        let names = ["encoder.a.weight", "encoder.b.weight", "encoder.c.weight", "encoder.d.weight"];
        let pkl = shared_views(&names, 16, &[4, 4]);
        // Each name is the whole storage: two fit a 128-byte file, four do not.
        assert_eq!(read(&pkl, &storage, 256).unwrap().0.len(), 4);
        let e = read(&pkl, &storage, 128).unwrap_err();
        assert!(
            matches!(&e, CheckpointError::OutOfRange { tensor, detail, .. }
                if tensor == "encoder.c.weight" && detail.contains("they overlap")),
            "{e}"
        );
    }

    #[test]
    fn a_tensor_of_too_many_dimensions_is_refused() {
        let storage = [0u8; 4];
        let ok = shared_views(&["encoder.x.weight"], 1, &[1; MAX_RANK]);
        assert!(read(&ok, &storage, 4).is_ok());
        let pkl = shared_views(&["encoder.x.weight"], 1, &[1; MAX_RANK + 1]);
        let e = read(&pkl, &storage, 4).unwrap_err().to_string();
        assert!(e.contains("65 dimensions (at most 64)"), "{e}");
    }
}
