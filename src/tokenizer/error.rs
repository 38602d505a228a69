//! `TokenizerError`: everything that can go wrong loading a tokenizer. Each message names
//! the file and the problem, so a CLI can print it as is.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{} is not valid UTF-8 text (first bad byte at offset {offset}); convert it to UTF-8", path.display())]
    NotUtf8 { path: PathBuf, offset: usize },

    #[error("{}: vocabulary is empty", path.display())]
    EmptyVocab { path: PathBuf },

    #[error("{}: vocabulary has no {role} token {token:?} (needed to encode for BERT)", path.display())]
    MissingSpecialToken { path: PathBuf, role: &'static str, token: String },

    #[error("{}: {message}", path.display())]
    BadConfig { path: PathBuf, message: String },

    #[error("{}no vocab.txt and no tokenizer.json: the tokenizer needs one of them", in_dir(dir))]
    NoVocab { dir: PathBuf },
}

/// `"DIR: "`, or nothing for files that came without a folder (a browser's).
fn in_dir(dir: &std::path::Path) -> String {
    if dir.as_os_str().is_empty() {
        String::new()
    } else {
        format!("{}: ", dir.display())
    }
}

pub type Result<T> = std::result::Result<T, TokenizerError>;
