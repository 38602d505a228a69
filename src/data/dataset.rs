//! What a dataset is: labelled examples (single texts or sentence pairs) with the class names,
//! and the columns a CSV / JSONL file names them by.

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
