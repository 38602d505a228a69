//! A minimal zip reader for the archives `torch.save` writes: the central directory is read to find
//! each entry's local header, and entries must be STORED (method 0), which torch always uses so that
//! tensor bytes can be mapped in place. ZIP64 fields are understood (files over 4 GiB).
//! CRCs are not checked: a 400 MB model would spend longer hashing than decoding.
//!
//! And its writer, `write_stored`: an exported model as one download in the browser. Stored
//! too (safetensors' f32 bytes hardly compress), with CRCs, since unzip tools check them.

use super::{CheckpointError, Result};
use std::collections::HashMap;
use std::path::Path;

/// Where one entry's bytes lie in the archive.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub start: usize,
    pub len: usize,
    /// 0 = stored; anything else is compressed and refused when read.
    pub method: u16,
}

const EOCD: u32 = 0x0605_4b50;
const EOCD64_LOCATOR: u32 = 0x0706_4b50;
const EOCD64: u32 = 0x0606_4b50;
const CENTRAL: u32 = 0x0201_4b50;
const LOCAL: u32 = 0x0403_4b50;

/// Lists the entries of a zip archive held in `bytes`, by name.
pub(crate) fn entries(file: &Path, bytes: &[u8]) -> Result<HashMap<String, Entry>> {
    let bad = |detail: &str| CheckpointError::Malformed {
        file: file.into(),
        field: "zip directory".into(),
        detail: detail.into(),
    };
    let r = Bytes(bytes);

    // The end-of-central-directory record is 22 bytes plus a comment of up to 64 KiB; search back.
    let lowest = bytes.len().saturating_sub(22 + 0xFFFF);
    let eocd = (lowest..=bytes.len().saturating_sub(22))
        .rev()
        .find(|&i| r.u32(i) == Some(EOCD))
        .ok_or_else(|| bad("no end-of-central-directory record (file truncated?)"))?;
    let mut count = r.u16(eocd + 10).ok_or_else(|| bad("short EOCD"))? as u64;
    let mut dir_offset = r.u32(eocd + 16).ok_or_else(|| bad("short EOCD"))? as u64;
    if count == 0xFFFF || dir_offset == 0xFFFF_FFFF {
        // ZIP64: a locator just before the EOCD points at the 64-bit record.
        let loc = eocd
            .checked_sub(20)
            .filter(|&l| r.u32(l) == Some(EOCD64_LOCATOR))
            .ok_or_else(|| bad("ZIP64 locator missing"))?;
        let rec = r.u64(loc + 8).ok_or_else(|| bad("short ZIP64 locator"))? as usize;
        if r.u32(rec) != Some(EOCD64) {
            return Err(bad("ZIP64 end record missing"));
        }
        count = r.u64(rec + 32).ok_or_else(|| bad("short ZIP64 end record"))?;
        dir_offset = r.u64(rec + 48).ok_or_else(|| bad("short ZIP64 end record"))?;
    }

    let mut out = HashMap::new();
    let mut at = dir_offset as usize;
    for _ in 0..count {
        if r.u32(at) != Some(CENTRAL) {
            return Err(bad(&format!("no central directory header at byte {at}")));
        }
        let field = |o: usize| r.u16(at + o).ok_or_else(|| bad("short central directory"));
        let method = field(10)?;
        let (name_len, extra_len, comment_len) = (field(28)? as usize, field(30)? as usize, field(32)? as usize);
        let mut size = r.u32(at + 20).ok_or_else(|| bad("short central directory"))? as u64;
        let mut local = r.u32(at + 42).ok_or_else(|| bad("short central directory"))? as u64;
        let name = bytes.get(at + 46..at + 46 + name_len).ok_or_else(|| bad("short central directory"))?;
        let name = String::from_utf8_lossy(name).into_owned();
        let extra = bytes
            .get(at + 46 + name_len..at + 46 + name_len + extra_len)
            .ok_or_else(|| bad("short central directory"))?;
        let uncompressed = r.u32(at + 24).unwrap_or(0) as u64;
        zip64_extra(extra, uncompressed, &mut size, &mut local);

        // The local header repeats name and extra, possibly with a different extra length
        // (torch pads it to align tensor data to 64 bytes), so the data offset comes from there.
        let local = local as usize;
        if r.u32(local) != Some(LOCAL) {
            return Err(bad(&format!("entry {name}: no local header at byte {local}")));
        }
        let (ln, le) = (r.u16(local + 26), r.u16(local + 28));
        let (Some(ln), Some(le)) = (ln, le) else {
            return Err(bad("short local header"));
        };
        let start = local + 30 + ln as usize + le as usize;
        let len = size as usize;
        if start.checked_add(len).is_none_or(|end| end > bytes.len()) {
            return Err(CheckpointError::OutOfRange {
                file: file.into(),
                tensor: name,
                detail: format!(
                    "zip entry runs to byte {} of a {}-byte file (truncated?)",
                    start as u64 + size,
                    bytes.len()
                ),
            });
        }
        out.insert(name, Entry { start, len, method });
        at += 46 + name_len + extra_len + comment_len;
    }
    Ok(out)
}

