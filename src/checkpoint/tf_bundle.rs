//! Google's original BERT release: a TensorFlow "tensor bundle" checkpoint.
//!
//! `<prefix>.index` is a LevelDB-format SSTable mapping each variable name to a `BundleEntryProto`
//! (dtype, shape, shard, offset, size); the empty key holds a `BundleHeaderProto` (shard count,
//! endianness). `<prefix>.data-NNNNN-of-MMMMM` holds the raw little-endian tensor bytes.
//! Variable names are mapped to Hugging Face's (`bert/encoder/layer_0/attention/self/query/kernel`
//! -> `encoder.layer.0.attention.self.query.weight`), dense kernels transposed from TF's [in, out]
//! to PyTorch's [out, in]. Optimizer slots and `global_step` are skipped, `cls/*` heads listed unused.

use super::dtype::FloatType;
use super::files::{map_file, read_file};
use super::names::Collector;
use super::{Checkpoint, CheckpointError, HostTensor, Notice, Result};
use std::collections::hash_map::Entry::{Occupied, Vacant};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Loads a bundle given its prefix (`dir/bert_model.ckpt`) or its `.index` file.
pub fn load_tf_bundle(prefix: impl AsRef<Path>) -> Result<(Checkpoint, Vec<Notice>)> {
    let prefix = prefix.as_ref().to_string_lossy();
    let prefix = prefix.strip_suffix(".index").unwrap_or(&prefix).to_string();
    let index = read_file(Path::new(&format!("{prefix}.index")))?;
    parse_bundle(&prefix, &index, map_file)
}

/// Reads a bundle whose index is in memory and whose data shard is `data`, named as though they
/// were `bert_model.ckpt.index` and `bert_model.ckpt.data-00000-of-00001`. The fuzz target of
/// the bundle reader (tools/fuzz).
pub fn parse_tf_bundle(index: &[u8], data: &[u8]) -> Result<(Checkpoint, Vec<Notice>)> {
    parse_bundle("bert_model.ckpt", index, |p| match p.to_str() {
        Some("bert_model.ckpt.data-00000-of-00001") => Ok(data),
        _ => Err(CheckpointError::MissingFile { path: p.into() }),
    })
}

