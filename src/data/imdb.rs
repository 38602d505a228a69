//! The IMDB layout: `<root>/<split>/<class>/*.txt`, one review per file, classes in sorted
//! order (`neg` = 0, `pos` = 1). Read from the unpacked folder or straight from the tarball
//! (`aclImdb_v1.tar.gz`, or `aclImdb_labeled.tar.gz`); the unlabelled `unsup` folder is skipped.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::tokenizer::decode_text;

use super::{Dataset as Split, Example};

fn is_tarball(p: &Path) -> bool {
    let s = p.to_string_lossy();
    s.ends_with(".tar.gz") || s.ends_with(".tgz") || s.ends_with(".tar")
}

/// Reads `split` ("train" or "test") from a folder (`aclImdb` or its parent) or a tarball.
pub fn read_split(path: &Path, split: &str) -> Result<Split> {
    read_split_inner(path, split)
}

fn read_split_inner(path: &Path, split: &str) -> Result<Split> {
    if !path.exists() {
        // An io::Error of kind NotFound, so that callers can tell a missing path by its type.
        let missing =
            std::io::Error::new(std::io::ErrorKind::NotFound, format!("{}: no such file or folder", path.display()));
        return Err(missing.into());
    }
    // Class name → (file path, bytes), ordered by class then file name.
    let mut files: BTreeMap<String, Vec<(String, Vec<u8>)>> = BTreeMap::new();
    let mut skipped = std::collections::BTreeSet::new();
    if is_tarball(path) {
        let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let reader: Box<dyn std::io::Read> = if path.to_string_lossy().ends_with(".tar") {
            Box::new(BufReader::new(file))
        } else {
            Box::new(flate2::read::GzDecoder::new(BufReader::new(file)))
        };
        // Entries look like aclImdb/train/pos/123_9.txt.
        let class_of = |name: &str| -> Option<String> {
            let parts: Vec<&str> = name.split('/').collect();
            let i = parts.iter().position(|p| *p == split)?;
            (parts.len() == i + 3 && parts[i + 2].ends_with(".txt")).then(|| parts[i + 1].to_string())
        };
        let saw_unsup = std::cell::Cell::new(false);
        crate::data::tarball::for_each_file(
            reader,
            |name| match class_of(name) {
                Some(c) if c == "unsup" => {
                    saw_unsup.set(true);
                    false
                }
                c => c.is_some(),
            },
            |name, data| {
                let class = class_of(name).expect("filtered above");
                files.entry(class).or_default().push((name.to_string(), data));
                Ok(())
            },
        )
        .with_context(|| format!("reading {}", path.display()))?;
        if saw_unsup.get() {
            skipped.insert("unsup".to_string());
        }
        if files.is_empty() {
            bail!("{}: no reviews under {split}/<class>/*.txt in this archive", path.display());
        }
    } else {
        let dir = [path.join(split), path.join("aclImdb").join(split)].into_iter().find(|d| d.is_dir()).with_context(
            || format!("{}: no {split}/ folder (expected <folder>/{split}/<class>/*.txt)", path.display()),
        )?;
        let mut classes: Vec<PathBuf> = std::fs::read_dir(&dir)
            .with_context(|| format!("listing {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir())
            .collect();
        classes.sort();
        for class_dir in classes {
            let class = class_dir.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            if class == "unsup" {
                skipped.insert(class);
                continue;
            }
            let mut names: Vec<PathBuf> = std::fs::read_dir(&class_dir)
                .with_context(|| format!("listing {}", class_dir.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "txt"))
                .collect();
            names.sort();
            let entry = files.entry(class).or_default();
            for p in names {
                let data = std::fs::read(&p).with_context(|| format!("reading {}", p.display()))?;
                entry.push((p.display().to_string(), data));
            }
        }
    }
    let notices: Vec<String> = skipped.into_iter().map(|c| format!("skipped the unlabelled {c}/ folder")).collect();
    let classes: Vec<String> = files.keys().cloned().collect();
    if classes.len() < 2 {
        bail!(
            "{}: {split} has {} class folder(s) ({}); a classifier needs at least two",
            path.display(),
            classes.len(),
            classes.join(", ")
        );
    }
    let mut examples = Vec::new();
    for (label, (class, list)) in files.into_iter().enumerate() {
        if list.is_empty() {
            bail!("{}: class folder {split}/{class} holds no .txt reviews", path.display());
        }
        for (source, data) in list {
            let text = decode_text(&source, data)?;
            examples.push(Example { text, pair: None, label, source });
        }
    }
    Ok(Split { classes, examples, notices })
}
