//! Classifiers saved by transformers (`BertForSequenceClassification.save_pretrained`) load with
//! their own heads and predict what transformers predicts; a head, pooler or label list that
//! does not fit is an error naming it, never a random substitute.
//! Fixtures: tests/fixtures/hf_classifier (tools/fixtures/make_hf_classifier_fixtures.py).

mod common;

use std::path::{Path, PathBuf};

use common::{temp, wgbert};
use serde_json::Value;
use wgbert::checkpoint::{load_tensors, save_tensors, HostTensor};

const FIXTURES: &str = "tests/fixtures/hf_classifier";
/// transformers' float32 forward against ours: both f32, different summation orders.
const TOL: f64 = 1e-5;

fn expected(name: &str) -> Value {
    serde_json::from_slice(&std::fs::read(Path::new(FIXTURES).join(format!("{name}.expected.json"))).unwrap()).unwrap()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect()
}

fn floats(v: &Value) -> Vec<Vec<f64>> {
    v.as_array().unwrap().iter().map(|r| r.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()).collect()
}

/// A CSV of the fixture's texts with transformers' labels.
fn texts_csv(dir: &Path, e: &Value) -> PathBuf {
    let mut csv = String::from("text,label\n");
    for (t, l) in strings(&e["texts"]).iter().zip(strings(&e["labels"])) {
        csv += &format!("\"{}\",{l}\n", t.replace('"', "\"\""));
    }
    let p = dir.join("texts.csv");
    std::fs::write(&p, csv).unwrap();
    p
}

