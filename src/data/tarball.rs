//! A minimal reader of (gzip-compressed) tar archives: regular files in order, ustar names and
//! GNU long names. Enough for dataset tarballs; no extraction to disk.

use std::io::Read;

use anyhow::{bail, Context, Result};

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
            let mut data = vec![0u8; size as usize];
            r.read_exact(&mut data)
                .with_context(|| format!("{name}: the archive ends inside this file: truncated download?"))?;
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
