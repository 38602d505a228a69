//! Datasets: labelled texts from IMDB-layout folders and tarballs, CSV and JSONL files; the
//! seeded train/validation split and class-balanced sampling.

mod dataset;
pub mod imdb;
pub mod sample;
pub mod table;
pub mod tarball;

use std::path::Path;

use anyhow::{bail, Result};

pub use dataset::{Columns, Dataset, Example};

fn is_table(p: &Path) -> bool {
    let s = p.to_string_lossy().to_ascii_lowercase();
    s.ends_with(".csv") || s.ends_with(".jsonl") || s.ends_with(".json")
}

/// The `split` ("train" or "test") of an IMDB-layout folder or tarball, or the whole of a CSV /
/// JSONL file (a table has no splits: `split` is only used in messages).
pub fn load(path: &Path, split: &str, columns: &Columns) -> Result<Dataset> {
    if !is_table(path) {
        if let Some(p) = &columns.pair {
            bail!("{}: IMDB data holds single reviews, not sentence pairs (--text-pair-column {p} needs a CSV or JSONL file)", path.display());
        }
    }
    let d = if is_table(path) { table::read_table(path, columns)? } else { imdb::read_split(path, split)? };
    if d.examples.is_empty() {
        bail!("{}: no examples in the {split} data", path.display());
    }
    Ok(d)
}
