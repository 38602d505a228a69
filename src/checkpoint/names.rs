//! Tensor names: normalising the spellings found in the wild to the Hugging Face `BertModel` names
//! (no `bert.` prefix, LayerNorm `weight`/`bias`), the list of parameters a config implies, shape
//! checks, and the `Collector` the format readers fill as they go.

use super::dtype::FloatType;
use super::{BertConfig, Checkpoint, CheckpointError, HostTensor, Notice, Result};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Top-level modules our model owns: the `BertModel` parts and a sequence-classification head.
const KEPT_PREFIXES: [&str; 4] = ["embeddings.", "encoder.", "pooler.", "classifier."];

/// The normalised name of a tensor in Hugging Face spelling, or `None` when our model has no use
/// for it (`cls.predictions.*`, `cls.seq_relationship.*`, other heads).
///
/// Accepts `bert.`-prefixed names (`BertFor*` checkpoints) and the `LayerNorm.gamma`/`beta` names
/// of pytorch-pretrained-bert and early transformers releases.
pub fn normalise_name(name: &str) -> Option<String> {
    let name = name.strip_prefix("bert.").unwrap_or(name);
    if !KEPT_PREFIXES.iter().any(|p| name.starts_with(p)) {
        return None;
    }
    let name = if let Some(stem) = name.strip_suffix("LayerNorm.gamma") {
        format!("{stem}LayerNorm.weight")
    } else if let Some(stem) = name.strip_suffix("LayerNorm.beta") {
        format!("{stem}LayerNorm.bias")
    } else {
        name.to_string()
    };
    Some(name)
}

/// Every `BertModel` parameter the config implies, with its shape (Linear weights [out, in]).
/// Shapes use C = hidden, I = intermediate, V = vocabulary, P = max positions, TV = token types.
pub fn bert_parameter_shapes(config: &BertConfig) -> Vec<(String, Vec<usize>)> {
    let (c, i) = (config.hidden_size, config.intermediate_size);
    let mut out = vec![
        ("embeddings.word_embeddings.weight".to_string(), vec![config.vocab_size, c]),
        ("embeddings.position_embeddings.weight".to_string(), vec![config.max_position_embeddings, c]),
        ("embeddings.token_type_embeddings.weight".to_string(), vec![config.type_vocab_size, c]),
        ("embeddings.LayerNorm.weight".to_string(), vec![c]),
        ("embeddings.LayerNorm.bias".to_string(), vec![c]),
    ];
    for l in 0..config.num_hidden_layers {
        let p = format!("encoder.layer.{l}.");
        let linears = [
            ("attention.self.query", c, c),
            ("attention.self.key", c, c),
            ("attention.self.value", c, c),
            ("attention.output.dense", c, c),
            ("intermediate.dense", i, c),
            ("output.dense", c, i),
        ];
        for (name, out_dim, in_dim) in linears {
            out.push((format!("{p}{name}.weight"), vec![out_dim, in_dim]));
            out.push((format!("{p}{name}.bias"), vec![out_dim]));
        }
        for ln in ["attention.output.LayerNorm", "output.LayerNorm"] {
            out.push((format!("{p}{ln}.weight"), vec![c]));
            out.push((format!("{p}{ln}.bias"), vec![c]));
        }
    }
    out.push(("pooler.dense.weight".to_string(), vec![c, c]));
    out.push(("pooler.dense.bias".to_string(), vec![c]));
    out
}

impl Checkpoint {
    /// The tensor `name`, which must have exactly `shape`.
    pub fn tensor_with_shape(&self, name: &str, shape: &[usize]) -> Result<&HostTensor> {
        let t = self.get(name).ok_or_else(|| CheckpointError::MissingTensor { name: name.to_string() })?;
        if t.shape != shape {
            return Err(CheckpointError::ShapeMismatch {
                name: name.to_string(),
                expected: shape.to_vec(),
                found: t.shape.clone(),
            });
        }
        Ok(t)
    }

    /// Checks every `BertModel` parameter of `config` is present with its shape. The pooler may be
    /// absent as a whole (a fresh one is initialised), not half of it.
    pub fn check_against(&self, config: &BertConfig) -> Result<()> {
        let no_pooler =
            !self.tensors.contains_key("pooler.dense.weight") && !self.tensors.contains_key("pooler.dense.bias");
        for (name, shape) in bert_parameter_shapes(config) {
            if no_pooler && name.starts_with("pooler.") {
                continue;
            }
            self.tensor_with_shape(&name, &shape)?;
        }
        Ok(())
    }
}

