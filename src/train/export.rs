//! The exported model: a Hugging Face `BertForSequenceClassification` folder (model.safetensors
//! with `bert.*` and `classifier.*` names, config.json, and the tokenizer files it was given:
//! vocab.txt and/or tokenizer.json, tokenizer_config.json, …), which
//! `wgbert predict/eval` and other tools load.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::{Context, Result};

use crate::model::{BertClassifier, Pooling};

/// Key in config.json holding our class names (index = label).
pub const CLASSES_KEY: &str = "wgbert_classes";
/// Key in config.json naming what the head reads when it is not BERT's pooler output ("cls" or
/// "mean"): transformers' `BertForSequenceClassification` ignores it (README, "Mean pooling").
pub const POOLING_KEY: &str = "wgbert_pooling";
/// Key in config.json saying the model reads sentence pairs (`predict` then splits its inputs
/// at a tab).
pub const TEXT_PAIRS_KEY: &str = "wgbert_text_pairs";

/// The files of the tokenizer that travel with an exported model, in the order they are looked for.
pub const TOKENIZER_FILES: [&str; 4] =
    ["vocab.txt", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.json"];

/// Writes the exported model (see [`export_files`]) into the folder `out`, copying the
/// tokenizer files of `base_dir`, the pretrained model's folder.
pub fn export_model(model: &BertClassifier, classes: &[String], base_dir: &Path, out: &Path) -> Result<()> {
    crate::gpu::no_blocking_in_browser("exporting a model (await export_files)")?;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut tokenizer = Vec::new();
    for f in TOKENIZER_FILES {
        let src = base_dir.join(f);
        if src.is_file() && src != out.join(f) {
            let bytes = std::fs::read(&src).with_context(|| format!("reading {}", src.display()))?;
            tokenizer.push((f.to_string(), bytes));
        }
    }
    for (name, bytes) in pollster::block_on(export_files(model, classes, tokenizer))? {
        crate::fsio::write_atomic(&out.join(&name), &bytes)
            .with_context(|| format!("writing {}", out.join(&name).display()))?;
    }
    Ok(())
}

/// The exported model as (file name, bytes): model.safetensors, config.json (with the class
/// names), then `tokenizer`'s files (vocab.txt, tokenizer_config.json, … of the pretrained model)
/// unchanged. The native export writes them to a folder; the browser offers them as downloads.
pub async fn export_files(
    model: &BertClassifier,
    classes: &[String],
    tokenizer: Vec<(String, Vec<u8>)>,
) -> Result<Vec<(String, Vec<u8>)>> {
    let tensors = model.export_tensors_async(false).await?;
    let meta = HashMap::from([("format".to_string(), "pt".to_string())]);
    let weights = crate::checkpoint::serialize_tensors(Path::new("model.safetensors"), &tensors, meta)?;

    let mut cfg = model.config.clone();
    cfg.num_labels = Some(model.num_labels);
    // One logit is the probability of the last class (binary); otherwise one logit per class.
    let id2label: BTreeMap<usize, String> = if model.num_labels == 1 {
        BTreeMap::from([(0, classes.last().cloned().unwrap_or_else(|| "positive".into()))])
    } else {
        classes.iter().cloned().enumerate().collect()
    };
    cfg.label2id = Some(id2label.iter().map(|(i, l)| (l.clone(), *i)).collect());
    cfg.id2label = Some(id2label);
    let mut json = serde_json::to_value(&cfg)?;
    let obj = json.as_object_mut().expect("a config serializes to an object");
    obj.insert("architectures".into(), serde_json::json!(["BertForSequenceClassification"]));
    obj.insert("model_type".into(), "bert".into());
    // HF reads one label with BCE-with-logits as multi-label classification, not regression.
    let problem = if model.num_labels == 1 { "multi_label_classification" } else { "single_label_classification" };
    obj.insert("problem_type".into(), problem.into());
    obj.insert(CLASSES_KEY.into(), serde_json::json!(classes));
    if model.pooling != Pooling::Pooler {
        obj.insert(POOLING_KEY.into(), serde_json::to_value(model.pooling)?);
    }
    if model.text_pairs {
        obj.insert(TEXT_PAIRS_KEY.into(), true.into());
    }

    let mut files = vec![
        ("model.safetensors".to_string(), weights),
        ("config.json".to_string(), serde_json::to_vec_pretty(&json)?),
    ];
    files.extend(tokenizer);
    Ok(files)
}

/// Class names stored by `export_model` (or `LABEL_i` names from id2label, else "0", "1", …).
pub fn classes_of(dir: &Path, num_labels: usize) -> Vec<String> {
    classes_in_config(&std::fs::read(dir.join("config.json")).unwrap_or_default(), num_labels)
}

/// [`classes_of`] from config.json's bytes.
pub fn classes_in_config(config_json: &[u8], num_labels: usize) -> Vec<String> {
    let json: Option<serde_json::Value> = serde_json::from_slice(config_json).ok();
    if let Some(v) = json.as_ref().and_then(|j| j.get(CLASSES_KEY)).and_then(|v| v.as_array()) {
        let names: Vec<String> = v.iter().filter_map(|s| s.as_str().map(String::from)).collect();
        if !names.is_empty() {
            return names;
        }
    }
    (0..num_labels.max(2)).map(|i| i.to_string()).collect()
}

/// What the head of an exported model reads (`POOLING_KEY`; the pooler output when absent) and
/// whether it reads sentence pairs (`TEXT_PAIRS_KEY`), from config.json's bytes.
pub fn head_in_config(config_json: &[u8]) -> Result<(Pooling, bool)> {
    let json: serde_json::Value = serde_json::from_slice(config_json).context("config.json is not JSON")?;
    let pooling = match json.get(POOLING_KEY) {
        None => Pooling::Pooler,
        Some(v) => serde_json::from_value(v.clone()).map_err(|_| {
            anyhow::anyhow!("config.json: {POOLING_KEY} is {v}, not one of \"pooler\", \"cls\", \"mean\"")
        })?,
    };
    Ok((pooling, json.get(TEXT_PAIRS_KEY).and_then(|v| v.as_bool()).unwrap_or(false)))
}
