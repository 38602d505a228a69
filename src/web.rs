//! The browser's entry points (wasm32 only): the same engine as the CLI, handed bytes and text
//! instead of paths. `src/web/wgbert.js` wraps these exports into `window.wgbert`; the page
//! (`src/web/app.js`) drives that object. `tools/web.sh` builds and serves it.
//!
//! What differs from the CLI is only what a browser cannot do: nothing blocks (every export
//! that reads the GPU back is async, and the training loop awaits each step's read-back, which
//! yields to the page), there are no files (model, data and the exported model are bytes), and
//! there is no run folder (the history stays in memory).
//!
//! Calls are serialised by the JS wrapper: one export runs at a time. The state (the device,
//! the loaded model, the trained classifier) lives in a thread-local; an async export clones
//! what it needs (`Rc`) before its first await, so no borrow is held across one.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{anyhow, bail, Result};
use serde::Deserialize;
use serde_json::json;
use wasm_bindgen::prelude::*;

use crate::checkpoint::{BertConfig, Checkpoint};
use crate::data::{table, Columns};
use crate::gpu::{Gpu, GpuOptions};
use crate::infer::{check_pair_column, classifier_of, embed_async, predict_async, Encoded, Inputs};
use crate::model::{BertClassifier, Head, Pooling};
use crate::tokenizer::{ConfigFiles, Tokenizer};
use crate::train::export::export_files;
use crate::train::split::{split_data, Split};
use crate::train::{check_options, check_precision, evaluate_async, Event, Outcome, TrainOptions, Trainer};

/// A pretrained model as loaded: what embedding, training and export need.
struct Loaded {
    config: BertConfig,
    /// The host weights: each training run builds a fresh classifier from them.
    ckpt: Checkpoint,
    tok: Tokenizer,
    /// vocab.txt, tokenizer_config.json, … as given: they travel with an export.
    tokenizer_files: Vec<(String, Vec<u8>)>,
    /// The encoder `embed` runs (its classifier head is fresh and never used).
    encoder: BertClassifier,
}

/// A classifier to predict with and export: trained here, or loaded from an exported model.
struct Classifier {
    model: BertClassifier,
    classes: Vec<String>,
}

#[derive(Default)]
struct State {
    gpu: Option<Arc<Gpu>>,
    loaded: Option<Rc<Loaded>>,
    classifier: Option<Rc<Classifier>>,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = console, js_name = error)]
    fn console_error(s: &str);
}

/// Set by `stop()`: the training loop ends after the current step.
static STOP: AtomicBool = AtomicBool::new(false);

fn js(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}

fn js_anyhow(e: anyhow::Error) -> JsError {
    JsError::new(&format!("{e:#}"))
}

fn gpu() -> Result<Arc<Gpu>> {
    STATE.with(|s| s.borrow().gpu.clone()).ok_or_else(|| anyhow!("no GPU yet: await wgbert.ready first"))
}

fn loaded() -> Result<Rc<Loaded>> {
    STATE.with(|s| s.borrow().loaded.clone()).ok_or_else(|| anyhow!("no model loaded: call wgbert.load(url) first"))
}

fn classifier() -> Result<Rc<Classifier>> {
    STATE
        .with(|s| s.borrow().classifier.clone())
        .ok_or_else(|| anyhow!("no classifier: train one first (wgbert.train), or load an exported model"))
}

/// What the kernels need of an adapter beyond WebGPU's guaranteed minimum: each names the
/// limit it misses (an empty list: all is there).
fn missing(l: &wgpu::Limits) -> Vec<String> {
    let need: [(&str, u64, u64); 4] = [
        // A kernel binds at most 8 storage buffers (gpu::launch's MAX_STORAGE_ARGS).
        ("max_storage_buffers_per_shader_stage", l.max_storage_buffers_per_shader_stage as u64, 8),
        // The reductions run 256 invocations per workgroup.
        ("max_compute_invocations_per_workgroup", l.max_compute_invocations_per_workgroup as u64, 256),
        ("max_compute_workgroup_size_x", l.max_compute_workgroup_size_x as u64, 256),
        // The tiled matmul keeps two 4 KiB tiles in workgroup memory.
        ("max_compute_workgroup_storage_size", l.max_compute_workgroup_storage_size as u64, 8192),
    ];
    need.iter()
        .filter(|(_, have, want)| have < want)
        .map(|(name, have, want)| format!("{name} is {have}, the kernels need {want}"))
        .collect()
}

