//! CSV (RFC 4180: quoted fields, doubled quotes, newlines inside quotes) and JSONL files with a
//! text column, optionally a second text column (sentence pairs), and a label column. Labels are
//! class names; classes are their sorted set.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{bail, Context, Result};

use super::{Columns, Dataset, Example};

/// Splits CSV text into records of fields, each with the line it starts on (a quoted field
/// may hold newlines, so records and lines differ).
fn csv_records(text: &str) -> Result<Vec<(usize, Vec<String>)>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    let mut line = 1;
    let mut start = 1;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => {
                line += (c == '\n') as usize;
                field.push(c);
            }
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') if chars.peek() == Some(&'\n') => {}
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                records.push((start, std::mem::take(&mut record)));
                line += 1;
                start = line;
            }
            (false, c) => field.push(c),
        }
    }
    if quoted {
        bail!("a quoted field opened before line {line} is never closed");
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        records.push((start, record));
    }
    records.retain(|(_, r)| !(r.len() == 1 && r[0].is_empty()));
    Ok(records)
}

/// One record: its text(s), its label when it has one, and where it came from (file:line).
struct Row {
    text: String,
    pair: Option<String>,
    label: Option<String>,
    source: String,
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

fn label_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Reads a .csv or .jsonl file into examples; the classes are the sorted distinct labels.
pub fn read_table(path: &Path, columns: &Columns) -> Result<Dataset> {
    read_rows(path, columns, true)
}

/// Reads the texts (and pairs) of a .csv or .jsonl file to score: a label column is read when
/// present (then the dataset has classes) and not required.
pub fn read_texts(path: &Path, columns: &Columns) -> Result<Dataset> {
    read_rows(path, columns, false)
}

fn read_rows(path: &Path, columns: &Columns, labels_required: bool) -> Result<Dataset> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let text = crate::tokenizer::decode_text(path, bytes)?;
    parse_rows(path, &text, columns, labels_required)
}

/// A .csv or .jsonl file's text (a browser's upload or fetch); `path` names it in errors and
/// says the format (CSV when it ends in .csv, else JSONL).
pub fn parse_table(path: &Path, text: &str, columns: &Columns) -> Result<Dataset> {
    parse_rows(path, text, columns, true)
}

fn parse_rows(path: &Path, text: &str, columns: &Columns, labels_required: bool) -> Result<Dataset> {
    // Excel's "CSV UTF-8" and Windows PowerShell start files with a byte-order mark.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut rows: Vec<Row> = Vec::new();
    let lower = path.to_string_lossy().to_ascii_lowercase();
    if lower.ends_with(".csv") {
        let records = csv_records(text).with_context(|| format!("parsing {}", path.display()))?;
        let Some(((_, header), body)) = records.split_first() else { bail!("{}: the file is empty", path.display()) };
        let col = |name: &str| {
            header
                .iter()
                .position(|h| h.trim() == name)
                .with_context(|| format!("{}: no column {name:?} (columns: {})", path.display(), header.join(", ")))
        };
        let ti = col(&columns.text)?;
        let li = if labels_required { Some(col(&columns.label)?) } else { col(&columns.label).ok() };
        let pi = columns.pair.as_deref().map(col).transpose()?;
        for (line, r) in body {
            // A field too many is most often an unquoted comma in the text: read as is, the
            // columns would shift and a fragment of text become a label.
            if r.len() != header.len() {
                bail!(
                    "{}:{line}: the record has {} fields, the header {}{}",
                    path.display(),
                    r.len(),
                    header.len(),
                    if r.len() > header.len() {
                        " (a comma in an unquoted text? quote the field: \"a, b\")"
                    } else {
                        ""
                    }
                );
            }
            rows.push(Row {
                text: r[ti].clone(),
                pair: pi.map(|c| r[c].clone()),
                label: li.map(|c| r[c].trim().to_string()),
                source: format!("{}:{line}", path.display()),
            });
        }
    } else {
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let v: serde_json::Value = serde_json::from_str(line)
                .with_context(|| format!("{}: line {} is not JSON", path.display(), i + 1))?;
            let at = format!("{}:{}", path.display(), i + 1);
            if !v.is_object() {
                bail!("{at}: the line is {}, not an object of fields", json_kind(&v));
            }
            // A field of the wrong type is named as such, not taken for a missing one.
            let text_field = |name: &str| match v.get(name) {
                Some(serde_json::Value::String(t)) => Ok(t.clone()),
                Some(other) => bail!("{at}: text field {name:?} is {}, not a string", json_kind(other)),
                None => bail!("{}: line {} has no text field {name:?}", path.display(), i + 1),
            };
            let label = match v.get(&columns.label) {
                Some(l) => Some(label_text(l).with_context(|| {
                    format!("{at}: label field {:?} is {}, not a class name", columns.label, json_kind(l))
                })?),
                None => None,
            };
            if labels_required && label.is_none() {
                bail!("{}: line {} has no label field {:?}", path.display(), i + 1, columns.label);
            }
            rows.push(Row {
                text: text_field(&columns.text)?,
                pair: columns.pair.as_deref().map(text_field).transpose()?,
                label,
                source: at.clone(),
            });
        }
    }
    // Unlabelled rows (read_texts) get label 0; a file with some labels and not others is refused.
    let unlabelled = rows.iter().find(|r| r.label.is_none());
    if let Some(r) = unlabelled.filter(|_| rows.iter().any(|r| r.label.is_some())) {
        bail!("{}: some rows have a label {:?} and others not ({})", path.display(), columns.label, r.source);
    }
    let classes: Vec<String> =
        rows.iter().filter_map(|r| r.label.clone()).collect::<BTreeSet<_>>().into_iter().collect();
    let examples = rows
        .into_iter()
        .map(|r| Example {
            label: r.label.map_or(0, |l| classes.binary_search(&l).expect("label is in its own set")),
            text: r.text,
            pair: r.pair,
            source: r.source,
        })
        .collect();
    Ok(Dataset { classes, examples, notices: Vec::new() })
}

