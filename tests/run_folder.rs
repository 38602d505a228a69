//! What a run folder holds and how a run treats it: the dropout of the model's own config, a
//! resume that refuses changed data, a fresh step-0 over a stale one, and train.log kept when a
//! run fails. Each through the `wgbert` binary, on the tiny model.

mod common;
use common::{temp, tiny_data, tiny_model, wgbert};

use std::path::Path;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn train(model: &Path, data: &Path, out: &Path, extra: &[&str]) -> (bool, String) {
    let mut args = vec!["train", "--model", s(model), "--data", s(data), "--out", s(out)];
    args.extend(["--epochs", "1", "--batch-size", "8", "--max-len", "16"]);
    args.extend(extra);
    let (ok, out, err) = wgbert(&args, "");
    (ok, out + &err)
}

fn weights(run: &Path) -> Vec<u8> {
    std::fs::read(run.join("model/model.safetensors")).unwrap()
}

#[test]
fn dropout_defaults_to_the_models_config() {
    let dir = temp("run-folder-dropout");
    let model = tiny_model(&dir); // config.json: every dropout 0.0
    let data = tiny_data(&dir, "train.jsonl", 24, 0);
    // Tuning off: runs beside each other may time the kernel variants differently, and variants
    // round differently (fused multiply-adds or not); the weights are compared bit for bit.
    let (ok, text) = train(&model, &data, &dir.join("config"), &["--tune", "off"]);
    assert!(ok, "{text}");
    let (ok, text) = train(&model, &data, &dir.join("zero"), &["--tune", "off", "--dropout", "0"]);
    assert!(ok, "{text}");
    let (ok, text) = train(&model, &data, &dir.join("tenth"), &["--tune", "off", "--dropout", "0.1"]);
    assert!(ok, "{text}");
    assert_eq!(weights(&dir.join("config")), weights(&dir.join("zero")), "the config's dropout 0 is --dropout 0");
    assert_ne!(weights(&dir.join("config")), weights(&dir.join("tenth")), "--dropout 0.1 overrides it");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn resume_refuses_changed_data_and_a_new_run_writes_its_own_step_0() {
    let dir = temp("run-folder-resume");
    let model = tiny_model(&dir);
    let data = tiny_data(&dir, "train.jsonl", 24, 0);
    let run = dir.join("run");
    // A failed run left a step-0 of other weights here: the new run must not keep it.
    let stale = run.join("checkpoints/step-0");
    std::fs::create_dir_all(&stale).unwrap();
    std::fs::write(stale.join("model.safetensors"), b"stale weights of another run").unwrap();
    let (ok, text) = train(&model, &data, &run, &[]);
    assert!(ok, "{text}");
    let step0 = std::fs::read(stale.join("model.safetensors")).unwrap();
    assert_ne!(step0, b"stale weights of another run");
    assert!(wgbert(&["predict", "--model", s(&stale), "the movie"], "").0, "step-0 is a loadable classifier");

    // The same data resumes (a finished run has nothing left to do); other data is refused.
    let (ok, out, err) = wgbert(&["train", "--resume", s(&run)], "");
    assert!(ok, "{out}{err}");
    tiny_data(&dir, "train.jsonl", 24, 1);
    let (ok, out, err) = wgbert(&["train", "--resume", s(&run)], "");
    assert!(!ok, "{out}{err}");
    assert!(err.contains("the data changed since this run began"), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_run_that_fails_keeps_its_reason_in_train_log() {
    let dir = temp("run-folder-log");
    let model = tiny_model(&dir);
    let data = tiny_data(&dir, "train.jsonl", 24, 0);
    let run = dir.join("run");
    let mut args = vec!["train", "--model", s(&model), "--data", s(&data), "--out", s(&run)];
    args.extend(["--epochs", "1", "--batch-size", "8", "--max-len", "16", "--precision", "mixed"]);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wgbert"))
        .args(&args)
        .env("WGBERT_NO_F16", "1")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let log = std::fs::read_to_string(run.join("train.log")).expect("train.log is written when a run fails");
    assert!(log.contains("error: --precision mixed needs an adapter with the shader-f16 feature"), "{log}");
    std::fs::remove_dir_all(dir).unwrap();
}
