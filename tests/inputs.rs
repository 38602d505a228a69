//! The inputs users bring, through the binary on the tiny BERT: sentence pairs (train, predict,
//! eval, embed), more than two classes, and files scored by `predict --data`.

mod common;
use common::{temp, tiny_model, wgbert, WORDS};

use std::path::Path;

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Pairs whose label depends on the second text alone ("pos" when it holds a positive word):
/// a model that never saw the second text is at chance.
fn pair_data(path: &Path, n: usize, seed: usize) {
    let mut lines = String::new();
    for i in 0..n {
        let pos = (i / 2 + seed) % 2 == 0;
        let noise = WORDS[(i * 7 + seed) % 10];
        let word = WORDS[if pos { 0 } else { 5 } + (i * 3 + seed) % 5];
        let row = serde_json::json!({
            "first": format!("the {noise} movie was"),
            "second": format!("very {word}"),
            "label": if pos { "pos" } else { "neg" },
        });
        lines += &format!("{row}\n");
    }
    std::fs::write(path, lines).unwrap();
}

/// Three classes by which word group a text holds: positive, negative, or neither.
fn three_class_data(path: &Path, n: usize, seed: usize) {
    let mut lines = String::from("text,label\n");
    for i in 0..n {
        let (label, word) = match (i + seed) % 3 {
            0 => ("good", WORDS[(i * 7 + seed) % 5]),
            1 => ("bad", WORDS[5 + (i * 7 + seed) % 5]),
            _ => ("plain", WORDS[10 + (i * 7 + seed) % 6]),
        };
        lines += &format!("\"the movie was {word}, {word}\",{label}\n");
    }
    std::fs::write(path, lines).unwrap();
}

const TRAIN_FLAGS: [&str; 8] = ["--epochs", "8", "--batch-size", "8", "--max-len", "16", "--lr", "3e-3"];

