//! The browser's paths through the library (bytes in, bytes out, no run folder) against the
//! file paths the CLI takes: the same model, tokenizer, data, training steps and exported files.

mod common;
use common::{gpu, temp, tiny_data, tiny_model};

use std::path::Path;
use std::sync::atomic::AtomicBool;

use wgbert::checkpoint::{load_model_bytes, load_model_dir};
use wgbert::data::{table, Columns};
use wgbert::infer::Encoded;
use wgbert::model::{BertClassifier, Head};
use wgbert::tokenizer::{ConfigFiles, Tokenizer};
use wgbert::train::job::{run_job, TrainJob};
use wgbert::train::split::{split_data, Split};
use wgbert::train::{export, Outcome, Trainer};

#[test]
fn a_model_from_bytes_equals_the_model_from_its_folder() {
    let dir = Path::new("tests/fixtures/tiny_bert/safetensors");
    let (c1, k1, n1) = load_model_dir(dir).unwrap();
    let read = |f: &str| std::fs::read(dir.join(f)).unwrap();
    let (c2, k2, n2) = load_model_bytes(&read("config.json"), &read("model.safetensors")).unwrap();
    assert_eq!((c1, n1), (c2, n2));
    assert!(k1 == k2, "the tensors differ");
    // A config that does not fit the weights names both files.
    let mut cfg: serde_json::Value = serde_json::from_slice(&read("config.json")).unwrap();
    cfg["hidden_size"] = 64.into();
    let err = load_model_bytes(&serde_json::to_vec(&cfg).unwrap(), &read("model.safetensors")).unwrap_err().to_string();
    assert!(err.contains("model.safetensors") && err.contains("config.json"), "{err}");
}

#[test]
fn a_tokenizer_from_bytes_equals_the_tokenizer_from_its_folder() {
    let dir = temp("bytes-tokenizer");
    let m = tiny_model(&dir);
    std::fs::write(m.join("tokenizer_config.json"), r#"{"do_lower_case": false}"#).unwrap();
    let from_dir = Tokenizer::from_dir(&m).unwrap();
    let files = ConfigFiles {
        config_json: Some(std::fs::read(m.join("config.json")).unwrap()),
        tokenizer_json: None,
        tokenizer_config_json: Some(std::fs::read(m.join("tokenizer_config.json")).unwrap()),
    };
    let from_bytes = Tokenizer::from_bytes(Some(&std::fs::read(m.join("vocab.txt")).unwrap()), &files).unwrap();
    assert_eq!(from_dir.config(), from_bytes.config());
    assert!(!from_bytes.config().normalizer.lowercase, "tokenizer_config.json was read");
    for text in ["The movie was GOOD", "awful plot, very sad [SEP] film"] {
        assert_eq!(from_dir.encode(text), from_bytes.encode(text));
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_table_from_text_equals_the_table_from_its_file() {
    let dir = temp("bytes-table");
    let p = dir.join("a.csv");
    let text = "text,label\r\n\"good, \"\"really\"\"\",pos\nbad,neg\n";
    std::fs::write(&p, text).unwrap();
    let cols = Columns::default();
    let (a, b) = (table::read_table(&p, &cols).unwrap(), table::parse_table(&p, text, &cols).unwrap());
    assert_eq!(a.classes, b.classes);
    let rows = |d: &wgbert::data::Dataset| d.examples.iter().map(|e| (e.text.clone(), e.label)).collect::<Vec<_>>();
    assert_eq!(rows(&a), rows(&b));
    std::fs::remove_dir_all(dir).unwrap();
}

/// A run without a run folder (the browser's) takes the CLI's steps, loss for loss, writes
/// nothing, and its exported bytes are the files the CLI writes.
#[test]
fn training_without_a_run_folder_equals_the_cli_run() {
    let g = gpu();
    let dir = temp("bytes-train");
    let mut job = TrainJob::new(tiny_model(&dir), tiny_data(&dir, "train.jsonl", 24, 0));
    job.options.epochs = 2;
    job.options.batch_size = 8;
    job.options.max_len = 16;
    job.options.lr = 1e-3;
    let run = dir.join("run");
    let r = run_job(&g, &job, &run, &AtomicBool::new(false), |_| {}, |_| {}).unwrap();
    assert_eq!(r.outcome, Outcome::Finished);
    let cli: wgbert::train::History =
        serde_json::from_slice(&std::fs::read(run.join("history.json")).unwrap()).unwrap();

    // The browser's way: the data as text, the model as bytes, no folder.
    let text = std::fs::read_to_string(&job.data).unwrap();
    let all = table::parse_table(&job.data, &text, &Columns::default()).unwrap();
    let split = Split {
        validation_fraction: job.validation_fraction,
        limit_train: None,
        limit_test: None,
        seed: job.options.seed,
    };
    let d = split_data(all, &job.data, None, &split).unwrap();
    let read = |f: &str| std::fs::read(job.model.join(f)).unwrap();
    let (config, ckpt, _) = load_model_bytes(&read("config.json"), &read("model.safetensors")).unwrap();
    let files = ConfigFiles { config_json: Some(read("config.json")), ..ConfigFiles::default() };
    let tok = Tokenizer::from_bytes(Some(&read("vocab.txt")), &files).unwrap();
    let model =
        BertClassifier::from_checkpoint(&g, &config, &ckpt, Head::Train { num_labels: 1, seed: job.options.seed })
            .unwrap();
    let (train, val) = (Encoded::new(&tok, &d.train, 16), Encoded::new(&tok, &d.validation, 16));
    let mut t = Trainer::new(&g, &model, job.options.clone(), train.len(), tok.pad_id()).unwrap();
    let list = || {
        let mut v: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.file_name()).collect();
        v.sort();
        v
    };
    let before = list();
    let out = t.train(None, &train, Some((&val, d.classes.as_slice())), &AtomicBool::new(false), |_| {}).unwrap();
    assert_eq!(out, Outcome::Finished);
    let after = list();
    assert_eq!(before, after, "a run without a folder writes nothing");
    assert_eq!(t.history.steps.len(), cli.steps.len());
    for (a, b) in t.history.steps.iter().zip(&cli.steps) {
        assert!((a.1 - b.1).abs() <= 1e-6, "step {}: {} here, {} in the CLI's run", a.0, a.1, b.1);
    }

    let tokenizer = vec![("vocab.txt".to_string(), read("vocab.txt"))];
    let bytes = pollster::block_on(export::export_files(&model, &d.classes, tokenizer)).unwrap();
    let names: Vec<&str> = bytes.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["model.safetensors", "config.json", "vocab.txt"]);
    for (name, b) in &bytes {
        let written = std::fs::read(run.join("model").join(name)).unwrap();
        if name == "model.safetensors" {
            // Same names and shapes; values within the steps' agreement.
            let (x, _) = wgbert::checkpoint::load_tensors(&run.join("model").join(name)).unwrap();
            let p = dir.join("mem.safetensors");
            std::fs::write(&p, b).unwrap();
            let (y, _) = wgbert::checkpoint::load_tensors(&p).unwrap();
            assert_eq!(x.keys().collect::<Vec<_>>(), y.keys().collect::<Vec<_>>());
            for (k, t) in &x {
                let e = t.data.iter().zip(&y[k].data).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
                assert!(e <= 1e-5, "{k}: differs by {e}");
            }
        } else {
            assert_eq!(&written, b, "{name}");
        }
    }
    std::fs::remove_dir_all(dir).unwrap();
}