/// The reader: `index` is `<prefix>.index`; `open` gives a data shard's bytes by its path.
fn parse_bundle<D: AsRef<[u8]>>(
    prefix: &str,
    index: &[u8],
    open: impl Fn(&Path) -> Result<D>,
) -> Result<(Checkpoint, Vec<Notice>)> {
    let index_path = PathBuf::from(format!("{prefix}.index"));
    let bad = |field: &str, detail: String| CheckpointError::Malformed {
        file: index_path.clone(),
        field: field.into(),
        detail,
    };

    let entries = sstable_entries(&index_path, index)?;
    let mut num_shards = 1;
    // Entries could all point at one region of a shard: what they decode is bounded by the
    // shards' length (each added as it is opened).
    let mut out = Collector::new(&index_path).with_budget(0);
    let mut shards: HashMap<u64, (PathBuf, D)> = HashMap::new();
    for (key, value) in entries {
        if key.is_empty() {
            // BundleHeaderProto: 1 num_shards, 2 endianness (0 = little).
            let header = fields(value).map_err(|d| bad("BundleHeaderProto", d))?;
            num_shards = header.varint(1).unwrap_or(1);
            if header.varint(2).unwrap_or(0) != 0 {
                return Err(CheckpointError::Unsupported {
                    file: index_path.clone(),
                    what: "a big-endian tensor bundle".into(),
                });
            }
            continue;
        }
        let raw = String::from_utf8_lossy(&key).into_owned();
        let (name, transpose) = match map_tf_name(&raw) {
            TfName::Param { name, transpose } => (name, transpose),
            TfName::Skip(reason) => {
                out.skip(&raw, reason);
                continue;
            }
            TfName::Unused => {
                out.unused(&raw);
                continue;
            }
        };
        let Some(name) = out.wanted(&name) else {
            continue;
        };

        let e = BundleEntry::parse(value).map_err(|d| bad(&format!("BundleEntryProto of {raw}"), d))?;
        let ty = match e.dtype {
            1 => FloatType::F32,
            2 => FloatType::F64,
            14 => FloatType::BF16,
            19 => FloatType::F16,
            other => {
                return Err(CheckpointError::UnsupportedDtype {
                    file: index_path.clone(),
                    tensor: raw,
                    dtype: tf_dtype_name(other),
                })
            }
        };
        if e.has_slices {
            return Err(CheckpointError::Unsupported {
                file: index_path.clone(),
                what: format!("partitioned variable {raw}"),
            });
        }
        let bytes_needed = e.shape.iter().try_fold(ty.size() as u64, |acc, &d| acc.checked_mul(d));
        if bytes_needed != Some(e.size) {
            return Err(bad(
                &format!("BundleEntryProto of {raw}"),
                format!("{} bytes do not hold shape {:?} of {}", e.size, e.shape, ty.name()),
            ));
        }

        // Shards are mapped on first use; Google's releases have one.
        let (data_path, data) = match shards.entry(e.shard_id) {
            Occupied(o) => o.into_mut(),
            Vacant(v) => {
                let p = PathBuf::from(format!("{prefix}.data-{:05}-of-{:05}", e.shard_id, num_shards));
                let m = open(&p)?;
                out.add_budget(m.as_ref().len() as u64);
                v.insert((p, m))
            }
        };
        let data = data.as_ref();
        let Some(bytes) = e
            .offset
            .checked_add(e.size)
            .filter(|&end| end <= data.len() as u64)
            .map(|end| &data[e.offset as usize..end as usize])
        else {
            return Err(CheckpointError::OutOfRange {
                file: data_path.clone(),
                tensor: raw,
                detail: format!(
                    "bytes {}..{} lie past the end of a {}-byte file (truncated?)",
                    e.offset,
                    e.offset.saturating_add(e.size),
                    data.len()
                ),
            });
        };
        out.pay(&raw, e.size)?;
        let shape: Vec<usize> = e.shape.iter().map(|&d| d as usize).collect();
        let tensor = HostTensor::new(shape, ty.decode(bytes));
        out.insert(name, ty, if transpose { transpose_2d(tensor) } else { tensor })?;
    }
    Ok(out.finish())
}