/// Opens the browser's WebGPU adapter; resolves to a JSON description of it (name, backend,
/// limits, features), or rejects with what is missing.
#[wasm_bindgen]
pub async fn init() -> Result<String, JsError> {
    // A panic (a bug) would otherwise show as "unreachable executed" with no message.
    std::panic::set_hook(Box::new(|info| console_error(&info.to_string())));
    let gpu = Gpu::new_async(&GpuOptions::default()).await.map_err(js)?;
    let l = gpu.limits();
    let lacks = missing(l);
    if !lacks.is_empty() {
        return Err(js(format!("the WebGPU adapter {} cannot run the kernels: {}", gpu.info().name, lacks.join("; "))));
    }
    let info = gpu.info();
    let f = gpu.features();
    let desc = json!({
        "name": info.name,
        "backend": format!("{:?}", info.backend),
        "device_type": format!("{:?}", info.device_type),
        "driver": format!("{} {}", info.driver, info.driver_info).trim().to_string(),
        "features": {
            "shader_f16": f.contains(wgpu::Features::SHADER_F16),
            "subgroups": f.contains(wgpu::Features::SUBGROUP),
            "timestamps": f.contains(wgpu::Features::TIMESTAMP_QUERY),
        },
        "limits": {
            "max_buffer_size": l.max_buffer_size,
            "max_storage_buffer_binding_size": l.max_storage_buffer_binding_size,
            "max_storage_buffers_per_shader_stage": l.max_storage_buffers_per_shader_stage,
            "max_compute_invocations_per_workgroup": l.max_compute_invocations_per_workgroup,
            "max_compute_workgroup_storage_size": l.max_compute_workgroup_storage_size,
            "max_compute_workgroups_per_dimension": l.max_compute_workgroups_per_dimension,
        },
    });
    STATE.with(|s| s.borrow_mut().gpu = Some(gpu));
    Ok(desc.to_string())
}

/// Loads a model from its files' bytes: config.json, model.safetensors, vocab.txt or
/// tokenizer.json (or both), and the optional tokenizer files. Resolves to a JSON summary. A model exported with a classifier
/// (by `wgbert export` or `exportModel`) can predict at once.
#[wasm_bindgen]
pub fn load_model(
    config_json: Vec<u8>,
    vocab_txt: Option<Vec<u8>>,
    weights: Vec<u8>,
    tokenizer_config_json: Option<Vec<u8>>,
    tokenizer_json: Option<Vec<u8>>,
    special_tokens_map_json: Option<Vec<u8>>,
) -> Result<String, JsError> {
    let gpu = gpu().map_err(js_anyhow)?;
    let (config, ckpt, notices) = crate::checkpoint::load_model_bytes(&config_json, &weights).map_err(js)?;
    drop(weights);
    let files = ConfigFiles {
        config_json: Some(config_json.clone()),
        tokenizer_json: tokenizer_json.clone(),
        tokenizer_config_json: tokenizer_config_json.clone(),
    };
    let tok = Tokenizer::from_bytes(vocab_txt.as_deref(), &files).map_err(js)?;
    if tok.vocab_size() > config.vocab_size {
        return Err(js(format!(
            "{}: {} tokens, more than the model's vocab_size of {}: this vocabulary belongs to another model",
            tok.vocab_path().display(),
            tok.vocab_size(),
            config.vocab_size
        )));
    }
    let mut tokenizer_files = Vec::new();
    for (name, bytes) in [
        ("vocab.txt", vocab_txt),
        ("tokenizer_config.json", tokenizer_config_json),
        ("special_tokens_map.json", special_tokens_map_json),
        ("tokenizer.json", tokenizer_json),
    ] {
        if let Some(b) = bytes {
            tokenizer_files.push((name.to_string(), b));
        }
    }
    let encoder = BertClassifier::from_checkpoint(&gpu, &config, &ckpt, Head::Encoder).map_err(js_anyhow)?;
    // An exported classifier predicts as `wgbert predict` would.
    let classifier = match ckpt.get("classifier.weight") {
        Some(_) => {
            let (model, classes) = classifier_of(&gpu, &config, &ckpt, &config_json).map_err(js_anyhow)?;
            Some(Rc::new(Classifier { model, classes }))
        }
        None => None,
    };
    let summary = json!({
        "layers": config.num_hidden_layers,
        "hidden_size": config.hidden_size,
        "heads": config.num_attention_heads,
        "vocab_size": config.vocab_size,
        "max_position_embeddings": config.max_position_embeddings,
        "parameters": ckpt.numel(),
        "classes": classifier.as_ref().map(|c| c.classes.clone()),
        "notices": notices.iter().map(|n| n.to_string()).chain(tok.notices().iter().cloned()).collect::<Vec<_>>(),
    });
    let loaded = Loaded { config, ckpt, tok, tokenizer_files, encoder };
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        s.loaded = Some(Rc::new(loaded));
        s.classifier = classifier;
    });
    Ok(summary.to_string())
}