/// What a format reader fills while walking a file: the tensors kept, and notes on the rest.
pub(crate) struct Collector {
    file: PathBuf,
    ckpt: Checkpoint,
    unused: Vec<String>,
    /// reason -> raw names
    skipped: BTreeMap<String, Vec<String>>,
    /// dtype name -> count, for types other than f32
    converted: BTreeMap<&'static str, usize>,
    /// Bytes of the file decoded so far, and the most a reader lets it decode (see `pay`).
    decoded: u64,
    budget: u64,
}

impl Collector {
    pub(crate) fn new(file: impl Into<PathBuf>) -> Self {
        Collector {
            file: file.into(),
            ckpt: Checkpoint::default(),
            unused: Vec::new(),
            skipped: BTreeMap::new(),
            converted: BTreeMap::new(),
            decoded: 0,
            budget: u64::MAX,
        }
    }

    /// Bounds the bytes `pay` lets tensors decode: a reader whose tensors could be views of the
    /// same bytes (a pickle's storages, a bundle's offsets) gives its files' length, so that a
    /// thousand names over one region cannot ask for a thousand copies of it.
    pub(crate) fn with_budget(mut self, bytes: u64) -> Self {
        self.budget = bytes;
        self
    }

    /// Raises the budget by a file the reader has just opened (a bundle's data shard).
    pub(crate) fn add_budget(&mut self, bytes: u64) {
        self.budget = self.budget.saturating_add(bytes);
    }

    /// Accounts for `bytes` of the file that tensor `raw` is about to decode, before it does.
    pub(crate) fn pay(&mut self, raw: &str, bytes: u64) -> Result<()> {
        self.decoded = self.decoded.saturating_add(bytes);
        if self.decoded > self.budget {
            return Err(CheckpointError::OutOfRange {
                file: self.file.clone(),
                tensor: raw.to_string(),
                detail: format!(
                    "the tensors read so far decode {} bytes, more than the {} bytes of the file: they overlap",
                    self.decoded, self.budget
                ),
            });
        }
        Ok(())
    }

    /// The normalised name if the model uses this tensor; otherwise records it as unused, so the
    /// reader can skip decoding it (`cls.predictions.decoder.weight` alone is V x C floats).
    pub(crate) fn wanted(&mut self, raw: &str) -> Option<String> {
        let name = normalise_name(raw);
        if name.is_none() {
            self.unused.push(raw.to_string());
        }
        name
    }

    /// Records a tensor the reader already knows the model has no use for.
    pub(crate) fn unused(&mut self, raw: &str) {
        self.unused.push(raw.to_string());
    }

    /// Records an entry that is not a parameter (integer buffer, optimizer slot, step counter).
    pub(crate) fn skip(&mut self, raw: &str, reason: &str) {
        self.skipped.entry(reason.to_string()).or_default().push(raw.to_string());
    }

    /// Adds a decoded tensor under its normalised name; two source tensors landing on one name
    /// (`bert.x` next to `x`) would make the result depend on file order, so that is an error.
    pub(crate) fn insert(&mut self, name: String, from: FloatType, tensor: HostTensor) -> Result<()> {
        if self.ckpt.tensors.contains_key(&name) {
            return Err(CheckpointError::Malformed {
                file: self.file.clone(),
                field: "tensor names".into(),
                detail: format!("two tensors normalise to {name}"),
            });
        }
        if from != FloatType::F32 {
            *self.converted.entry(from.name()).or_default() += 1;
        }
        self.ckpt.insert(name, tensor);
        Ok(())
    }

    pub(crate) fn finish(mut self) -> (Checkpoint, Vec<Notice>) {
        let mut notices = Vec::new();
        if !self.unused.is_empty() {
            self.unused.sort();
            notices.push(Notice::Unused { names: self.unused });
        }
        for (reason, mut names) in self.skipped {
            names.sort();
            notices.push(Notice::Skipped { names, reason });
        }
        for (dtype, count) in self.converted {
            notices.push(Notice::Converted { dtype: dtype.to_string(), count });
        }
        if !self.ckpt.has_pooler() {
            notices.push(Notice::NoPooler);
        }
        (self.ckpt, notices)
    }
}
