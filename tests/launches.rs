//! Launches per training step at a GPU's picks (the wide matmuls, fused attention's tiled
//! kernels), counted here on lavapipe with those variants forced: a GPU pays a fixed cost per
//! launch, so a step of MiniLM (6 layers, dropout 0.1) must stay within 150, in f32 and in mixed
//! precision. Counted on one- and two-layer models shaped like the fixture, with MiniLM's
//! dropouts, and projected to six layers: the second layer's launches are what each further
//! layer adds.

mod common;

use std::path::Path;
use std::process::Command;

const BUDGET: u64 = 150;
const LAYERS: u64 = 6;

/// The fixture's weights with `layers` encoder layers and MiniLM's dropouts.
fn model(dir: &Path, layers: usize) -> String {
    let m = dir.join(format!("layers{layers}"));
    std::fs::create_dir_all(&m).unwrap();
    let fixture = Path::new("tests/fixtures/tiny_bert_grad");
    std::fs::copy(fixture.join("model.safetensors"), m.join("model.safetensors")).unwrap();
    let config = std::fs::read_to_string(fixture.join("config.json")).unwrap();
    let config = config
        .replace("\"num_hidden_layers\": 2", &format!("\"num_hidden_layers\": {layers}"))
        .replace("\"attention_probs_dropout_prob\": 0.0", "\"attention_probs_dropout_prob\": 0.1")
        .replace("\"hidden_dropout_prob\": 0.0", "\"hidden_dropout_prob\": 0.1");
    assert!(config.contains(&format!("\"num_hidden_layers\": {layers}")) && !config.contains("dropout_prob\": 0.0"));
    std::fs::write(m.join("config.json"), config).unwrap();
    m.to_str().unwrap().to_string()
}

/// `bench train`'s launches per step with the GPU's variants forced, in `precision`.
fn launches(model: &str, precision: &str) -> u64 {
    let out = Command::new(env!("CARGO_BIN_EXE_wgbert"))
        .args(["bench", "train", "--model", model, "--batch-size", "2", "--max-len", "16", "--steps", "1", "--json"])
        .args(["--precision", precision])
        .args(["--tune", "off"])
        .env("WGBERT_MATMUL", "wide64")
        .env("WGBERT_ATTENTION", "fused")
        .env("WGBERT_FUSED_ATTENTION", "tiles")
        .env_remove("WGBERT_LINEAR_BACKWARD")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "bench train failed: {}", String::from_utf8_lossy(&out.stderr));
    let at = stdout.find("\"launches_per_step\":").expect("bench train --json reports launches_per_step");
    let rest = &stdout[at + "\"launches_per_step\":".len()..];
    let digits: String = rest.trim_start().chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().unwrap()
}

/// Launches per step projected to six layers.
fn six_layers(dir: &Path, precision: &str) -> u64 {
    let one = launches(&model(dir, 1), precision);
    let two = launches(&model(dir, 2), precision);
    assert!(two > one, "a second layer adds launches: {one} with one layer, {two} with two");
    let per_layer = two - one;
    let six = one + (LAYERS - 1) * per_layer;
    eprintln!("{precision}: launches per step: {one} with one layer, {per_layer} per further layer: {six} for six");
    six
}

#[test]
fn a_minilm_step_at_the_gpus_picks_makes_at_most_150_launches() {
    let dir = common::temp("launches");
    let six = six_layers(&dir, "f32");
    assert!(six <= BUDGET, "{six} launches per f32 step projected for six layers, over {BUDGET}");
    if common::gpu_with_f16().is_some() {
        let six = six_layers(&dir, "mixed");
        // Mixed precision rounds operands to f16 inside the matmuls: no launches of its own.
        assert!(six <= BUDGET, "{six} launches per mixed step projected for six layers, over {BUDGET}");
    }
}