#[cfg(test)]
mod tests {
    use super::csv_records;

    #[test]
    fn csv_quotes_commas_and_newlines() {
        let r = csv_records("text,label\r\n\"a, \"\"b\"\"\nc\",pos\nplain,neg\n").unwrap();
        // The third record starts on line 4: the second spans two.
        assert_eq!(
            r,
            vec![
                (1, vec!["text".to_string(), "label".into()]),
                (2, vec!["a, \"b\"\nc".into(), "pos".into()]),
                (4, vec!["plain".into(), "neg".into()])
            ]
        );
        assert!(csv_records("text\n\"open").is_err());
    }

    #[test]
    fn a_record_that_does_not_fit_the_header_is_refused_by_its_line() {
        let cols = crate::data::Columns::default();
        let parse = |text: &str| super::parse_table(std::path::Path::new("a.csv"), text, &cols);
        let e = parse("text,label\n\"two\nlines\",pos\ngreat, really,pos\n").unwrap_err().to_string();
        assert!(e.contains("a.csv:4: the record has 3 fields, the header 2 (a comma in an unquoted text?"), "{e}");
        let e = parse("text,label\nfine,pos\nshort\n").unwrap_err().to_string();
        assert!(e.contains("a.csv:3: the record has 1 fields, the header 2"), "{e}");
        let d = parse("text,label\n\"great, really\",pos\nbad,neg\n").unwrap();
        assert_eq!((d.examples[0].text.as_str(), d.classes.len()), ("great, really", 2));
    }

    #[test]
    fn a_jsonl_field_of_the_wrong_type_is_named_by_its_line() {
        let cols = crate::data::Columns::default();
        let parse = |text: &str| super::parse_table(std::path::Path::new("a.jsonl"), text, &cols);
        let good = "{\"text\": \"fine\", \"label\": \"pos\"}\n";
        let cases = [
            ("{\"text\": 5, \"label\": \"pos\"}", "a.jsonl:2: text field \"text\" is a number, not a string"),
            ("{\"text\": \"ok\", \"label\": [\"pos\"]}", "a.jsonl:2: label field \"label\" is an array"),
            ("[\"ok\", \"pos\"]", "a.jsonl:2: the line is an array, not an object of fields"),
            ("{\"text\": \"ok\"}", "a.jsonl: line 2 has no label field \"label\""),
        ];
        for (line, want) in cases {
            let e = parse(&format!("{good}{line}\n")).unwrap_err().to_string();
            assert!(e.contains(want), "{line}: {e}");
        }
        assert_eq!(parse(&format!("{good}{{\"text\": \"ok\", \"label\": 1}}\n")).unwrap().classes, ["1", "pos"]);
    }
}

#[cfg(test)]
mod bom_tests {
    #[test]
    fn a_byte_order_mark_is_not_part_of_the_header() {
        let dir = std::env::temp_dir().join(format!("wgbert-bom-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("a.csv");
        std::fs::write(&p, "\u{feff}text,label\r\ngood,pos\r\nbad,neg\r\n").unwrap();
        let d = super::read_table(&p, &crate::data::Columns::default()).unwrap();
        assert_eq!(d.classes, ["neg", "pos"]);
        assert_eq!(d.examples[0].text, "good");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