enum TfName {
    /// A parameter we keep, under its Hugging Face name; `transpose` for dense kernels.
    Param { name: String, transpose: bool },
    /// Not a parameter: training state.
    Skip(&'static str),
    /// A parameter of a head we do not use (`cls/predictions/*`, `cls/seq_relationship/*`).
    Unused,
}

/// Maps a variable name of Google's BERT (`modeling.py`, `run_classifier.py`) to Hugging Face's.
fn map_tf_name(var: &str) -> TfName {
    const TRAINING: &str = "training state (global_step, optimizer slots)";
    let last = var.rsplit('/').next().unwrap_or(var);
    if var == "global_step"
        || var.starts_with('_')
        || matches!(last, "adam_m" | "adam_v" | "Adam" | "Adam_1" | "beta1_power" | "beta2_power")
    {
        return TfName::Skip(TRAINING);
    }
    // run_classifier.py's head: output_weights is [num_labels, hidden] and used with transpose_b,
    // so it is already PyTorch's [out, in].
    match var {
        "output_weights" => return TfName::Param { name: "classifier.weight".into(), transpose: false },
        "output_bias" => return TfName::Param { name: "classifier.bias".into(), transpose: false },
        _ => {}
    }
    let Some(rest) = var.strip_prefix("bert/") else {
        return TfName::Unused;
    };
    let mut parts: Vec<String> = rest
        .split('/')
        .map(|p| match p.strip_prefix("layer_") {
            Some(n) if n.parse::<usize>().is_ok() => format!("layer.{n}"),
            _ => p.to_string(),
        })
        .collect();
    let mut transpose = false;
    match parts.last().map(String::as_str) {
        Some("kernel") => {
            *parts.last_mut().expect("non-empty") = "weight".into();
            transpose = true;
        }
        Some("gamma") => *parts.last_mut().expect("non-empty") = "weight".into(),
        Some("beta") => *parts.last_mut().expect("non-empty") = "bias".into(),
        // Embedding tables are bare variables in TF: bert/embeddings/word_embeddings.
        Some(p) if p.ends_with("_embeddings") => parts.push("weight".into()),
        _ => {}
    }
    TfName::Param { name: parts.join("."), transpose }
}

fn transpose_2d(t: HostTensor) -> HostTensor {
    let [rows, cols] = t.shape[..] else { return t };
    let mut data = vec![0.0; t.data.len()];
    for r in 0..rows {
        for c in 0..cols {
            data[c * rows + r] = t.data[r * cols + c];
        }
    }
    HostTensor::new(vec![cols, rows], data)
}

fn tf_dtype_name(code: u64) -> String {
    let name = match code {
        3 => "DT_INT32",
        4 => "DT_UINT8",
        5 => "DT_INT16",
        6 => "DT_INT8",
        7 => "DT_STRING",
        8 => "DT_COMPLEX64",
        9 => "DT_INT64",
        10 => "DT_BOOL",
        _ => return format!("DataType {code}"),
    };
    name.to_string()
}

/// The fields of a `BundleEntryProto` we use.
struct BundleEntry {
    dtype: u64,
    shape: Vec<u64>,
    shard_id: u64,
    offset: u64,
    size: u64,
    has_slices: bool,
}

impl BundleEntry {
    /// Fields: 1 dtype, 2 shape (TensorShapeProto: repeated 2 dim { 1 size }), 3 shard_id,
    /// 4 offset, 5 size, 6 crc32c (unchecked), 7 slices.
    fn parse(bytes: &[u8]) -> std::result::Result<Self, String> {
        let f = fields(bytes)?;
        let mut shape = Vec::new();
        if let Some(shape_proto) = f.bytes(2) {
            for dim in fields(shape_proto)?.all_bytes(2) {
                let size = fields(dim)?.varint(1).unwrap_or(0);
                // int64 -1 (unknown) arrives as a huge varint; a saved variable never has one.
                if size > u32::MAX as u64 {
                    return Err(format!("dimension {} is not a size", size as i64));
                }
                shape.push(size);
            }
        }
        Ok(BundleEntry {
            dtype: f.varint(1).unwrap_or(0),
            shape,
            shard_id: f.varint(3).unwrap_or(0),
            offset: f.varint(4).unwrap_or(0),
            size: f.varint(5).unwrap_or(0),
            has_slices: f.bytes(7).is_some(),
        })
    }
}

// ---- protobuf wire format: just varints and length-delimited fields ----

enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

struct Fields<'a>(Vec<(u64, Field<'a>)>);

impl<'a> Fields<'a> {
    fn varint(&self, n: u64) -> Option<u64> {
        self.0.iter().rev().find_map(|(k, f)| match f {
            Field::Varint(v) if *k == n => Some(*v),
            _ => None,
        })
    }
    fn bytes(&self, n: u64) -> Option<&'a [u8]> {
        self.all_bytes(n).last().copied()
    }
    fn all_bytes(&self, n: u64) -> Vec<&'a [u8]> {
        self.0
            .iter()
            .filter_map(|(k, f)| match f {
                Field::Bytes(b) if *k == n => Some(*b),
                _ => None,
            })
            .collect()
    }
}

/// Splits one protobuf message into (field number, value) pairs.
fn fields(mut b: &[u8]) -> std::result::Result<Fields<'_>, String> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let tag = varint(&mut b)?;
        let value = match tag & 7 {
            0 => Field::Varint(varint(&mut b)?),
            1 | 5 => {
                let n = if tag & 7 == 1 { 8 } else { 4 };
                b = b.get(n..).ok_or("fixed field runs past the message")?;
                Field::Fixed
            }
            2 => {
                let n = varint(&mut b)? as usize;
                let v = b.get(..n).ok_or("length-delimited field runs past the message")?;
                b = &b[n..];
                Field::Bytes(v)
            }
            w => return Err(format!("wire type {w} is not supported")),
        };
        out.push((tag >> 3, value));
    }
    Ok(Fields(out))
}

