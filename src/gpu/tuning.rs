//! The tuning table: which kernel variant won for each op and shape on this adapter, kept in a
//! JSON file so that a shape is measured once per adapter, driver and kernel source.
//!
//! The file is a cache: a missing one starts empty, a corrupt one is moved aside (with a notice)
//! and rebuilt, and a cache that cannot be written only costs re-measuring next time.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

const FORMAT: u64 = 1;

/// Whether kernels are tuned by measurement (`--tune`, `WGBERT_TUNE`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TuneMode {
    /// Fixed choices by device type; nothing is measured or read from disk.
    #[default]
    Off,
    /// Measure each new shape once, reuse the cached choice afterwards.
    Auto,
    /// Measure every shape again and overwrite the cached choices.
    Retune,
}

impl TuneMode {
    pub fn parse(s: &str) -> Option<TuneMode> {
        match s.to_ascii_lowercase().as_str() {
            "off" | "0" | "no" => Some(TuneMode::Off),
            "auto" | "on" | "1" | "yes" => Some(TuneMode::Auto),
            "retune" => Some(TuneMode::Retune),
            _ => None,
        }
    }
}

/// `WGBERT_CACHE_DIR`, else the platform's user cache folder, joined with `wgbert`.
/// None in a browser (no files; the page may keep tuning elsewhere later).
pub fn default_cache_dir() -> Option<PathBuf> {
    if cfg!(target_arch = "wasm32") {
        return None;
    }
    let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(d) = env("WGBERT_CACHE_DIR") {
        return Some(d);
    }
    let base = if cfg!(windows) {
        env("LOCALAPPDATA")
    } else if cfg!(target_os = "macos") {
        env("HOME").map(|h| h.join("Library/Caches"))
    } else {
        env("XDG_CACHE_HOME").or_else(|| env("HOME").map(|h| h.join(".cache")))
    };
    base.map(|b| b.join("wgbert"))
}

/// One measured decision: the winner and each candidate's time in ms (None: it could not run).
#[derive(Clone, Debug)]
pub struct Tuned {
    pub choice: String,
    pub ms: BTreeMap<String, Option<f64>>,
}

pub(crate) struct TuningTable {
    mode: TuneMode,
    path: Option<PathBuf>,
    /// Identifies the adapter and driver: choices made on one never apply to another.
    adapter_key: String,
    choices: HashMap<String, String>,
    warned_save: bool,
}

impl TuningTable {
    pub(crate) fn new(mode: TuneMode, dir: Option<PathBuf>, adapter_key: String) -> TuningTable {
        let path = dir.map(|d| d.join("tuning.json")).filter(|_| mode != TuneMode::Off);
        let mut t = TuningTable { mode, path, adapter_key, choices: HashMap::new(), warned_save: false };
        if mode == TuneMode::Auto {
            if let Some(p) = t.path.clone() {
                t.choices = load_adapter(&p, &t.adapter_key);
            }
        }
        t
    }

    pub(crate) fn mode(&self) -> TuneMode {
        self.mode
    }

    pub(crate) fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.choices.get(key).map(String::as_str)
    }

    /// Records a decision in memory and in the file (merged with what other processes wrote).
    pub(crate) fn insert(&mut self, key: &str, tuned: &Tuned) {
        self.choices.insert(key.to_string(), tuned.choice.clone());
        let Some(path) = self.path.clone() else { return };
        if let Err(e) = save_entry(&path, &self.adapter_key, key, tuned) {
            if !std::mem::replace(&mut self.warned_save, true) {
                eprintln!("wgbert: cannot write the tuning cache {}: {e}; choices last this run only", path.display());
            }
        }
    }
}

/// The whole file, or an empty table when it is missing; a corrupt file is moved aside.
fn load_file(path: &Path) -> Map<String, Value> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(_) => return Map::new(),
    };
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(m)) if m.get("format").and_then(Value::as_u64) == Some(FORMAT) => m,
        other => {
            let why = match other {
                Err(e) => format!("not JSON ({e})"),
                Ok(_) => format!("not a format-{FORMAT} tuning table"),
            };
            let aside = path.with_extension("json.corrupt");
            let moved = std::fs::rename(path, &aside).is_ok();
            eprintln!(
                "wgbert: the tuning cache {} is {why}; {}re-tuning",
                path.display(),
                if moved { format!("moved it to {} and ", aside.display()) } else { String::new() }
            );
            Map::new()
        }
    }
}