/// Sentence embeddings as `wgbert embed`: `texts` a JSON array of strings, `pool` cls, pooler
/// or mean; resolves to a JSON array of arrays of floats.
#[wasm_bindgen]
pub async fn embed(
    texts_json: String,
    pool: String,
    max_len: Option<usize>,
    batch_size: Option<usize>,
) -> Result<String, JsError> {
    let (gpu, m) = (gpu().map_err(js_anyhow)?, loaded().map_err(js_anyhow)?);
    let texts: Vec<String> = serde_json::from_str(&texts_json).map_err(|e| js(format!("texts: {e}")))?;
    let pool = match pool.as_str() {
        "cls" => Pooling::Cls,
        "pooler" => Pooling::Pooler,
        "mean" => Pooling::Mean,
        other => return Err(js(format!("pool {other:?}: expected cls, pooler or mean"))),
    };
    let max_pos = m.config.max_position_embeddings;
    let max_len = max_len.unwrap_or(128.min(max_pos));
    if max_len > max_pos || max_len < 2 {
        return Err(js(format!(
            "maxLen {max_len} must be between 2 and the model's max_position_embeddings ({max_pos})"
        )));
    }
    let v = embed_async(&gpu, &m.encoder, &m.tok, Inputs::Texts(&texts), max_len, pool, batch_size.unwrap_or(32))
        .await
        .map_err(js)?;
    serde_json::to_string(&v).map_err(js)
}

/// The options of `train`: the CLI's flags (`wgbert train --help`), snake_case; absent ones take
/// the CLI's defaults.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct WebTrainOptions {
    epochs: usize,
    batch_size: usize,
    max_len: usize,
    lr: f32,
    warmup: f32,
    dropout: Option<f32>,
    weight_decay: f32,
    seed: u64,
    precision: crate::train::Precision,
    loss_scale: f32,
    limit_train: Option<usize>,
    limit_test: Option<usize>,
    text_column: String,
    label_column: String,
    text_pair_column: Option<String>,
    pool: Pooling,
    freeze_layers: usize,
}

impl Default for WebTrainOptions {
    fn default() -> Self {
        let o = TrainOptions::default();
        let c = Columns::default();
        WebTrainOptions {
            epochs: o.epochs,
            batch_size: o.batch_size,
            max_len: o.max_len,
            lr: o.lr,
            warmup: o.warmup_fraction,
            dropout: o.dropout,
            weight_decay: o.weight_decay,
            seed: o.seed,
            precision: o.precision,
            loss_scale: o.loss_scale,
            limit_train: None,
            limit_test: None,
            text_column: c.text,
            label_column: c.label,
            text_pair_column: None,
            pool: o.pool,
            freeze_layers: o.freeze_layers,
        }
    }
}