#[test]
fn predict_and_eval_equal_transformers_on_two_and_three_label_heads() {
    let dir = temp("hf-heads-predict");
    for name in ["two_labels", "three_labels"] {
        let model = format!("{FIXTURES}/{name}");
        let e = expected(name);
        let (texts, labels, probs) = (strings(&e["texts"]), strings(&e["labels"]), floats(&e["probabilities"]));
        let classes: Vec<String> = {
            let cfg: Value = serde_json::from_slice(&std::fs::read(format!("{model}/config.json")).unwrap()).unwrap();
            (0..probs[0].len()).map(|i| cfg["id2label"][i.to_string()].as_str().unwrap().to_string()).collect()
        };

        // Every class's probability, through `predict --data`.
        let csv = texts_csv(&dir, &e);
        let (ok, out, err) = wgbert(&["predict", "--model", &model, "--data", csv.to_str().unwrap()], "");
        assert!(ok, "{name}: {err}");
        let rows: Vec<Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(rows.len(), texts.len());
        let mut worst = 0.0f64;
        for (i, row) in rows.iter().enumerate() {
            assert_eq!(row["label"], labels[i].as_str(), "{name}: text {i}");
            for (k, class) in classes.iter().enumerate() {
                let got = row["probabilities"][class].as_f64().unwrap();
                worst = worst.max((got - probs[i][k]).abs());
            }
            let top = probs[i].iter().cloned().fold(0.0, f64::max);
            worst = worst.max((row["score"].as_f64().unwrap() - top).abs());
        }
        eprintln!("{name}: predict --data against transformers: max difference {worst:.2e}");
        assert!(worst <= TOL, "{name}: probabilities differ from transformers' by {worst:.2e}");

        // The same through `predict TEXT… --json`.
        let mut args = vec!["predict", "--model", &model, "--json"];
        args.extend(texts.iter().map(String::as_str));
        let (ok, out, err) = wgbert(&args, "");
        assert!(ok, "{name}: {err}");
        for (i, line) in out.lines().enumerate() {
            let row: Value = serde_json::from_str(line).unwrap();
            assert_eq!(row["label"], labels[i].as_str(), "{name}: text {i}");
        }

        // And as text: two classes keep the tutorial's `input: TEXT : score: P(last class)`; past
        // two the score is the top class's, so the line names that class.
        let plain: Vec<&str> = args.iter().copied().filter(|a| *a != "--json").collect();
        let (ok, out, err) = wgbert(&plain, "");
        assert!(ok, "{name}: {err}");
        assert_eq!(out.lines().count(), texts.len(), "{name}: {out}");
        for (i, line) in out.lines().enumerate() {
            let names_label = line.ends_with(&format!(" : label: {}", labels[i]));
            assert_eq!(names_label, name == "three_labels", "{name}: text {i}: {line}");
        }

        // `eval` on transformers' own labels: every one right, and the loss is theirs.
        let (ok, out, err) = wgbert(&["eval", "--model", &model, "--data", csv.to_str().unwrap(), "--json"], "");
        assert!(ok, "{name}: {err}");
        let report: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(report["accuracy"].as_f64().unwrap(), 1.0, "{name}: {report}");
        let loss =
            probs.iter().zip(&labels).map(|(p, l)| -p[classes.iter().position(|c| c == l).unwrap()].ln()).sum::<f64>()
                / probs.len() as f64;
        let got = report["loss"].as_f64().unwrap();
        assert!((got - loss).abs() <= TOL, "{name}: eval loss {got}, transformers' {loss}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// A copy of the two-label fixture with its tensors changed by `edit` and its config by `config`.
fn altered(
    dir: &Path,
    name: &str,
    edit: impl Fn(&mut std::collections::BTreeMap<String, HostTensor>),
    config: impl Fn(&mut Value),
) -> String {
    let src = Path::new(FIXTURES).join("two_labels");
    let out = dir.join(name);
    std::fs::create_dir_all(&out).unwrap();
    std::fs::copy(src.join("vocab.txt"), out.join("vocab.txt")).unwrap();
    let (mut tensors, meta) = load_tensors(&src.join("model.safetensors")).unwrap();
    edit(&mut tensors);
    let list: Vec<(String, HostTensor)> = tensors.into_iter().collect();
    save_tensors(&out.join("model.safetensors"), &list, meta).unwrap();
    let mut cfg: Value = serde_json::from_slice(&std::fs::read(src.join("config.json")).unwrap()).unwrap();
    config(&mut cfg);
    std::fs::write(out.join("config.json"), cfg.to_string()).unwrap();
    out.to_str().unwrap().to_string()
}

#[test]
fn heads_that_do_not_fit_are_errors_naming_the_tensor() {
    let dir = temp("hf-heads-errors");
    let keep = |_: &mut Value| {};
    let cases: Vec<(String, &str)> = vec![
        (altered(&dir, "no-bias", |t| drop(t.remove("classifier.bias")), keep), "classifier.bias"),
        (
            altered(
                &dir,
                "narrow-head",
                |t| {
                    t.insert("classifier.weight".into(), HostTensor::new(vec![2, 16], vec![0.0; 32]));
                },
                keep,
            ),
            "classifier.weight: expected shape [2, 32], found [2, 16]",
        ),
        (
            altered(&dir, "no-pooler", |t| t.retain(|k, _| !k.contains("pooler")), keep),
            "no pooler weights (pooler.dense.weight",
        ),
        (altered(&dir, "three-names", |_| {}, |c| c["id2label"]["2"] = "maybe".into()), "id2label has ids [0, 1, 2]"),
        (
            altered(
                &dir,
                "one-output",
                |t| {
                    let w = t["classifier.weight"].data[..32].to_vec();
                    t.insert("classifier.weight".into(), HostTensor::new(vec![1, 32], w));
                    t.insert("classifier.bias".into(), HostTensor::new(vec![1], vec![0.0]));
                },
                |c| {
                    c["id2label"] = serde_json::json!({"0": "pos"});
                    c["problem_type"] = "regression".into();
                },
            ),
            "regression",
        ),
        (altered(&dir, "encoder", |t| t.retain(|k, _| !k.starts_with("classifier")), keep), "no classifier weights"),
    ];
    for (model, want) in &cases {
        let (ok, _, err) = wgbert(&["predict", "--model", model, "the movie"], "");
        assert!(!ok, "{model}: a head that does not fit must not score");
        assert!(err.contains(want), "{model}: expected {want:?} in: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    // embed's pooler needs the pooler's weights; cls and mean need none.
    let no_pooler = "tests/fixtures/tiny_bert/no_pooler";
    let vocab = dir.join("no_pooler");
    std::fs::create_dir_all(&vocab).unwrap();
    for f in ["config.json", "model.safetensors"] {
        std::fs::copy(Path::new(no_pooler).join(f), vocab.join(f)).unwrap();
    }
    std::fs::copy("tests/fixtures/tiny_bert/tf/vocab.txt", vocab.join("vocab.txt")).unwrap();
    let m = vocab.to_str().unwrap();
    let (ok, _, err) = wgbert(&["embed", "--model", m, "--pool", "pooler"], "the movie\n");
    assert!(!ok && err.contains("no pooler weights (pooler.dense.weight"), "{err}");
    let (ok, out, err) = wgbert(&["embed", "--model", m, "--pool", "cls"], "the movie\n");
    assert!(ok, "{err}");
    assert_eq!(serde_json::from_str::<Vec<f32>>(out.trim()).unwrap().len(), 32);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn training_from_a_head_of_another_shape_says_it_starts_a_fresh_one() {
    let dir = temp("hf-heads-train");
    let data = dir.join("data.jsonl");
    let mut lines = String::new();
    for i in 0..24 {
        let (text, label) = if i % 2 == 0 { ("the movie was great", "pos") } else { ("the movie was bad", "neg") };
        lines += &format!("{{\"text\": \"{text}\", \"label\": \"{label}\"}}\n");
    }
    std::fs::write(&data, lines).unwrap();
    let run = dir.join("run");
    let (ok, _, err) = wgbert(
        &[
            "train",
            "--model",
            &format!("{FIXTURES}/two_labels"),
            "--data",
            data.to_str().unwrap(),
            "--out",
            run.to_str().unwrap(),
            "--epochs",
            "1",
            "--batch-size",
            "8",
            "--max-len",
            "16",
        ],
        "",
    );
    assert!(ok, "{err}");
    assert!(
        err.contains("a fresh classifier: the checkpoint's has 2 outputs (shape [2, 32]), this run needs 1"),
        "{err}"
    );
    assert!(!err.contains("a fresh pooler"), "the checkpoint's pooler is used: {err}");
    std::fs::remove_dir_all(dir).unwrap();
}
