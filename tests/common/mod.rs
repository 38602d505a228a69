//! Shared by the integration tests: one GPU per test binary, seeded random data, comparisons.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use wgbert::gpu::{Gpu, GpuOptions, Tensor};

/// The adapter the tests run on (lavapipe in CI), opened once per test binary.
pub fn gpu() -> Arc<Gpu> {
    static GPU: OnceLock<Arc<Gpu>> = OnceLock::new();
    GPU.get_or_init(|| {
        let g = Gpu::new(&GpuOptions::from_env()).unwrap_or_else(|e| panic!("tests need a GPU adapter: {e}"));
        eprintln!("testing on {} ({:?})", g.info().name, g.info().backend);
        g
    })
    .clone()
}

/// The test GPU when it has shader-f16 (what f16 storage and mixed precision need); else None,
/// and the test says it skipped.
pub fn gpu_with_f16() -> Option<Arc<Gpu>> {
    let g = gpu();
    if !g.has_f16() {
        eprintln!("skipped: {} has no shader-f16", g.info().name);
        return None;
    }
    Some(g)
}

/// The library's seeded generator (splitmix64) with the draws the tests need.
pub struct Rng(wgbert::data::sample::Rng);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(wgbert::data::sample::Rng::new(seed))
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }
    /// Uniform in [-1, 1).
    pub fn uniform(&mut self) -> f32 {
        ((self.next_u64() >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
    pub fn vec(&mut self, n: usize, scale: f32) -> Vec<f32> {
        (0..n).map(|_| self.uniform() * scale).collect()
    }
    pub fn below(&mut self, n: u32) -> u32 {
        (self.next_u64() % n as u64) as u32
    }
}

pub fn f64s(x: &[f32]) -> Vec<f64> {
    x.iter().map(|&v| v as f64).collect()
}

pub fn up(name: &str, shape: &[usize], data: &[f32]) -> Tensor {
    gpu().upload(name, shape, data).unwrap()
}

/// Largest |got − want|, and where.
pub fn max_abs_err(got: &[f32], want: &[f64]) -> (f64, usize) {
    assert_eq!(got.len(), want.len(), "lengths differ");
    got.iter().zip(want).enumerate().fold((0.0, 0), |(m, at), (i, (&g, &w))| {
        let e = (g as f64 - w).abs();
        if e > m || e.is_nan() {
            (e, i)
        } else {
            (m, at)
        }
    })
}

/// Asserts |got − want| <= atol + rtol·|want| everywhere; reports the worst element.
pub fn assert_close(what: &str, got: &[f32], want: &[f64], atol: f64, rtol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: lengths differ");
    let mut worst = (0.0f64, 0usize);
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let excess = (g as f64 - w).abs() - (atol + rtol * w.abs());
        if !(excess <= worst.0) || g.is_nan() {
            worst = (if g.is_nan() { f64::INFINITY } else { excess }, i);
        }
    }
    let (err, at) = max_abs_err(got, want);
    assert!(
        worst.0 <= 0.0,
        "{what}: element {} is {} but the reference says {} (atol {atol}, rtol {rtol}); max abs error {err:.3e} at {at}",
        worst.1,
        got[worst.1],
        want[worst.1]
    );
}

// ---------- a tiny model and data set for training tests ----------

/// A fresh folder under the system temp dir, unique to this test process.
pub fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("wgbert-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

pub const WORDS: [&str; 16] = [
    "good", "great", "fine", "nice", "loved", "bad", "awful", "poor", "sad", "hated", "movie", "film", "the", "was",
    "very", "plot",
];

/// A model folder: the fixture's weights and config with a 300-token vocabulary.
pub fn tiny_model(dir: &Path) -> PathBuf {
    let m = dir.join("model");
    std::fs::create_dir_all(&m).unwrap();
    for f in ["config.json", "model.safetensors"] {
        std::fs::copy(Path::new("tests/fixtures/tiny_bert_grad").join(f), m.join(f)).unwrap();
    }
    let mut vocab: Vec<String> = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"].iter().map(|s| s.to_string()).collect();
    vocab.extend(WORDS.iter().map(|s| s.to_string()));
    vocab.extend(('a'..='z').map(|c| c.to_string()));
    while vocab.len() < 300 {
        vocab.push(format!("[unused{}]", vocab.len()));
    }
    std::fs::write(m.join("vocab.txt"), vocab.join("\n") + "\n").unwrap();
    m
}

/// JSONL reviews: positive ones use words 0..5, negative ones 5..10.
pub fn tiny_data(dir: &Path, name: &str, n: usize, seed: usize) -> PathBuf {
    let mut lines = String::new();
    for i in 0..n {
        let pos = i % 2 == 0;
        let base = if pos { 0 } else { 5 };
        let w = |k: usize| WORDS[base + (i * 7 + k * 3 + seed) % 5];
        lines += &format!(
            "{{\"text\": \"the movie was very {} and {} {}\", \"label\": \"{}\"}}\n",
            w(0),
            w(1),
            w(2),
            if pos { "pos" } else { "neg" }
        );
    }
    let p = dir.join(name);
    std::fs::write(&p, lines).unwrap();
    p
}

/// Runs the wgbert binary with `args` and `stdin`; returns (success, stdout, stderr).
pub fn wgbert(args: &[&str], stdin: &str) -> (bool, String, String) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_wgbert"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A command that fails before reading its input closes the pipe: not an error here.
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