/// Fine-tunes a fresh classifier on the loaded model as `wgbert train` does: `train_text` is a
/// CSV or JSONL table (`train_name` ends in .csv or .jsonl and names it in messages), split 80/20
/// into training and validation with the seed; `test_text` an optional test table. `on_event`
/// gets each event as a JSON string. Resolves to JSON: the history (every step's loss, each
/// epoch's row), the test report, the classes and the data's sizes.
#[wasm_bindgen]
pub async fn train(
    options_json: String,
    train_name: String,
    train_text: String,
    test_name: Option<String>,
    test_text: Option<String>,
    on_event: js_sys::Function,
) -> Result<String, JsError> {
    let run = async {
        let (gpu, m) = (gpu()?, loaded()?);
        let w: WebTrainOptions = serde_json::from_str(&options_json).map_err(|e| anyhow!("training options: {e}"))?;
        let o = TrainOptions {
            epochs: w.epochs,
            batch_size: w.batch_size,
            max_len: w.max_len,
            lr: w.lr,
            warmup_fraction: w.warmup,
            dropout: w.dropout,
            weight_decay: w.weight_decay,
            seed: w.seed,
            precision: w.precision,
            loss_scale: w.loss_scale,
            pool: w.pool,
            freeze_layers: w.freeze_layers,
            ..TrainOptions::default()
        };
        check_options(&o, &m.config)?;
        let text_pairs = w.text_pair_column.is_some();
        let cols = Columns { text: w.text_column, label: w.label_column, pair: w.text_pair_column };
        let table = |name: &str, text: &str| -> Result<crate::data::Dataset> {
            let d = table::parse_table(Path::new(name), text, &cols)?;
            if d.is_empty() {
                bail!("{name}: no examples");
            }
            Ok(d)
        };
        let all = table(&train_name, &train_text)?;
        drop(train_text);
        let test = match (test_name, test_text) {
            (Some(n), Some(t)) => Some((table(&n, &t)?, PathBuf::from(n))),
            _ => None,
        };
        // The CLI's split: 20% for validation (TrainJob::new), limits as --limit-train / --limit-test.
        let split =
            Split { validation_fraction: 0.2, limit_train: w.limit_train, limit_test: w.limit_test, seed: o.seed };
        let d = split_data(all, Path::new(&train_name), test, &split)?;

        let emit = |v: serde_json::Value| {
            let _ = on_event.call1(&JsValue::NULL, &JsValue::from_str(&v.to_string()));
        };
        for n in &d.notices {
            emit(json!({"type": "notice", "message": n}));
        }
        let num_labels = if d.classes.len() == 2 { 1 } else { d.classes.len() };
        let mut model =
            BertClassifier::from_checkpoint(&gpu, &m.config, &m.ckpt, Head::Train { num_labels, seed: o.seed })?;
        for part in model.fresh() {
            emit(
                json!({"type": "notice", "message": format!("a fresh {part}; it is initialised from seed {} and trained", o.seed)}),
            );
        }
        (model.pooling, model.text_pairs) = (o.pool, text_pairs);
        model.freeze_layers(o.freeze_layers)?;
        check_precision(&gpu, o.precision)?;
        let train = Encoded::new(&m.tok, &d.train, o.max_len);
        let val = Encoded::new(&m.tok, &d.validation, o.max_len);
        emit(json!({
            "type": "data",
            "train": train.len(),
            "validation": val.len(),
            "test": d.test.as_ref().map_or(0, |t| t.len()),
            "classes": d.classes,
        }));
        let pad = m.tok.pad_id();
        let mut trainer = Trainer::new(&gpu, &model, o.clone(), train.len(), pad)?;
        let validation = (!val.is_empty()).then_some((&val, d.classes.as_slice()));
        STOP.store(false, Ordering::SeqCst);
        let t0 = web_time::Instant::now();
        // Each step's seconds, from the end of the one before (validation left out).
        let (mut step_seconds, mut last) = (Vec::new(), 0.0);
        let outcome = trainer
            .train_async(None, &train, validation, &STOP, |e| match e {
                Event::EpochStart { epoch, steps } => {
                    last = t0.elapsed().as_secs_f64();
                    emit(json!({"type": "epoch_start", "epoch": epoch + 1, "steps": steps}))
                }
                Event::Step { epoch, step, steps, loss, accuracy, batch_loss } => {
                    let now = t0.elapsed().as_secs_f64();
                    step_seconds.push(now - last);
                    last = now;
                    emit(json!({
                        "type": "step", "epoch": epoch + 1, "step": step, "steps": steps,
                        "loss": loss, "accuracy": accuracy, "batch_loss": batch_loss, "seconds": now,
                    }))
                }
                Event::EpochEnd(r) => emit(json!({"type": "epoch_end", "row": r})),
                Event::Saved { .. } => {}
                Event::Notice(n) => emit(json!({"type": "notice", "message": n})),
                Event::Scoring { set, done, total } => {
                    emit(json!({"type": "scoring", "set": set, "done": done, "total": total}))
                }
            })
            .await?;
        let train_seconds = t0.elapsed().as_secs_f64();
        let history = trainer.history.clone();
        drop(trainer);
        let test = match (&d.test, outcome == Outcome::Finished) {
            (Some(t), true) => {
                let enc = Encoded::new(&m.tok, t, o.max_len);
                let total = enc.len();
                let progress = |done| emit(json!({"type": "scoring", "set": "test", "done": done, "total": total}));
                let (report, _) = evaluate_async(&gpu, &model, &enc, &d.classes, o.batch_size, pad, progress).await?;
                emit(json!({"type": "test", "report": report}));
                Some(report)
            }
            _ => None,
        };
        let steps = history.steps.len().max(1);
        let result = json!({
            "history": history,
            "test": test,
            "classes": d.classes,
            "stopped": outcome != Outcome::Finished,
            "train_seconds": train_seconds,
            "seconds_per_step": train_seconds / steps as f64,
            "step_seconds": step_seconds,
            "examples": {"train": train.len(), "validation": val.len(), "test": d.test.as_ref().map_or(0, |t| t.len())},
        });
        let c = Classifier { model, classes: d.classes };
        STATE.with(|s| s.borrow_mut().classifier = Some(Rc::new(c)));
        Ok(result.to_string())
    };
    run.await.map_err(js_anyhow)
}

