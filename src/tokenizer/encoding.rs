//! Model inputs: `[CLS] a [SEP]` or `[CLS] a [SEP] b [SEP]`, truncated to a maximum length
//! (HF's longest-first rule for pairs), padded, with attention mask and token-type ids.

/// One sequence ready for the model; all three vectors have the same length.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Encoding {
    pub ids: Vec<u32>,
    /// 1 for real tokens (specials included), 0 for padding.
    pub attention_mask: Vec<u32>,
    /// 0 for `[CLS] a [SEP]` (and padding), 1 for `b [SEP]`.
    pub type_ids: Vec<u32>,
}

/// The ids of the special tokens an encoding needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpecialIds {
    pub cls: u32,
    pub sep: u32,
    pub pad: u32,
}

impl Encoding {
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Number of non-padding positions.
    pub fn real_len(&self) -> usize {
        self.attention_mask.iter().filter(|&&m| m != 0).count()
    }

    /// `[CLS] content [SEP]`, content cut to `max_len - 2`, padded to `max_len`.
    /// `max_len` below 2 is treated as 2 (there is no room for less).
    pub fn single(content: &[u32], sp: SpecialIds, max_len: usize) -> Encoding {
        let n = content.len().min(max_len.saturating_sub(2));
        let total = max_len.max(2);
        let mut ids = Vec::with_capacity(total);
        ids.push(sp.cls);
        ids.extend_from_slice(&content[..n]);
        ids.push(sp.sep);
        Self::finish(ids, n + 2, total, sp.pad)
    }

    /// `[CLS] a [SEP] b [SEP]`, truncated longest-first to `max_len`, padded to `max_len`.
    /// `max_len` below 3 is treated as 3.
    pub fn pair(a: &[u32], b: &[u32], sp: SpecialIds, max_len: usize) -> Encoding {
        let (na, nb) = pair_truncation(a.len(), b.len(), max_len.saturating_sub(3));
        let total = max_len.max(3);
        let mut ids = Vec::with_capacity(total);
        ids.push(sp.cls);
        ids.extend_from_slice(&a[..na]);
        ids.push(sp.sep);
        ids.extend_from_slice(&b[..nb]);
        ids.push(sp.sep);
        let real = ids.len();
        let mut e = Self::finish(ids, real, total, sp.pad);
        e.type_ids[na + 2..real].fill(1);
        e
    }

    fn finish(mut ids: Vec<u32>, real: usize, total: usize, pad: u32) -> Encoding {
        ids.resize(total, pad);
        let mut attention_mask = vec![0u32; total];
        attention_mask[..real].fill(1);
        Encoding { ids, attention_mask, type_ids: vec![0u32; total] }
    }
}

/// Lengths `(a, b)` to keep so that `a + b <= budget`, the rule of HF `tokenizers`'
/// `LongestFirst`: cut only the longer one if that suffices, otherwise give each half the
/// budget, the odd token going to the longer one (to `b` when they are equally long).
pub fn pair_truncation(n_a: usize, n_b: usize, budget: usize) -> (usize, usize) {
    if n_a + n_b <= budget {
        return (n_a, n_b);
    }
    let swap = n_a > n_b;
    let (mut n1, mut n2) = if swap { (n_b, n_a) } else { (n_a, n_b) };
    n2 = if n1 > budget { n1 } else { n2.min(n1.max(budget - n1)) };
    if n1 + n2 > budget {
        n1 = budget / 2;
        n2 = n1 + budget % 2;
    }
    if swap {
        (n2, n1)
    } else {
        (n1, n2)
    }
}