fn varint(b: &mut &[u8]) -> std::result::Result<u64, String> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = b.split_first().ok_or("varint runs past the end")?;
        *b = rest;
        v |= ((byte & 0x7f) as u64) << shift;
        if byte & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err("varint longer than 10 bytes".into())
}

// ---- SSTable (LevelDB table format, as TF's tensorflow/core/lib/io/table) ----

const FOOTER_LEN: usize = 48;
const TABLE_MAGIC: u64 = 0xdb47_7524_8b80_fb57;

/// Key bytes a table may spell out per byte of it (and in all, for small ones): prefix
/// compression lets a 3-byte entry repeat the whole previous key, so a hostile table could
/// otherwise ask for its length squared.
const KEY_BYTES_PER_BYTE: usize = 16;
const KEY_BYTES_FLOOR: usize = 1 << 20;

/// All (key, value) pairs of the table, in key order: the footer points at the index block, whose
/// values point at the data blocks.
fn sstable_entries<'t>(file: &Path, t: &'t [u8]) -> Result<Vec<(Vec<u8>, &'t [u8])>> {
    let bad =
        |field: &str, detail: String| CheckpointError::Malformed { file: file.into(), field: field.into(), detail };
    if t.len() < FOOTER_LEN || u64::from_le_bytes(t[t.len() - 8..].try_into().expect("8 bytes")) != TABLE_MAGIC {
        return Err(bad("SSTable footer", "missing table magic (not a tensor bundle index, or truncated)".into()));
    }
    // Footer: metaindex handle, index handle (each two varints), padding, magic.
    let mut footer = &t[t.len() - FOOTER_LEN..];
    let handle = |b: &mut &[u8]| -> std::result::Result<(usize, usize), String> {
        Ok((varint(b)? as usize, varint(b)? as usize))
    };
    let _metaindex = handle(&mut footer).map_err(|d| bad("SSTable footer", d))?;
    let index_handle = handle(&mut footer).map_err(|d| bad("SSTable footer", d))?;

    let mut key_budget = t.len().saturating_mul(KEY_BYTES_PER_BYTE).saturating_add(KEY_BYTES_FLOOR);
    let mut out = Vec::new();
    // Data blocks lie in file order, one after another; a block listed twice (or overlapping
    // another) would be decoded twice.
    let mut next_free = 0;
    for (_, h) in block_entries(file, t, index_handle, &mut key_budget)? {
        let (offset, size) = handle(&mut &h[..]).map_err(|d| bad("SSTable index block", d))?;
        if offset < next_free {
            return Err(bad(
                "SSTable index block",
                format!("data block at byte {offset} overlaps the one before it (ending at byte {next_free})"),
            ));
        }
        next_free = offset.saturating_add(size);
        out.extend(block_entries(file, t, (offset, size), &mut key_budget)?);
    }
    Ok(out)
}

