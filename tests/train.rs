//! Fine-tuning end to end on a tiny random BERT (tests/fixtures/tiny_bert_grad's weights, vocab
//! of 300) and a tiny generated sentiment set: the loss falls, export → reload gives identical
//! predictions, a resumed run ends on the same parameters, and data errors are clear messages.

mod common;
use common::{gpu, gpu_with_f16, temp, tiny_data, tiny_model};

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use wgbert::infer::{predict, Classifier, Inputs};
use wgbert::train::job::{run_job, TrainJob};
use wgbert::train::{self, Event, Outcome};

fn job(dir: &Path, epochs: usize) -> TrainJob {
    let mut j = TrainJob::new(tiny_model(dir), tiny_data(dir, "train.jsonl", 40, 0));
    j.test_data = Some(tiny_data(dir, "test.jsonl", 16, 1));
    j.options.epochs = epochs;
    j.options.batch_size = 8;
    j.options.max_len = 16;
    j.options.lr = 1e-3;
    j
}

/// The mean step loss of the last four steps is below `factor` times that of the first four.
fn assert_loss_fell(h: &train::History, factor: f64) {
    let mean = |s: &[(u64, f64)]| s.iter().map(|s| s.1).sum::<f64>() / s.len() as f64;
    let (first, last) = (mean(&h.steps[..4]), mean(&h.steps[h.steps.len() - 4..]));
    assert!(last < factor * first, "training loss went from {first:.4} to {last:.4}");
}

