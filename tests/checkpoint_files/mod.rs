//! Checkpoint files written byte by byte, for the loader tests: safetensors, a PyTorch zip
//! (its pickle and storage), and a TensorFlow bundle index, each with exactly the fields the
//! readers look at, so that a test can break one of them.

use std::path::Path;

/// Writes a safetensors file by hand: (name, dtype, shape, raw bytes).
pub fn write_safetensors(path: &Path, tensors: &[(&str, &str, Vec<usize>, Vec<u8>)]) {
    let mut header = serde_json::Map::new();
    let mut data = Vec::new();
    for (name, dtype, shape, bytes) in tensors {
        let start = data.len();
        data.extend_from_slice(bytes);
        header.insert(
            name.to_string(),
            serde_json::json!({"dtype": dtype, "shape": shape, "data_offsets": [start, data.len()]}),
        );
    }
    let header = serde_json::to_vec(&header).unwrap();
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend(header);
    out.extend(data);
    std::fs::write(path, out).unwrap();
}

pub fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Writes a zip of STORED entries (CRCs left 0: the reader does not check them).
pub fn write_zip(path: &Path, entries: &[(&str, &[u8])], method: u16) {
    let (mut out, mut central) = (Vec::new(), Vec::new());
    for (name, data) in entries {
        let offset = out.len() as u32;
        let fixed = |sig: u32, v: &mut Vec<u8>| {
            v.extend(sig.to_le_bytes());
            if sig == 0x0201_4b50 {
                v.extend(20u16.to_le_bytes()); // version made by
            }
            v.extend(20u16.to_le_bytes()); // version needed
            v.extend(0u16.to_le_bytes()); // flags
            v.extend(method.to_le_bytes());
            v.extend([0u8; 8]); // time, date, crc
            v.extend((data.len() as u32).to_le_bytes());
            v.extend((data.len() as u32).to_le_bytes());
            v.extend((name.len() as u16).to_le_bytes());
            v.extend(0u16.to_le_bytes()); // extra
        };
        fixed(0x0403_4b50, &mut out);
        out.extend(name.as_bytes());
        out.extend(*data);
        fixed(0x0201_4b50, &mut central);
        central.extend([0u8; 10]); // comment len, disk, internal and external attributes
        central.extend(offset.to_le_bytes());
        central.extend(name.as_bytes());
    }
    let dir_at = out.len() as u32;
    out.extend(&central);
    out.extend(0x0605_4b50u32.to_le_bytes());
    out.extend([0u8; 4]);
    out.extend((entries.len() as u16).to_le_bytes());
    out.extend((entries.len() as u16).to_le_bytes());
    out.extend((central.len() as u32).to_le_bytes());
    out.extend(dir_at.to_le_bytes());
    out.extend(0u16.to_le_bytes());
    std::fs::write(path, out).unwrap();
}

/// A pickle of `{name: _rebuild_tensor_v2(storage('0', numel), offset, shape, stride)}` as torch.save
/// writes it; `extra` is spliced in just before STOP (to plant a bad opcode).
pub fn state_dict_pickle(
    name: &str,
    storage: &str,
    numel: u32,
    offset: u32,
    shape: &[u32],
    stride: &[u32],
    extra: &[u8],
) -> Vec<u8> {
    let mut p = vec![0x80, 2, b'}', b'('];
    let s = |p: &mut Vec<u8>, s: &str| {
        p.push(b'X');
        p.extend((s.len() as u32).to_le_bytes());
        p.extend(s.as_bytes());
    };
    let int = |p: &mut Vec<u8>, v: u32| {
        p.push(b'J');
        p.extend(v.to_le_bytes());
    };
    s(&mut p, name);
    p.extend(b"ctorch._utils\n_rebuild_tensor_v2\n((");
    s(&mut p, "storage");
    p.extend(format!("ctorch\n{storage}\n").as_bytes());
    s(&mut p, "0");
    s(&mut p, "cpu");
    int(&mut p, numel);
    p.extend(b"tQ");
    int(&mut p, offset);
    p.push(b'(');
    shape.iter().for_each(|&d| int(&mut p, d));
    p.extend(b"t(");
    stride.iter().for_each(|&d| int(&mut p, d));
    p.extend(b"t\x89ccollections\nOrderedDict\n)RtRu");
    p.extend(extra);
    p.push(b'.');
    p
}

/// A one-tensor pytorch_model.bin.
pub fn write_pytorch(path: &Path, pickle: &[u8], storage: &[u8]) {
    write_zip(path, &[("archive/data.pkl", pickle), ("archive/byteorder", b"little"), ("archive/data/0", storage)], 0);
}

pub fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A BundleEntryProto: dtype, shape, offset, size.
pub fn bundle_entry(dtype: u64, shape: &[u64], offset: u64, size: u64) -> Vec<u8> {
    let mut shape_proto = Vec::new();
    for &d in shape {
        let mut dim = vec![0x08];
        varint(d, &mut dim);
        shape_proto.push(0x12);
        varint(dim.len() as u64, &mut shape_proto);
        shape_proto.extend(dim);
    }
    let mut e = vec![0x08];
    varint(dtype, &mut e);
    e.push(0x12);
    varint(shape_proto.len() as u64, &mut e);
    e.extend(shape_proto);
    e.push(0x20);
    varint(offset, &mut e);
    e.push(0x28);
    varint(size, &mut e);
    e
}

/// Writes `<prefix>.index`: one data block (header entry + `entries`, keys sorted), an index
/// block pointing at it, an empty metaindex block, and the footer. `compression` goes in the
/// data block's trailer.
pub fn write_bundle_index(prefix: &Path, entries: &[(&str, Vec<u8>)], compression: u8) {
    let block = |kvs: &[(Vec<u8>, Vec<u8>)]| {
        let mut b = Vec::new();
        for (k, v) in kvs {
            varint(0, &mut b); // shared prefix: none
            varint(k.len() as u64, &mut b);
            varint(v.len() as u64, &mut b);
            b.extend(k);
            b.extend(v);
        }
        b.extend(0u32.to_le_bytes()); // one restart point at 0
        b.extend(1u32.to_le_bytes());
        b
    };
    let mut kvs = vec![(Vec::new(), vec![0x08, 0x01])]; // "" -> BundleHeaderProto{num_shards: 1}
    kvs.extend(entries.iter().map(|(k, v)| (k.as_bytes().to_vec(), v.clone())));
    let mut out = Vec::new();
    let data = block(&kvs);
    let data_handle = (0u64, data.len() as u64);
    out.extend(&data);
    out.extend([compression, 0, 0, 0, 0]);
    let meta = block(&[]);
    let meta_handle = (out.len() as u64, meta.len() as u64);
    out.extend(&meta);
    out.extend([0u8; 5]);
    let mut handle = Vec::new();
    varint(data_handle.0, &mut handle);
    varint(data_handle.1, &mut handle);
    let index = block(&[(b"zzzz".to_vec(), handle)]);
    let index_handle = (out.len() as u64, index.len() as u64);
    out.extend(&index);
    out.extend([0u8; 5]);
    let mut footer = Vec::new();
    for v in [meta_handle.0, meta_handle.1, index_handle.0, index_handle.1] {
        varint(v, &mut footer);
    }
    footer.resize(40, 0);
    footer.extend(0xdb47_7524_8b80_fb57u64.to_le_bytes());
    out.extend(footer);
    std::fs::write(format!("{}.index", prefix.display()), out).unwrap();
}