/// Applies a ZIP64 extended-information extra field (id 1): it holds, in order, the 64-bit
/// uncompressed size, compressed size and local header offset, each only if its 32-bit field is 0xFFFFFFFF.
fn zip64_extra(extra: &[u8], uncompressed: u64, size: &mut u64, local: &mut u64) {
    let r = Bytes(extra);
    let mut i = 0;
    while let (Some(id), Some(len)) = (r.u16(i), r.u16(i + 2)) {
        if id == 1 {
            let mut p = i + 4;
            let mut next = || {
                let v = r.u64(p);
                p += 8;
                v
            };
            if uncompressed == 0xFFFF_FFFF {
                next();
            }
            if *size == 0xFFFF_FFFF {
                *size = next().unwrap_or(*size);
            }
            if *local == 0xFFFF_FFFF {
                *local = next().unwrap_or(*local);
            }
            return;
        }
        i += 4 + len as usize;
    }
}

/// Bounds-checked little-endian reads.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn get<const N: usize>(&self, at: usize) -> Option<[u8; N]> {
        self.0.get(at..at.checked_add(N)?)?.try_into().ok()
    }
    fn u16(&self, at: usize) -> Option<u16> {
        self.get(at).map(u16::from_le_bytes)
    }
    fn u32(&self, at: usize) -> Option<u32> {
        self.get(at).map(u32::from_le_bytes)
    }
    fn u64(&self, at: usize) -> Option<u64> {
        self.get(at).map(u64::from_le_bytes)
    }
}

/// A zip archive of `files` (name, bytes), every entry STORED, names in UTF-8. Refuses what
/// would need ZIP64 (an entry or the whole archive of 4 GiB or more).
pub fn write_stored(files: &[(String, Vec<u8>)]) -> std::result::Result<Vec<u8>, String> {
    const VERSION: u16 = 20; // 2.0: stored entries, folders
    const UTF8_NAMES: u16 = 1 << 11;
    const DOS_DATE_1980_01_01: u16 = (1 << 5) | 1;
    let total: usize = files.iter().map(|(n, b)| 30 + 46 + 2 * n.len() + b.len()).sum::<usize>() + 22;
    if total >= u32::MAX as usize || files.len() >= 0xFFFF {
        return Err(format!(
            "{} files of {total} bytes in all: a zip archive without ZIP64 holds less than 4 GiB and 65,535 files",
            files.len()
        ));
    }
    let mut out = Vec::with_capacity(total);
    let mut central = Vec::new();
    for (name, bytes) in files {
        let (crc, offset) = (crc32(bytes), out.len() as u32);
        // The fields the local and central headers share, from "version needed" to the name's length.
        let mut common = Vec::with_capacity(26);
        for v in [VERSION, UTF8_NAMES, 0, 0, DOS_DATE_1980_01_01] {
            common.extend_from_slice(&v.to_le_bytes());
        }
        for v in [crc, bytes.len() as u32, bytes.len() as u32] {
            common.extend_from_slice(&v.to_le_bytes());
        }
        common.extend_from_slice(&(name.len() as u16).to_le_bytes());
        common.extend_from_slice(&0u16.to_le_bytes()); // extra field length

        out.extend_from_slice(&LOCAL.to_le_bytes());
        out.extend_from_slice(&common);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(bytes);

        central.extend_from_slice(&CENTRAL.to_le_bytes());
        central.extend_from_slice(&VERSION.to_le_bytes()); // version made by
        central.extend_from_slice(&common);
        // comment length, disk number, internal attributes (2 bytes each), external (4)
        central.extend_from_slice(&[0u8; 10]);
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let (dir_offset, dir_len, n) = (out.len() as u32, central.len() as u32, files.len() as u16);
    out.extend_from_slice(&central);
    out.extend_from_slice(&EOCD.to_le_bytes());
    out.extend_from_slice(&[0u8; 4]); // this disk, the directory's disk
    for v in [n, n] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    for v in [dir_len, dir_offset] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(&0u16.to_le_bytes()); // comment length
    Ok(out)
}

/// CRC-32 (IEEE 802.3, reflected, as zip and gzip use it).
fn crc32(bytes: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut t = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
                k += 1;
            }
            t[i] = c;
            i += 1;
        }
        t
    };
    !bytes.iter().fold(!0u32, |c, &b| TABLE[((c ^ b as u32) & 0xFF) as usize] ^ (c >> 8))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_has_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn a_written_archive_reads_back_entry_for_entry() {
        let files = vec![
            ("model.safetensors".to_string(), (0..=255u8).cycle().take(70_000).collect::<Vec<u8>>()),
            ("config.json".to_string(), b"{}".to_vec()),
            ("empty.txt".to_string(), vec![]),
            ("vocabulário.txt".to_string(), b"[PAD]\n".to_vec()),
        ];
        let zip = write_stored(&files).unwrap();
        let entries = entries(Path::new("test.zip"), &zip).unwrap();
        assert_eq!(entries.len(), files.len());
        for (name, bytes) in &files {
            let e = &entries[name];
            assert_eq!(e.method, 0);
            assert_eq!(&zip[e.start..e.start + e.len], &bytes[..], "{name}");
            // The local header's CRC is that of the bytes.
            let crc = u32::from_le_bytes(zip[e.start - 30 - name.len() + 14..][..4].try_into().unwrap());
            assert_eq!(crc, crc32(bytes), "{name}");
        }
    }
}