/// Evaluates the classifier on a CSV or JSONL table (`name` says the format) as `wgbert eval
/// --json`; options (JSON) as its flags: max_len, batch_size, limit_test, seed, text_column,
/// label_column. Resolves to the report as JSON (loss, accuracy, per-class figures, confusion).
#[wasm_bindgen]
pub async fn evaluate(name: String, text: String, options_json: Option<String>) -> Result<String, JsError> {
    let run = async {
        let (gpu, m, c) = (gpu()?, loaded()?, classifier()?);
        #[derive(Deserialize, Default)]
        #[serde(deny_unknown_fields, default)]
        struct EvalOptions {
            max_len: Option<usize>,
            batch_size: Option<usize>,
            limit_test: Option<usize>,
            seed: Option<u64>,
            text_column: Option<String>,
            label_column: Option<String>,
            text_pair_column: Option<String>,
        }
        let o: EvalOptions = match options_json {
            Some(j) => serde_json::from_str(&j).map_err(|e| anyhow!("evaluation options: {e}"))?,
            None => EvalOptions::default(),
        };
        let d = Columns::default();
        let cols = Columns {
            text: o.text_column.unwrap_or(d.text),
            label: o.label_column.unwrap_or(d.label),
            pair: o.text_pair_column,
        };
        check_pair_column(&c.model, cols.pair.as_deref())?;
        let data = table::parse_table(Path::new(&name), &text, &cols)?;
        if data.is_empty() {
            bail!("{name}: no examples");
        }
        let mut data = crate::train::split::align_classes(data, &c.classes, Path::new(&name))?;
        if let Some(n) = o.limit_test {
            data = crate::data::sample::balanced_sample(&data, n, o.seed.unwrap_or(42));
        }
        // The defaults of `wgbert eval`: 128 tokens, batches of 32, seed 42.
        let max_len = o.max_len.unwrap_or(128).min(c.model.config.max_position_embeddings);
        let enc = Encoded::new(&m.tok, &data, max_len);
        let (report, _) =
            evaluate_async(&gpu, &c.model, &enc, &c.classes, o.batch_size.unwrap_or(32), m.tok.pad_id(), |_| {})
                .await?;
        Ok(serde_json::to_string(&report)?)
    };
    run.await.map_err(js_anyhow)
}

