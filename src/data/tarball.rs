//! A minimal reader of (gzip-compressed) tar archives: regular files in order, ustar names and
//! GNU long names. Enough for dataset tarballs; no extraction to disk.

use std::io::Read;

use anyhow::{bail, Context, Result};

/// A GNU long name longer than this is corruption (Linux paths stop at 4 KiB).
const MAX_LONG_NAME: u64 = 64 << 10;

fn octal(field: &[u8]) -> Result<u64> {
    let s = std::str::from_utf8(field).context("tar header: size is not text")?;
    let s = s.trim_matches(|c: char| c == '\0' || c == ' ');
    if s.is_empty() {
        return Ok(0);
    }
    u64::from_str_radix(s, 8).with_context(|| format!("tar header: size {s:?} is not octal"))
}

fn cstr(field: &[u8]) -> String {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    String::from_utf8_lossy(&field[..end]).into_owned()
}

/// Calls `f(path, contents)` for every regular file whose path `want` accepts (the contents of
/// the others are skipped without being kept).
pub fn for_each_file(
    mut r: impl Read,
    mut want: impl FnMut(&str) -> bool,
    mut f: impl FnMut(&str, Vec<u8>) -> Result<()>,
) -> Result<()> {
    let mut header = [0u8; 512];
    let mut long_name: Option<String> = None;
    loop {
        if let Err(e) = r.read_exact(&mut header) {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                bail!("the archive ends in the middle of a header: truncated download?");
            }
            return Err(e).context("reading the archive");
        }
        if header.iter().all(|&b| b == 0) {
            return Ok(()); // end-of-archive marker
        }
        let size = octal(&header[124..136])?;
        let kind = header[156];
        let mut name = cstr(&header[0..100]);
        if &header[257..262] == b"ustar" {
            let prefix = cstr(&header[345..500]);
            if !prefix.is_empty() {
                name = format!("{prefix}/{name}");
            }
        }
        if let Some(n) = long_name.take() {
            name = n;
        }
        let padded = size.div_ceil(512) * 512;
        let is_file = kind == b'0' || kind == 0;
        if kind == b'L' || (is_file && want(&name)) {
            if kind == b'L' && size > MAX_LONG_NAME {
                bail!("{name}: a GNU long name of {size} bytes (at most {MAX_LONG_NAME}): not a tar archive?");
            }
            // What the archive holds, not what the header asks for (up to 64 GiB): the vector
            // grows as bytes arrive.
            let mut data = Vec::new();
            (&mut r).take(size).read_to_end(&mut data).with_context(|| format!("{name}: reading the archive"))?;
            if data.len() as u64 != size {
                bail!(
                    "{name}: its header says {size} bytes, the archive ends after {}: truncated download?",
                    data.len()
                );
            }
            std::io::copy(&mut (&mut r).take(padded - size), &mut std::io::sink())?;
            if kind == b'L' {
                long_name = Some(cstr(&data));
            } else {
                f(&name, data)?;
            }
        } else {
            let skipped = std::io::copy(&mut (&mut r).take(padded), &mut std::io::sink())?;
            if skipped != padded {
                bail!("{name}: the archive ends inside this entry: truncated download?");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ustar header for a regular file (or `kind`) `name` claiming `size` bytes.
    fn header(name: &str, size: u64, kind: u8) -> Vec<u8> {
        let mut h = vec![0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
        h[156] = kind;
        h[257..262].copy_from_slice(b"ustar");
        h
    }

    fn files(tar: &[u8]) -> Result<Vec<(String, Vec<u8>)>> {
        let mut out = Vec::new();
        for_each_file(
            tar,
            |_| true,
            |n, d| {
                out.push((n.to_string(), d));
                Ok(())
            },
        )?;
        Ok(out)
    }

    #[test]
    fn a_member_larger_than_the_archive_is_an_error_not_an_allocation() {
        let mut tar = header("a.txt", 5, b'0');
        tar.extend(b"hello");
        tar.resize(1024, 0);
        tar.extend([0u8; 1024]);
        assert_eq!(files(&tar).unwrap(), [("a.txt".to_string(), b"hello".to_vec())]);
        // 8 GiB - 1 claimed (11 octal digits), 5 bytes there.
        let mut bomb = header("b.txt", 0o777_7777_7777, b'0');
        bomb.extend(b"hello");
        let e = files(&bomb).unwrap_err().to_string();
        assert!(e.contains("b.txt: its header says 8589934591 bytes, the archive ends after 5"), "{e}");
        let e = files(&header("././@LongLink", 1 << 20, b'L')).unwrap_err().to_string();
        assert!(e.contains("a GNU long name of 1048576 bytes"), "{e}");
    }
}
