//! Seeded shuffles, the train/validation split and class-balanced samples. Deterministic for a
//! given seed on every platform (splitmix64, Fisher–Yates).

use super::{Dataset, Example};

pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E3779B97F4A7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
        z ^ (z >> 31)
    }
    /// Uniform in 0..n (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

pub fn shuffle<T>(v: &mut [T], seed: u64) {
    let mut rng = Rng::new(seed);
    for i in (1..v.len()).rev() {
        v.swap(i, rng.below(i + 1));
    }
}

/// Splits into (train, validation) with `validation` ≈ fraction of the examples, after a seeded
/// shuffle: no overlap, the same split for the same seed.
pub fn train_validation_split(d: Dataset, fraction: f32, seed: u64) -> (Dataset, Dataset) {
    let mut ex = d.examples;
    shuffle(&mut ex, seed);
    let n_val = ((ex.len() as f64) * fraction as f64).round() as usize;
    let val: Vec<Example> = ex.split_off(ex.len() - n_val.min(ex.len()));
    let train = Dataset { classes: d.classes.clone(), examples: ex, notices: d.notices.clone() };
    (train, Dataset { classes: d.classes, examples: val, notices: Vec::new() })
}

/// `n` examples drawn with the classes as balanced as the data allows, seeded; all of them when
/// n >= len. The result is shuffled.
pub fn balanced_sample(d: &Dataset, n: usize, seed: u64) -> Dataset {
    if n >= d.examples.len() {
        let mut all = d.clone();
        shuffle(&mut all.examples, seed);
        return all;
    }
    let k = d.classes.len().max(1);
    let mut by_class: Vec<Vec<&Example>> = vec![Vec::new(); k];
    for e in &d.examples {
        by_class[e.label].push(e);
    }
    for (c, v) in by_class.iter_mut().enumerate() {
        shuffle(v, seed.wrapping_add(c as u64));
    }
    // Round-robin over the classes until n are taken, so a small class gives all it has.
    let mut out = Vec::with_capacity(n);
    let mut next = vec![0usize; k];
    while out.len() < n {
        let before = out.len();
        for c in 0..k {
            if out.len() < n && next[c] < by_class[c].len() {
                out.push(by_class[c][next[c]].clone());
                next[c] += 1;
            }
        }
        if out.len() == before {
            break;
        }
    }
    shuffle(&mut out, seed);
    Dataset { classes: d.classes.clone(), examples: out, notices: d.notices.clone() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(n: usize) -> Dataset {
        let examples = (0..n)
            .map(|i| Example { text: i.to_string(), pair: None, label: (i % 3 == 0) as usize, source: String::new() })
            .collect();
        Dataset { classes: vec!["neg".into(), "pos".into()], examples, notices: vec![] }
    }

    #[test]
    fn split_is_deterministic_and_disjoint() {
        let (t1, v1) = train_validation_split(data(1000), 0.2, 42);
        let (t2, v2) = train_validation_split(data(1000), 0.2, 42);
        assert_eq!((t1.len(), v1.len()), (800, 200));
        let key = |d: &Dataset| d.examples.iter().map(|e| e.text.clone()).collect::<Vec<_>>();
        assert_eq!(key(&t1), key(&t2));
        assert_eq!(key(&v1), key(&v2));
        let train: std::collections::HashSet<_> = key(&t1).into_iter().collect();
        assert!(key(&v1).iter().all(|t| !train.contains(t)));
        let (_, v3) = train_validation_split(data(1000), 0.2, 7);
        assert_ne!(key(&v1), key(&v3));
    }

    #[test]
    fn samples_are_balanced() {
        let s = balanced_sample(&data(1000), 100, 42);
        assert_eq!(s.counts(), vec![50, 50]);
        // A class with too few examples gives all it has.
        let s = balanced_sample(&data(30), 29, 1);
        assert_eq!(s.len(), 29);
        assert_eq!(s.counts()[1], 10);
    }
}