fn load_adapter(path: &Path, adapter_key: &str) -> HashMap<String, String> {
    let file = load_file(path);
    let Some(Value::Object(entries)) = file.get("adapters").and_then(|a| a.get(adapter_key)) else {
        return HashMap::new();
    };
    entries.iter().filter_map(|(k, v)| Some((k.clone(), v.get("choice")?.as_str()?.to_string()))).collect()
}

fn save_entry(path: &Path, adapter_key: &str, key: &str, tuned: &Tuned) -> std::io::Result<()> {
    let mut file = load_file(path);
    file.insert("format".into(), json!(FORMAT));
    let adapters = object_at(file.entry("adapters"));
    let entries = object_at(adapters.entry(adapter_key));
    entries.insert(key.to_string(), json!({ "choice": tuned.choice, "ms": tuned.ms }));
    let text = serde_json::to_vec_pretty(&Value::Object(file)).map_err(std::io::Error::other)?;
    crate::fsio::write_atomic(path, &text)
}

/// The object at a map entry, made one (empty) when missing or of another type.
fn object_at(entry: serde_json::map::Entry<'_>) -> &mut Map<String, Value> {
    let v = entry.or_insert_with(|| json!({}));
    if !v.is_object() {
        *v = json!({});
    }
    match v {
        Value::Object(m) => m,
        _ => unreachable!("made an object above"),
    }
}

/// A 64-bit FNV-1a hash: kernel sources in cache keys (a changed kernel is re-tuned).
pub(crate) fn fnv64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("wgbert-tuning-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    fn tuned(choice: &str) -> Tuned {
        Tuned { choice: choice.into(), ms: [(choice.to_string(), Some(1.0)), ("other".to_string(), None)].into() }
    }

    #[test]
    fn choices_persist_per_adapter() {
        let d = dir("persist");
        let mut t = TuningTable::new(TuneMode::Auto, Some(d.clone()), "gpu A".into());
        t.insert("matmul 8x8x8", &tuned("reg"));
        let mut other = TuningTable::new(TuneMode::Auto, Some(d.clone()), "gpu B".into());
        other.insert("matmul 8x8x8", &tuned("tiled"));
        assert_eq!(TuningTable::new(TuneMode::Auto, Some(d.clone()), "gpu A".into()).get("matmul 8x8x8"), Some("reg"));
        assert_eq!(
            TuningTable::new(TuneMode::Auto, Some(d.clone()), "gpu B".into()).get("matmul 8x8x8"),
            Some("tiled")
        );
        // Retune ignores what is cached; Off neither reads nor writes.
        assert_eq!(TuningTable::new(TuneMode::Retune, Some(d.clone()), "gpu A".into()).get("matmul 8x8x8"), None);
        let off = TuningTable::new(TuneMode::Off, Some(d.clone()), "gpu A".into());
        assert!(off.path().is_none() && off.get("matmul 8x8x8").is_none());
    }

    #[test]
    fn a_corrupt_cache_is_moved_aside_and_rebuilt() {
        let d = dir("corrupt");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("tuning.json"), b"{ not json").unwrap();
        let mut t = TuningTable::new(TuneMode::Auto, Some(d.clone()), "gpu".into());
        assert_eq!(t.get("k"), None);
        assert_eq!(std::fs::read(d.join("tuning.json.corrupt")).unwrap(), b"{ not json");
        t.insert("k", &tuned("panel"));
        assert_eq!(TuningTable::new(TuneMode::Auto, Some(d.clone()), "gpu".into()).get("k"), Some("panel"));
        // Valid JSON of another shape is treated the same way.
        std::fs::write(d.join("tuning.json"), b"[1, 2]").unwrap();
        assert_eq!(TuningTable::new(TuneMode::Auto, Some(d.clone()), "gpu".into()).get("k"), None);
    }

    #[test]
    fn an_unwritable_cache_is_not_fatal() {
        let d = dir("unwritable");
        std::fs::create_dir_all(&d).unwrap();
        // A folder where the file should be: every write fails.
        std::fs::create_dir_all(d.join("tuning.json")).unwrap();
        let mut t = TuningTable::new(TuneMode::Auto, Some(d.clone()), "gpu".into());
        t.insert("k", &tuned("reg"));
        assert_eq!(t.get("k"), Some("reg"));
    }
}