/// Ends a running `train` after its current step (it resolves with `stopped: true`).
#[wasm_bindgen]
pub fn stop() {
    STOP.store(true, Ordering::SeqCst);
}

/// Scores texts with the classifier as `wgbert predict --json`: `texts` a JSON array of strings
/// (for a model trained on sentence pairs, of [text, pair] arrays); resolves to a JSON array of
/// {text, label, score}.
#[wasm_bindgen]
pub async fn predict(texts_json: String, max_len: Option<usize>, batch_size: Option<usize>) -> Result<String, JsError> {
    let (gpu, m, c) = (gpu().map_err(js_anyhow)?, loaded().map_err(js_anyhow)?, classifier().map_err(js_anyhow)?);
    let (texts, pairs): (Vec<serde_json::Value>, Option<Vec<(String, String)>>) = if c.model.text_pairs {
        let pairs: Vec<(String, String)> = serde_json::from_str(&texts_json).map_err(|e| {
            js(format!("texts: this model reads sentence pairs: give an array of [text, pair] arrays ({e})"))
        })?;
        (pairs.iter().map(|(a, b)| json!([a, b])).collect(), Some(pairs))
    } else {
        let texts: Vec<String> = serde_json::from_str(&texts_json).map_err(|e| js(format!("texts: {e}")))?;
        (texts.into_iter().map(serde_json::Value::from).collect(), None)
    };
    let singles: Vec<String> = texts.iter().filter_map(|t| t.as_str().map(String::from)).collect();
    let inputs = match &pairs {
        Some(p) => Inputs::Pairs(p),
        None => Inputs::Texts(&singles),
    };
    // `wgbert predict`'s defaults: 128 tokens, batches of 32.
    let max_len = max_len.unwrap_or(128).min(c.model.config.max_position_embeddings);
    let preds =
        predict_async(&gpu, &c.model, &m.tok, inputs, max_len, batch_size.unwrap_or(32)).await.map_err(js_anyhow)?;
    let out: Vec<serde_json::Value> = texts
        .iter()
        .zip(preds)
        .map(|(text, (class, score))| json!({"text": text, "score": score, "label": c.classes[class]}))
        .collect();
    serde_json::to_string(&out).map_err(js)
}

/// One zip archive (entries stored) of an array of [file name, Uint8Array], as `export_model`
/// returns them: the exported model as a single download.
#[wasm_bindgen]
pub fn zip_files(files: js_sys::Array) -> Result<js_sys::Uint8Array, JsError> {
    let mut owned = Vec::with_capacity(files.length() as usize);
    for item in files.iter() {
        let pair = js_sys::Array::from(&item);
        let name = pair.get(0).as_string().ok_or_else(|| js("zip_files: each file is [name, Uint8Array]"))?;
        let bytes = js_sys::Uint8Array::new(&pair.get(1)).to_vec();
        owned.push((name, bytes));
    }
    let zip = crate::checkpoint::zip_archive(&owned).map_err(js)?;
    Ok(js_sys::Uint8Array::from(zip.as_slice()))
}

/// The classifier in the Hugging Face layout of `wgbert export`: an array of [file name,
/// Uint8Array] (model.safetensors, config.json, vocab.txt, tokenizer files).
#[wasm_bindgen]
pub async fn export_model() -> Result<js_sys::Array, JsError> {
    let (m, c) = (loaded().map_err(js_anyhow)?, classifier().map_err(js_anyhow)?);
    let files = export_files(&c.model, &c.classes, m.tokenizer_files.clone()).await.map_err(js_anyhow)?;
    let out = js_sys::Array::new();
    for (name, bytes) in files {
        let pair = js_sys::Array::new();
        pair.push(&JsValue::from_str(&name));
        pair.push(&js_sys::Uint8Array::from(bytes.as_slice()));
        out.push(&pair);
    }
    Ok(out)
}