#[test]
fn training_lowers_the_loss_and_the_export_reloads_to_the_same_predictions() {
    let g = gpu();
    let dir = temp("train-lower");
    let mut j = job(&dir, 6);
    j.options.lr = 3e-3;
    let run = dir.join("run");
    let mut scoring = Vec::new();
    let on_event = |e: Event| {
        if let Event::Scoring { set, done, total } = e {
            scoring.push((set, done, total));
        }
    };
    let r = run_job(&g, &j, &run, &AtomicBool::new(false), on_event, |_| {}).unwrap();
    assert_eq!(r.outcome, Outcome::Finished);
    let h: train::History = serde_json::from_slice(&std::fs::read(run.join("history.json")).unwrap()).unwrap();
    assert_eq!(h.epochs.len(), 6);
    assert_loss_fell(&h, 0.7);
    assert!(h.epochs.iter().all(|e| e.val_loss.is_some()));
    // examples.json names every example the run used, each once, with its label.
    let ex: serde_json::Value = serde_json::from_slice(&std::fs::read(run.join("examples.json")).unwrap()).unwrap();
    let sources = |part: &str| -> Vec<String> {
        ex[part].as_array().unwrap().iter().map(|e| e["source"].as_str().unwrap().to_string()).collect()
    };
    let (tr, va, te) = (sources("train"), sources("validation"), sources("test"));
    assert_eq!((tr.len() + va.len(), te.len()), (40, 16));
    // Scoring reports its progress batch by batch: six validation passes, then the test set.
    let passes: Vec<(&str, Vec<usize>)> = scoring.iter().fold(Vec::new(), |mut v, &(set, done, total)| {
        assert_eq!(total, if set == "test" { 16 } else { va.len() }, "{set}");
        match v.last_mut() {
            Some((s, seen)) if *s == set && seen.last() < Some(&total) => seen.push(done),
            _ => v.push((set, vec![done])),
        }
        v
    });
    let sets: Vec<&str> = passes.iter().map(|p| p.0).collect();
    assert_eq!(sets, [vec!["validation"; 6], vec!["test"]].concat());
    for (set, seen) in &passes {
        assert!(seen.windows(2).all(|w| w[0] < w[1]), "{set}: {seen:?}");
        assert_eq!(seen.last(), Some(&if *set == "test" { 16 } else { va.len() }), "{set}: {seen:?}");
    }
    assert!(tr.iter().all(|s| !va.contains(s)), "no example both trains and validates");
    assert!(ex["train"][0]["label"] == "pos" || ex["train"][0]["label"] == "neg");
    // "order": one permutation of the training list per epoch, the one the batches took.
    let order = ex["order"].as_array().unwrap();
    assert_eq!(order.len(), 6);
    for (e, o) in order.iter().enumerate() {
        let o: Vec<usize> = o.as_array().unwrap().iter().map(|i| i.as_u64().unwrap() as usize).collect();
        assert_eq!(o, train::epoch_order(tr.len(), j.options.seed, e));
        let mut sorted = o.clone();
        sorted.sort();
        assert_eq!(sorted, (0..tr.len()).collect::<Vec<_>>());
    }
    assert_ne!(order[0], order[1], "each epoch has its own order");
    // checkpoints/step-0: the starting weights in the HF layout, kept after later saves: the
    // encoder as pretrained, the fresh head, the tokenizer files; it loads as a classifier.
    let step0 = run.join("checkpoints").join(train::INITIAL_CHECKPOINT);
    for f in ["model.safetensors", "config.json", "vocab.txt"] {
        assert!(step0.join(f).is_file(), "step-0 has {f}");
    }
    let initial = wgbert::checkpoint::load_tensors(&step0.join("model.safetensors")).unwrap().0;
    let pretrained = wgbert::checkpoint::load_tensors(&j.model.join("model.safetensors")).unwrap().0;
    let finished = wgbert::checkpoint::load_tensors(&run.join("model/model.safetensors")).unwrap().0;
    let word = "bert.embeddings.word_embeddings.weight";
    let pre_word = pretrained.get(word).or_else(|| pretrained.get("embeddings.word_embeddings.weight")).unwrap();
    assert_eq!(initial[word].data, pre_word.data);
    assert_ne!(initial[word].data, finished[word].data, "training moved the embeddings");
    assert_ne!(initial["classifier.weight"].data, finished["classifier.weight"].data);
    assert_eq!(Classifier::load(&g, &step0).unwrap().classes, ["neg", "pos"]);
    assert!(std::fs::read_to_string(run.join("history.csv"))
        .unwrap()
        .starts_with("epoch,loss,accuracy,val_loss,val_accuracy"));
    let test = r.test.expect("a test report");
    assert!(test.accuracy > 0.8, "test accuracy {}", test.accuracy);

    // The exported folder reloads to the same parameters, hence the same predictions, as the
    // model that finished training (its state is the run's last checkpoint).
    let Classifier { model, classes, tokenizer: tok, .. } = Classifier::load(&g, &run).unwrap();
    assert_eq!(classes, ["neg", "pos"]);
    let texts = vec![
        "the movie was very great and good nice".to_string(),
        "the movie was very awful and bad sad".to_string(),
        String::new(),
    ];
    let reloaded = predict(&g, &model, &tok, Inputs::Texts(&texts), 16, 8).unwrap();
    let model2 = Classifier::load(&g, &run).unwrap().model;
    let latest = std::fs::read_to_string(run.join("checkpoints/latest")).unwrap();
    model2.params.load(&g, &run.join("checkpoints").join(latest.trim()).join("params.safetensors")).unwrap();
    assert_eq!(reloaded, predict(&g, &model2, &tok, Inputs::Texts(&texts), 16, 8).unwrap());
    assert_eq!(reloaded[0].0, 1, "'great' is positive");
    assert_eq!(reloaded[1].0, 0, "'awful' is negative");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_head_on_the_mean_of_the_tokens_trains_exports_and_reloads() {
    let g = gpu();
    let dir = temp("train-mean");
    let mut j = job(&dir, 6);
    j.options.lr = 3e-3;
    j.options.pool = wgbert::model::Pooling::Mean;
    let run = dir.join("run");
    let r = run_job(&g, &j, &run, &AtomicBool::new(false), |_| {}, |_| {}).unwrap();
    let h: train::History = serde_json::from_slice(&std::fs::read(run.join("history.json")).unwrap()).unwrap();
    assert_loss_fell(&h, 0.7);
    assert!(r.test.unwrap().accuracy > 0.8);
    // The export says what the head reads; the reloaded model reads it too, and its predictions
    // are the pooler head's only if the pooling was ignored (they differ).
    let cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("model/config.json")).unwrap()).unwrap();
    assert_eq!(cfg["wgbert_pooling"], "mean");
    let Classifier { mut model, tokenizer: tok, .. } = Classifier::load(&g, &run).unwrap();
    assert_eq!(model.pooling, wgbert::model::Pooling::Mean);
    let texts =
        vec!["the movie was very great and good nice".to_string(), "the movie was very awful and bad sad".to_string()];
    let mean = predict(&g, &model, &tok, Inputs::Texts(&texts), 16, 8).unwrap();
    assert!(mean[0].1 > mean[1].1 + 0.2, "'great' scores above 'awful': {mean:?}");
    model.pooling = wgbert::model::Pooling::Pooler;
    assert_ne!(mean, predict(&g, &model, &tok, Inputs::Texts(&texts), 16, 8).unwrap());
    // A config naming an unknown pooling is refused, naming the key.
    let bad = cfg.to_string().replace("\"wgbert_pooling\":\"mean\"", "\"wgbert_pooling\":\"max\"");
    std::fs::write(run.join("model/config.json"), bad).unwrap();
    let err = Classifier::load(&g, &run).err().expect("an unknown pooling is an error").to_string();
    assert!(err.contains("wgbert_pooling"), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn frozen_layers_keep_their_weights_and_the_rest_learns() {
    let g = gpu();
    let dir = temp("train-freeze");
    let mut j = job(&dir, 6);
    j.options.lr = 3e-3;
    j.options.pool = wgbert::model::Pooling::Mean;
    j.options.freeze_layers = 1;
    let run = dir.join("run");
    let r = run_job(&g, &j, &run, &AtomicBool::new(false), |_| {}, |_| {}).unwrap();
    assert!(r.test.unwrap().accuracy > 0.8);
    let before = wgbert::checkpoint::load_tensors(&run.join("checkpoints/step-0/model.safetensors")).unwrap().0;
    let after = wgbert::checkpoint::load_tensors(&run.join("model/model.safetensors")).unwrap().0;
    for (name, t) in &after {
        let frozen = name.starts_with("bert.embeddings.") || name.starts_with("bert.encoder.layer.0.");
        let trained = name.starts_with("bert.encoder.layer.1.") || name.starts_with("classifier.");
        if frozen {
            assert_eq!(t.data, before[name].data, "{name} is frozen");
        } else if trained {
            assert_ne!(t.data, before[name].data, "{name} trains");
        }
    }
    // More layers than the model has is refused.
    j.options.freeze_layers = 3;
    let err = run_job(&g, &j, &dir.join("run3"), &AtomicBool::new(false), |_| {}, |_| {}).unwrap_err().to_string();
    assert!(err.contains("--freeze-layers 3: the model has 2 encoder layers"), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// Runs `j` into `run` and interrupts it, as Ctrl-C does, when step 3 of the first epoch
/// reports. Where the trainer queues steps (on an adapter that queues work) step 4 is
/// already submitted by then, finishes and is saved with the rest: the run stops at 4; else 3.
fn interrupt_during_step_3(g: &std::sync::Arc<wgbert::gpu::Gpu>, j: &TrainJob, run: &Path) {
    let stop = AtomicBool::new(false);
    let stop_at_3 = |e: Event| {
        if let Event::Step { epoch: 0, step: 3, .. } = e {
            stop.store(true, Ordering::SeqCst);
        }
    };
    let r = run_job(g, j, run, &stop, stop_at_3, |_| {}).unwrap();
    let queued = g.queues_work();
    assert_eq!(r.outcome, Outcome::Interrupted { step: if queued { 4 } else { 3 } });
}

#[test]
fn an_interrupted_run_resumes_to_the_same_parameters() {
    let g = gpu();
    let dir = temp("train-resume");
    let j = job(&dir, 2);
    let straight = dir.join("straight");
    run_job(&g, &j, &straight, &AtomicBool::new(false), |_| {}, |_| {}).unwrap();

    let resumed = dir.join("resumed");
    interrupt_during_step_3(&g, &j, &resumed);
    assert!(!resumed.join("model").exists(), "no export from an unfinished run");
    // `wgbert export` writes the interrupted run's state as a loadable model.
    train::job::export_run(&g, &resumed, &dir.join("partial")).unwrap();
    let partial = Classifier::load(&g, &dir.join("partial")).unwrap().model;
    assert_eq!(partial.num_labels, 1);
    let r = run_job(&g, &j, &resumed, &AtomicBool::new(false), |_| {}, |_| {}).unwrap();
    assert_eq!(r.outcome, Outcome::Finished);

    let a = wgbert::checkpoint::load_tensors(&straight.join("model/model.safetensors")).unwrap().0;
    let b = wgbert::checkpoint::load_tensors(&resumed.join("model/model.safetensors")).unwrap().0;
    assert_eq!(a.len(), b.len());
    for (name, t) in &a {
        assert_eq!(t.data, b[name].data, "{name} differs after resuming");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn queued_steps_train_as_steps_one_at_a_time() {
    // Queued (each step submitted before the previous one's loss is read; forced on, as GPUs
    // have it) and one at a time (as CPU adapters have it): the same parameters, in f32 and in
    // mixed precision. A device of its own, so that the setting does not reach the tests beside it.
    let g = wgbert::gpu::Gpu::new(&wgbert::gpu::GpuOptions::from_env()).unwrap();
    let dir = temp("train-queued");
    let mut j = job(&dir, 3);
    let mut precisions = vec![train::Precision::F32];
    if g.has_f16() {
        precisions.push(train::Precision::Mixed);
    }
    for precision in precisions {
        // In mixed precision from a loss scale the first steps' gradients overflow at: steps are
        // skipped, and the scale comes down, while the next step is already queued.
        j.options.precision = precision;
        j.options.loss_scale = 2f32.powi(22);
        let name = format!("{precision:?}");
        for (queue, run) in [("1", "queued"), ("0", "one-by-one")] {
            g.set_variant("queue", queue);
            // Interrupted during step 3 and resumed: queued, step 4 was already submitted.
            let run = dir.join(&name).join(run);
            interrupt_during_step_3(&g, &j, &run);
            run_job(&g, &j, &run, &AtomicBool::new(false), |_| {}, |_| {}).unwrap();
        }
        let (queued, one_by_one) = (dir.join(&name).join("queued"), dir.join(&name).join("one-by-one"));
        let a = wgbert::checkpoint::load_tensors(&queued.join("model/model.safetensors")).unwrap().0;
        let b = wgbert::checkpoint::load_tensors(&one_by_one.join("model/model.safetensors")).unwrap().0;
        assert_eq!(a.len(), b.len());
        for (name, t) in &a {
            assert_eq!(t.data, b[name].data, "{precision:?}: {name} differs between queued and one-by-one steps");
        }
        assert_eq!(optimizer_steps(&queued), optimizer_steps(&one_by_one));
        let (pa, pb) = (progress(&queued), progress(&one_by_one));
        assert_eq!(pa["loss_scale"], pb["loss_scale"], "{precision:?}");
        if precision == train::Precision::Mixed {
            let skipped = pa["loss_scale"]["skipped"].as_u64().unwrap();
            assert!(skipped >= 2 && skipped + 2 <= 12, "{skipped} of 12 steps skipped");
            assert_eq!(optimizer_steps(&queued), 12 - skipped);
        }
    }
    std::fs::remove_dir_all(dir).unwrap();
}

fn err_of(j: &TrainJob) -> String {
    match train::job::load_job_data(j) {
        Ok(_) => panic!("{} should be refused", j.data.display()),
        Err(e) => format!("{e:#}"),
    }
}

#[test]
fn data_errors_are_clear_messages() {
    let dir = temp("train-errors");
    let model = dir.join("m");
    let mk = |data: PathBuf| TrainJob::new(model.clone(), data);
    assert!(err_of(&mk(dir.join("missing"))).contains("no such file or folder"));
    // An IMDB layout with no class folders, with one class, with an empty class.
    let root = dir.join("imdb");
    std::fs::create_dir_all(root.join("train")).unwrap();
    assert!(err_of(&mk(root.clone())).contains("has 0 class folder(s)"));
    std::fs::create_dir_all(root.join("train/pos")).unwrap();
    std::fs::write(root.join("train/pos/1_9.txt"), "great").unwrap();
    assert!(err_of(&mk(root.clone())).contains("has 1 class folder(s) (pos)"));
    std::fs::create_dir_all(root.join("train/neg")).unwrap();
    assert!(err_of(&mk(root.clone())).contains("train/neg holds no .txt reviews"));
    std::fs::write(root.join("train/neg/2_1.txt"), b"bad \xff\xfe").unwrap();
    let e = err_of(&mk(root.clone()));
    assert!(e.contains("2_1.txt") && e.contains("UTF-8"), "{e}");
    // CSV without the label column; a test label that is not a class.
    std::fs::write(dir.join("a.csv"), "text,stars\ngood,5\n").unwrap();
    assert!(err_of(&mk(dir.join("a.csv"))).contains("no column \"label\""));
    std::fs::write(dir.join("b.csv"), "text,label\ngood,pos\nbad,neg\n").unwrap();
    std::fs::write(dir.join("c.csv"), "text,label\nmeh,neutral\n").unwrap();
    let mut j = mk(dir.join("b.csv"));
    j.test_data = Some(dir.join("c.csv"));
    assert!(err_of(&j).contains("label \"neutral\" is not one of the model's classes (neg, pos)"));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn curves_png_is_a_png_of_the_right_size() {
    use train::plot::{save_curves, H, W};
    let epochs = (1..=5)
        .map(|e| train::EpochRow {
            epoch: e,
            loss: 0.7 / e as f64,
            accuracy: 0.5 + 0.08 * e as f64,
            val_loss: Some(0.75 / e as f64 + 0.05),
            val_accuracy: Some(0.5 + 0.07 * e as f64),
            seconds: 1.0,
        })
        .collect();
    let dir = temp("train-plot");
    let p = dir.join("curves.png");
    save_curves(&train::History { epochs, steps: vec![] }, &p).unwrap();
    let png = std::fs::read(&p).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(&png[12..16], b"IHDR");
    assert_eq!(u32::from_be_bytes(png[16..20].try_into().unwrap()), W);
    assert_eq!(u32::from_be_bytes(png[20..24].try_into().unwrap()), H);
    std::fs::remove_dir_all(dir).unwrap();
}

/// The progress file of a run's latest checkpoint.
fn progress(run: &Path) -> serde_json::Value {
    let latest = std::fs::read_to_string(run.join("checkpoints/latest")).unwrap();
    let p = run.join("checkpoints").join(latest.trim()).join("progress.json");
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

/// Optimizer steps taken, from the latest checkpoint's optimizer state.
fn optimizer_steps(run: &Path) -> u64 {
    let latest = std::fs::read_to_string(run.join("checkpoints/latest")).unwrap();
    let p = run.join("checkpoints").join(latest.trim()).join("optimizer.safetensors");
    wgbert::checkpoint::load_tensors(&p).unwrap().1["step"].parse().unwrap()
}

#[test]
fn mixed_precision_trains_like_f32_and_resumes_with_its_loss_scale() {
    let Some(g) = gpu_with_f16() else { return };
    let dir = temp("train-mixed");
    let mut j = job(&dir, 2);
    let f32_run = dir.join("f32");
    run_job(&g, &j, &f32_run, &AtomicBool::new(false), |_| {}, |_| {}).unwrap();
    j.options.precision = train::Precision::Mixed;
    let straight = dir.join("mixed");
    let mut notices = Vec::new();
    let r = run_job(
        &g,
        &j,
        &straight,
        &AtomicBool::new(false),
        |e| {
            if let Event::Notice(n) = e {
                notices.push(n)
            }
        },
        |_| {},
    )
    .unwrap();
    assert_eq!(r.outcome, Outcome::Finished);
    assert!(notices.iter().any(|n| n.contains("loss scale 65536")), "{notices:?}");
    // Step by step the losses follow f32's to f16 rounding.
    let losses = |run: &Path| -> Vec<f64> {
        let h: train::History = serde_json::from_slice(&std::fs::read(run.join("history.json")).unwrap()).unwrap();
        h.steps.iter().map(|s| s.1).collect()
    };
    let (a, b) = (losses(&f32_run), losses(&straight));
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        assert!((x - y).abs() < 2e-2 * x.abs().max(0.1), "step {}: f32 loss {x}, mixed {y}", i + 1);
    }
    assert_ne!(a, b, "mixed precision must round something");
    let p = progress(&straight);
    assert_eq!(p["loss_scale"]["scale"], 65536.0);
    assert_eq!(optimizer_steps(&straight), a.len() as u64, "no step was skipped");

    // Interrupted and resumed, it ends on the same parameters (loss scale and all).
    let resumed = dir.join("resumed");
    interrupt_during_step_3(&g, &j, &resumed);
    assert!(progress(&resumed)["loss_scale"].is_object());
    run_job(&g, &j, &resumed, &AtomicBool::new(false), |_| {}, |_| {}).unwrap();
    let x = wgbert::checkpoint::load_tensors(&straight.join("model/model.safetensors")).unwrap().0;
    let y = wgbert::checkpoint::load_tensors(&resumed.join("model/model.safetensors")).unwrap().0;
    for (name, t) in &x {
        assert_eq!(t.data, y[name].data, "{name} differs after resuming in mixed precision");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn an_overflowing_loss_scale_skips_steps_until_it_comes_down() {
    let Some(g) = gpu_with_f16() else { return };
    let dir = temp("train-overflow");
    let mut j = job(&dir, 8);
    j.options.precision = train::Precision::Mixed;
    j.options.loss_scale = 2f32.powi(32); // the output gradients overflow f16 at this scale
    let run = dir.join("run");
    let r = run_job(&g, &j, &run, &AtomicBool::new(false), |_| {}, |_| {}).unwrap();
    assert_eq!(r.outcome, Outcome::Finished);
    let ls = &progress(&run)["loss_scale"];
    let (scale, skipped) = (ls["scale"].as_f64().unwrap(), ls["skipped"].as_u64().unwrap());
    let h: train::History = serde_json::from_slice(&std::fs::read(run.join("history.json")).unwrap()).unwrap();
    let steps = h.steps.len() as u64;
    assert!(skipped >= 1 && skipped + 8 <= steps, "{skipped} of {steps} steps skipped");
    assert_eq!(scale, 2f64.powi(32 - skipped as i32), "halved once per skipped step");
    // Skipped steps are not optimizer steps, and the model still learned and stayed finite.
    assert_eq!(optimizer_steps(&run), steps - skipped);
    assert!(h.steps.last().unwrap().1 < h.steps[0].1, "the loss fell once steps went through");

    // At a scale no halving can rescue within the limit, the run stops with the reason.
    let mut j = job(&dir, 17); // 4 steps an epoch: past the limit of 64
    j.options.precision = train::Precision::Mixed;
    j.options.loss_scale = 1e38;
    let e = run_job(&g, &j, &dir.join("hopeless"), &AtomicBool::new(false), |_| {}, |_| {}).unwrap_err();
    let e = format!("{e:#}");
    assert!(e.contains("overflowed f16 in 64 steps in a row") && e.contains("--precision f32"), "{e}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// A model whose tokenizer is tokenizer.json alone (as transformers 5 saves it) exports that
/// tokenizer.json, and the export loads with the same tokenizer.
#[test]
fn a_tokenizer_json_only_model_exports_its_tokenizer_json() {
    let g = gpu();
    let dir = temp("export-tokenizer-json");
    let base = dir.join("base");
    std::fs::create_dir_all(&base).unwrap();
    for (from, f) in [
        ("tests/fixtures/tiny_bert/safetensors", "config.json"),
        ("tests/fixtures/tiny_bert/safetensors", "model.safetensors"),
        ("tests/fixtures/tiny_bert/transformers5", "tokenizer.json"),
        ("tests/fixtures/tiny_bert/transformers5", "tokenizer_config.json"),
    ] {
        std::fs::copy(Path::new(from).join(f), base.join(f)).unwrap();
    }
    let (config, ckpt, _) = wgbert::checkpoint::load_model_dir(&base).unwrap();
    let head = wgbert::model::Head::Train { num_labels: 1, seed: 0 };
    let model = wgbert::model::BertClassifier::from_checkpoint(&g, &config, &ckpt, head).unwrap();
    let out = dir.join("out");
    train::export::export_model(&model, &["neg".into(), "pos".into()], &base, &out).unwrap();
    let mut files: Vec<String> =
        std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    files.sort();
    assert_eq!(files, ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"]);
    assert_eq!(std::fs::read(out.join("tokenizer.json")).unwrap(), std::fs::read(base.join("tokenizer.json")).unwrap());
    let Classifier { classes, tokenizer: tok, .. } = Classifier::load(&g, &out).unwrap();
    assert_eq!(classes, ["neg", "pos"]);
    let original = wgbert::tokenizer::Tokenizer::from_dir(&base).unwrap();
    assert_eq!(tok.encode("This movie was a GREAT film!"), original.encode("This movie was a GREAT film!"));
    std::fs::remove_dir_all(dir).unwrap();
}