/// Decodes one block: prefix-compressed entries, then a restart array we do not need (we read
/// sequentially), then a 5-byte trailer (compression type, CRC). The keys it spells out are
/// taken from `key_budget`.
fn block_entries<'t>(
    file: &Path,
    t: &'t [u8],
    (offset, size): (usize, usize),
    key_budget: &mut usize,
) -> Result<Vec<(Vec<u8>, &'t [u8])>> {
    let bad = |detail: String| CheckpointError::Malformed {
        file: file.into(),
        field: format!("SSTable block at byte {offset}"),
        detail,
    };
    let end = offset
        .checked_add(size)
        .filter(|&e| t.len().checked_sub(5).is_some_and(|max| e <= max))
        .ok_or_else(|| bad(format!("{size} bytes run past the end of the file")))?;
    match t[end] {
        0 => {}
        1 => {
            return Err(CheckpointError::Unsupported {
                file: file.into(),
                what: "a snappy-compressed index block (TF writes them uncompressed)".into(),
            })
        }
        c => {
            return Err(CheckpointError::Unsupported {
                file: file.into(),
                what: format!("index block compression type {c}"),
            })
        }
    }
    let block = &t[offset..end];
    if block.len() < 4 {
        return Err(bad("block shorter than its restart count".into()));
    }
    let restarts = u32::from_le_bytes(block[block.len() - 4..].try_into().expect("4 bytes")) as usize;
    let data_end = restarts
        .checked_mul(4)
        .and_then(|r| block.len().checked_sub(4 + r))
        .ok_or_else(|| bad("restart array larger than the block".into()))?;

    let mut b = &block[..data_end];
    let mut key: Vec<u8> = Vec::new();
    let mut out = Vec::new();
    while !b.is_empty() {
        let (shared, unshared, value_len) = (varint(&mut b), varint(&mut b), varint(&mut b));
        let (Ok(shared), Ok(unshared), Ok(value_len)) = (shared, unshared, value_len) else {
            return Err(bad("entry header runs past the block".into()));
        };
        let (shared, unshared, value_len) = (shared as usize, unshared as usize, value_len as usize);
        if shared > key.len() || unshared.checked_add(value_len).is_none_or(|n| n > b.len()) {
            return Err(bad("entry runs past the block".into()));
        }
        key.truncate(shared);
        key.extend_from_slice(&b[..unshared]);
        *key_budget = key_budget.checked_sub(key.len()).ok_or_else(|| {
            bad(format!("its keys spell out more bytes than {KEY_BYTES_PER_BYTE} per byte of the file"))
        })?;
        out.push((key.clone(), &b[unshared..unshared + value_len]));
        b = &b[unshared + value_len..];
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put_varint(mut v: usize, out: &mut Vec<u8>) {
        while v >= 0x80 {
            out.push(v as u8 | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }

    /// A block of (shared, key suffix, value) entries with its restart array.
    fn block(entries: &[(usize, &[u8], &[u8])]) -> Vec<u8> {
        let mut b = Vec::new();
        for (shared, key, value) in entries {
            for n in [*shared, key.len(), value.len()] {
                put_varint(n, &mut b);
            }
            b.extend(*key);
            b.extend(*value);
        }
        b.extend(0u32.to_le_bytes());
        b.extend(1u32.to_le_bytes());
        b
    }

    /// A table of one data block, listed by the index block once per handle in `listed`.
    fn table(data: &[u8], listed: usize) -> Vec<u8> {
        let mut t = data.to_vec();
        t.extend([0u8; 5]);
        let mut handle = Vec::new();
        put_varint(0, &mut handle);
        put_varint(data.len(), &mut handle);
        let index = block(&vec![(0, &b"k"[..], &handle[..]); listed]);
        let index_at = t.len();
        t.extend(&index);
        t.extend([0u8; 5]);
        let mut footer = vec![0, 0];
        put_varint(index_at, &mut footer);
        put_varint(index.len(), &mut footer);
        footer.resize(40, 0);
        footer.extend(TABLE_MAGIC.to_le_bytes());
        t.extend(footer);
        t
    }

    #[test]
    fn a_data_block_listed_twice_is_refused() {
        let data = block(&[(0, b"a", b"1"), (0, b"b", b"2")]);
        assert_eq!(sstable_entries(Path::new("x.index"), &table(&data, 1)).unwrap().len(), 2);
        let e = sstable_entries(Path::new("x.index"), &table(&data, 2)).unwrap_err().to_string();
        assert!(e.contains("overlaps the one before it"), "{e}");
    }

    #[test]
    fn keys_that_repeat_their_prefix_are_bounded_by_the_file() {
        // One 60 KB key, then 3-byte entries that repeat all of it: 1.2 GB of keys unchecked.
        let long = vec![b'k'; 60_000];
        let mut entries: Vec<(usize, &[u8], &[u8])> = vec![(0, &long, b"")];
        entries.extend(std::iter::repeat_n((60_000, &b""[..], &b""[..]), 20_000));
        let t = table(&block(&entries), 1);
        let e = sstable_entries(Path::new("x.index"), &t).unwrap_err().to_string();
        assert!(e.contains("keys spell out more bytes than 16 per byte"), "{e}");
    }
}
