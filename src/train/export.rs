//! The exported model: a Hugging Face `BertForSequenceClassification` folder (model.safetensors
//! with `bert.*` and `classifier.*` names, config.json, and the tokenizer files it was given:
//! vocab.txt and/or tokenizer.json, tokenizer_config.json, …), which
//! `wgbert predict/eval` and other tools load.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::{Context, Result};

use crate::infer::{CLASSES_KEY, POOLING_KEY, TEXT_PAIRS_KEY};
use crate::model::{BertClassifier, Pooling};

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
