//! What a load produces: named dense f32 tensors on the host, and the notices about the load
//! that are not errors.

use std::collections::BTreeMap;
use std::fmt;

/// A dense row-major f32 tensor on the host.
#[derive(Clone, Debug, PartialEq)]
pub struct HostTensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl HostTensor {
    /// Panics if `data.len()` is not the product of `shape`: callers inside this module check sizes
    /// against the file before building one, so a mismatch here is a bug, not bad input.
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Self {
        assert_eq!(shape.iter().product::<usize>(), data.len(), "HostTensor shape {shape:?}");
        HostTensor { shape, data }
    }

    pub fn numel(&self) -> usize {
        self.data.len()
    }
}

/// Named host tensors, sorted by name (a `BTreeMap`, so iteration order is deterministic).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Checkpoint {
    pub tensors: BTreeMap<String, HostTensor>,
}

impl Checkpoint {
    pub fn get(&self, name: &str) -> Option<&HostTensor> {
        self.tensors.get(name)
    }

    /// Moves a tensor out, so the model can upload it without holding a second copy.
    pub fn take(&mut self, name: &str) -> Option<HostTensor> {
        self.tensors.remove(name)
    }

    pub fn insert(&mut self, name: impl Into<String>, tensor: HostTensor) {
        self.tensors.insert(name.into(), tensor);
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tensors.keys().map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.tensors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }

    /// Total number of f32 values held.
    pub fn numel(&self) -> usize {
        self.tensors.values().map(HostTensor::numel).sum()
    }

    /// True when both pooler tensors are present; otherwise the model initialises a fresh pooler.
    pub fn has_pooler(&self) -> bool {
        self.tensors.contains_key("pooler.dense.weight") && self.tensors.contains_key("pooler.dense.bias")
    }
}

/// Something the caller should know about a load that is not an error.
#[derive(Clone, Debug, PartialEq)]
pub enum Notice {
    /// Parameters of heads `BertModel` has no use for (`cls.predictions.*`, `cls.seq_relationship.*`).
    Unused { names: Vec<String> },
    /// Entries that are not parameters at all: integer buffers (`embeddings.position_ids`),
    /// `global_step`, optimizer slots (`adam_m`, `adam_v`).
    Skipped { names: Vec<String>, reason: String },
    /// Tensors stored in another float type and widened (or, for f64, narrowed) to f32.
    Converted { dtype: String, count: usize },
    /// The checkpoint has no pooler weights.
    NoPooler,
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Long lists (a TF checkpoint has hundreds of optimizer slots) are cut to a few names.
        fn list(names: &[String]) -> String {
            const SHOWN: usize = 4;
            let mut s = names.iter().take(SHOWN).cloned().collect::<Vec<_>>().join(", ");
            if names.len() > SHOWN {
                s += &format!(", ... ({} more)", names.len() - SHOWN);
            }
            s
        }
        match self {
            Notice::Unused { names } => write!(f, "{} tensors not used by BertModel: {}", names.len(), list(names)),
            Notice::Skipped { names, reason } => {
                write!(f, "skipped {} {}: {}", names.len(), reason, list(names))
            }
            Notice::Converted { dtype, count } => {
                write!(f, "converted {count} {dtype} tensors to f32")
            }
            Notice::NoPooler => write!(f, "no pooler weights: a fresh pooler is initialised"),
        }
    }
}