#[test]
fn sentence_pairs_train_predict_eval_and_embed() {
    let dir = temp("inputs-pairs");
    let model = tiny_model(&dir);
    let (train, test, run) = (dir.join("train.jsonl"), dir.join("test.jsonl"), dir.join("run"));
    pair_data(&train, 64, 0);
    pair_data(&test, 16, 1);
    let mut args = vec!["train", "--model", p(&model), "--data", p(&train), "--test-data", p(&test), "--out", p(&run)];
    args.extend(["--text-column", "first", "--text-pair-column", "second", "--dropout", "0"]);
    args.extend(TRAIN_FLAGS);
    let (ok, out, err) = wgbert(&args, "");
    assert!(ok, "{err}");
    let acc: f64 =
        out.lines().find(|l| l.starts_with("test")).unwrap().split("accuracy: ").nth(1).unwrap()[..6].parse().unwrap();
    assert!(acc >= 0.9, "the label is in the second text, test accuracy {acc}: {out}");
    let cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("model/config.json")).unwrap()).unwrap();
    assert_eq!(cfg["wgbert_text_pairs"], true);

    // predict: a tab between the two texts; the second decides.
    let (ok, out, err) = wgbert(
        &["predict", "--model", p(&run), "--json"],
        "the bad movie was\tvery good\nthe good movie was\tvery awful\n",
    );
    assert!(ok, "{err}");
    let labels: Vec<String> = out
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["label"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(labels, ["pos", "neg"]);
    let (ok, _, err) = wgbert(&["predict", "--model", p(&run)], "no tab here\n");
    assert!(!ok && err.contains("line 1 of standard input") && err.contains("tab"), "{err}");

    // eval needs the pair column of a pair model, and reads it.
    let (ok, _, err) = wgbert(&["eval", "--model", p(&run), "--data", p(&test), "--text-column", "first"], "");
    assert!(!ok && err.contains("--text-pair-column"), "{err}");
    let eval_args =
        ["eval", "--model", p(&run), "--data", p(&test), "--text-column", "first", "--text-pair-column", "second"];
    let (ok, out, err) = wgbert(&eval_args, "");
    assert!(ok && out.contains("precision"), "{err}");

    // embed --pairs: the second text changes the vector (token types 1), a missing tab is refused.
    let (ok, out, err) = wgbert(&["embed", "--model", p(&model), "--pairs", "--pool", "mean"], "a\tgood\na\tbad\n");
    assert!(ok, "{err}");
    let v: Vec<Vec<f32>> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(v.len(), 2);
    assert_ne!(v[0], v[1]);
    let (ok, _, err) = wgbert(&["embed", "--model", p(&model), "--pairs"], "a good\n");
    assert!(!ok && err.contains("tab"), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn three_classes_train_and_report_each_class() {
    let dir = temp("inputs-three");
    let model = tiny_model(&dir);
    let (train, test, run) = (dir.join("train.csv"), dir.join("test.csv"), dir.join("run"));
    three_class_data(&train, 90, 0);
    three_class_data(&test, 30, 1);
    let mut args = vec!["train", "--model", p(&model), "--data", p(&train), "--test-data", p(&test), "--out", p(&run)];
    args.extend(TRAIN_FLAGS);
    let (ok, out, err) = wgbert(&args, "");
    assert!(ok, "{err}");
    let cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("model/config.json")).unwrap()).unwrap();
    assert_eq!(cfg["num_labels"], 3);
    assert_eq!(cfg["problem_type"], "single_label_classification");
    let (ok, out2, err) = wgbert(&["eval", "--model", p(&run), "--data", p(&test), "--json"], "");
    assert!(ok, "{err}");
    let r: serde_json::Value = serde_json::from_str(&out2).unwrap();
    assert_eq!(r["classes"], serde_json::json!(["bad", "good", "plain"]));
    for k in ["precision", "recall", "f1"] {
        assert_eq!(r[k].as_array().unwrap().len(), 3, "{k} per class");
    }
    assert!(r["accuracy"].as_f64().unwrap() > 0.8, "{out}\n{out2}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn predict_data_scores_every_row_as_predict_does() {
    let dir = temp("inputs-score");
    let model = tiny_model(&dir);
    let (train, run) = (dir.join("train.csv"), dir.join("run"));
    three_class_data(&train, 60, 0);
    let mut args = vec!["train", "--model", p(&model), "--data", p(&train), "--out", p(&run)];
    args.extend(TRAIN_FLAGS);
    args[8] = "2"; // --epochs
    let (ok, _, err) = wgbert(&args, "");
    assert!(ok, "{err}");
    // Rows of different lengths (batched by length, written back in file order); no label column.
    let texts = ["the movie was good", "bad", "the the the movie was very plot, film, sad and awful", "fine film"];
    let mut csv = String::from("id,text\n");
    for (i, t) in texts.iter().enumerate() {
        csv += &format!("{i},\"{t}\"\n");
    }
    let data = dir.join("score.csv");
    std::fs::write(&data, csv).unwrap();
    let out_csv = dir.join("scores.csv");
    let (ok, _, err) =
        wgbert(&["predict", "--model", p(&run), "--data", p(&data), "--out", p(&out_csv), "--batch-size", "3"], "");
    assert!(ok && err.contains("scored 4 rows"), "{err}");
    let written = std::fs::read_to_string(&out_csv).unwrap();
    let lines: Vec<&str> = written.lines().collect();
    assert_eq!(lines[0], "source,label,score,p_bad,p_good,p_plain");
    assert_eq!(lines.len(), 5);
    let (ok, out, err) = wgbert(&["predict", "--model", p(&run), "--json"], &(texts.join("\n") + "\n"));
    assert!(ok, "{err}");
    for (row, one) in lines[1..].iter().zip(out.lines()) {
        let one: serde_json::Value = serde_json::from_str(one).unwrap();
        let f: Vec<&str> = row.split(',').collect();
        assert_eq!(f[1], one["label"].as_str().unwrap());
        let score: f64 = f[2].parse().unwrap();
        assert!((score - one["score"].as_f64().unwrap()).abs() < 1e-6, "{row} vs {one}");
        let sum: f64 = f[3..].iter().map(|v| v.parse::<f64>().unwrap()).sum();
        assert!((sum - 1.0).abs() < 1e-5, "probabilities sum to {sum}");
        assert!((f[3..].iter().map(|v| v.parse::<f64>().unwrap()).fold(0.0, f64::max) - score).abs() < 1e-6);
    }
    // JSON lines on standard output without --out; refusals name the problem.
    let (ok, out, _) = wgbert(&["predict", "--model", p(&run), "--data", p(&data)], "");
    assert!(ok);
    let first: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert!(first["source"].as_str().unwrap().ends_with("score.csv:2"));
    assert_eq!(first["probabilities"].as_object().unwrap().len(), 3);
    let (ok, _, err) = wgbert(&["predict", "--model", p(&run), "--data", p(&data), "--out", p(&data)], "");
    assert!(!ok && err.contains("is the --data file itself"), "{err}");
    assert!(std::fs::read_to_string(&data).unwrap().starts_with("id,text"), "the input is untouched");
    let (ok, _, err) = wgbert(&["predict", "--model", p(&run), "--data", p(&data), "--out", "x.txt"], "");
    assert!(!ok && err.contains(".csv or .jsonl"), "{err}");
    let (ok, _, err) = wgbert(&["predict", "--model", p(&run), "--data", p(&data), "--text-column", "body"], "");
    assert!(!ok && err.contains("no column \"body\""), "{err}");
    std::fs::write(dir.join("empty.csv"), "text\n").unwrap();
    let (ok, _, err) = wgbert(&["predict", "--model", p(&run), "--data", p(&dir.join("empty.csv"))], "");
    assert!(!ok && err.contains("no rows"), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}
