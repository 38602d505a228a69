//! Datasets: labelled texts from IMDB-layout folders and tarballs, CSV and JSONL files; the
//! seeded train/validation split and class-balanced sampling.

pub mod imdb;
pub mod sample;
pub mod table;
pub mod tarball;

use std::path::Path;

use anyhow::{bail, Result};

#[derive(Clone, Debug)]
pub struct Example {
    pub text: String,
    /// The second text of a sentence pair (`--text-pair-column`), encoded `[CLS] text [SEP]
    /// pair [SEP]` with token type 1 for the pair's tokens.
    pub pair: Option<String>,
    pub label: usize,
    /// Where it came from (file path, path inside an archive, or file:line).
    pub source: String,
}

/// Labelled examples with the class names (index = label).
#[derive(Clone, Debug, Default)]
pub struct Dataset {
    pub classes: Vec<String>,
    pub examples: Vec<Example>,
    /// Things worth telling the user (skipped folders).
    pub notices: Vec<String>,
}

impl Dataset {
    pub fn len(&self) -> usize {
        self.examples.len()
    }
    pub fn is_empty(&self) -> bool {
        self.examples.is_empty()
    }
    /// Examples per class.
    pub fn counts(&self) -> Vec<usize> {
        let mut c = vec![0; self.classes.len()];
        for e in &self.examples {
            c[e.label] += 1;
        }
        c
    }
}

/// Column names for CSV / JSONL files.
#[derive(Clone, Debug)]
pub struct Columns {
    pub text: String,
    pub label: String,
    /// The second text of each pair, when the data holds sentence pairs.
    pub pair: Option<String>,
}

impl Default for Columns {
    fn default() -> Self {
        Columns { text: "text".into(), label: "label".into(), pair: None }
    }
}

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
