//! Loading a model to use: a classifier with its own head and class names, or an encoder with
//! the pooling its authors declared. A model folder is used as its authors saved it: a tensor
//! the task needs that is missing or of another shape is an error naming it, never a fresh
//! random substitute.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;

use crate::checkpoint::{BertConfig, Checkpoint};
use crate::gpu::Gpu;
use crate::model::{BertClassifier, Head, Pooling};
use crate::tokenizer::Tokenizer;

/// Key in config.json holding our class names (index = label).
pub const CLASSES_KEY: &str = "wgbert_classes";
/// Key in config.json naming what the head reads when it is not BERT's pooler output ("cls" or
/// "mean"): transformers' `BertForSequenceClassification` ignores it.
pub const POOLING_KEY: &str = "wgbert_pooling";
/// Key in config.json saying the model reads sentence pairs (`predict` then splits its inputs
/// at a tab).
pub const TEXT_PAIRS_KEY: &str = "wgbert_text_pairs";

/// What the head of an exported model reads (`POOLING_KEY`; the pooler output when absent) and
/// whether it reads sentence pairs (`TEXT_PAIRS_KEY`), from config.json's bytes.
pub fn head_in_config(config_json: &[u8]) -> Result<(Pooling, bool)> {
    let json: serde_json::Value = serde_json::from_slice(config_json).context("config.json is not JSON")?;
    let pooling = match json.get(POOLING_KEY) {
        None => Pooling::Pooler,
        Some(v) => serde_json::from_value(v.clone())
            .map_err(|_| anyhow!("config.json: {POOLING_KEY} is {v}, not one of \"pooler\", \"cls\", \"mean\""))?,
    };
    Ok((pooling, json.get(TEXT_PAIRS_KEY).and_then(|v| v.as_bool()).unwrap_or(false)))
}

/// A trained model folder: the run's `model/` when given a run folder.
pub fn model_dir(path: &Path) -> PathBuf {
    let inner = path.join("model");
    if inner.join("config.json").is_file() {
        inner
    } else {
        path.to_path_buf()
    }
}

/// An error in a model folder: the message the user reads (the folder, then the cause), with the
/// cause kept as it was, so that a front end can tell its kind by type (a missing vocab.txt is a
/// missing file, a tensor over the device's limits a GPU error).
#[derive(Debug)]
pub struct ModelError {
    pub message: String,
    pub cause: anyhow::Error,
}

impl ModelError {
    fn error(message: String, cause: anyhow::Error) -> anyhow::Error {
        ModelError { message, cause }.into()
    }
}

impl std::fmt::Display for ModelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

// No `source()`: the message already holds the cause, and a chain would print it twice.
impl std::error::Error for ModelError {}

/// `message` naming the model folder `dir` once (a tokenizer error may name it already).
fn in_folder(dir: &Path, message: String) -> String {
    let name = dir.display().to_string();
    if message.starts_with(&name) {
        message
    } else {
        format!("{name}: {message}")
    }
}

/// A classifier ready to score texts.
pub struct Classifier {
    pub model: BertClassifier,
    /// Class names, index = class. A one-logit head has two: σ(z) is the second's probability.
    pub classes: Vec<String>,
    pub tokenizer: Tokenizer,
    /// The folder it was loaded from.
    pub dir: PathBuf,
}

impl Classifier {
    /// Loads a run folder (its `model/`) or a model folder with a classification head: one
    /// exported by wgbert, or a `BertForSequenceClassification` saved by transformers.
    pub fn load(gpu: &Arc<Gpu>, path: &Path) -> Result<Classifier> {
        let dir = model_dir(path);
        let (config, ckpt, _) = crate::checkpoint::load_model_dir(&dir)?;
        let config_json = std::fs::read(dir.join("config.json")).unwrap_or_default();
        let (model, classes) = classifier_of(gpu, &config, &ckpt, &config_json)
            .map_err(|e| ModelError::error(format!("{}: {e:#}", dir.display()), e))?;
        drop(ckpt);
        let tokenizer =
            Tokenizer::from_dir(&dir).map_err(|e| ModelError::error(in_folder(&dir, e.to_string()), e.into()))?;
        Ok(Classifier { model, classes, tokenizer, dir })
    }

    /// The name of class `k`.
    pub fn label(&self, k: usize) -> &str {
        &self.classes[k]
    }
}

/// The classifier a checkpoint holds, with its own head (whatever its number of outputs), what
/// its config.json (`config_json`, its bytes) says the head reads, and its class names.
pub fn classifier_of(
    gpu: &Arc<Gpu>,
    config: &BertConfig,
    ckpt: &Checkpoint,
    config_json: &[u8],
) -> Result<(BertClassifier, Vec<String>)> {
    let mut model = BertClassifier::from_checkpoint(gpu, config, ckpt, Head::Stored)?;
    let classes = classes_of_head(config_json, model.num_labels)?;
    if !config_json.is_empty() {
        (model.pooling, model.text_pairs) = head_in_config(config_json)?;
    }
    if model.pooling == Pooling::Pooler && !model.has_pooler() {
        bail!(
            "the head reads BERT's pooler output, and the checkpoint has no pooler weights (pooler.dense.weight, pooler.dense.bias)"
        );
    }
    Ok((model, classes))
}

/// The class names of a head with `outputs` logits, from config.json's bytes: wgbert's own
/// list where it wrote one, else transformers' `id2label`, in id order.
pub fn classes_of_head(config_json: &[u8], outputs: usize) -> Result<Vec<String>> {
    let json: Value = match config_json {
        [] => Value::Null,
        bytes => serde_json::from_slice(bytes).context("config.json is not JSON")?,
    };
    if let Some(list) = json.get(CLASSES_KEY) {
        let names: Vec<String> = serde_json::from_value(list.clone())
            .map_err(|_| anyhow!("config.json: {CLASSES_KEY} is {list}, not a list of class names"))?;
        let expected = if outputs == 1 { 2 } else { outputs };
        if names.len() != expected {
            bail!(
                "config.json: {CLASSES_KEY} names {} classes, and the head (classifier.weight) has {outputs} outputs",
                names.len()
            );
        }
        return Ok(names);
    }
    let id2label = match json.get("id2label") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            serde_json::from_value::<std::collections::BTreeMap<usize, String>>(v.clone())
                .map_err(|_| anyhow!("config.json: id2label is {v}, not a map of class ids to names"))?,
        ),
    };
    if outputs == 1 {
        // transformers reads one output as regression unless told it is a (multi-)label
        // probability: only the latter is a class score.
        let problem = json.get("problem_type").and_then(Value::as_str);
        if problem != Some("multi_label_classification") {
            bail!(
                "the head (classifier.weight) has 1 output and config.json's problem_type is {}: transformers reads that as regression, not as a class score",
                problem.map_or("unset".to_string(), |p| format!("{p:?}"))
            );
        }
        let name = id2label.and_then(|m| m.get(&0).cloned()).unwrap_or_else(|| "LABEL_0".into());
        return Ok(vec![format!("not {name}"), name]);
    }
    match id2label {
        // transformers' default names.
        None => Ok((0..outputs).map(|i| format!("LABEL_{i}")).collect()),
        Some(m) => {
            if m.len() != outputs || m.keys().enumerate().any(|(i, &k)| i != k) {
                bail!(
                    "config.json: id2label has ids {:?}, and the head (classifier.weight) has {outputs} outputs (ids 0 to {})",
                    m.keys().collect::<Vec<_>>(),
                    outputs - 1
                );
            }
            Ok(m.into_values().collect())
        }
    }
}

/// An encoder ready to embed texts.
pub struct Encoder {
    pub model: BertClassifier,
    pub tokenizer: Tokenizer,
    /// The pooling the model declares (see [`declared_pooling`]).
    pub pooling: Pooling,
    /// Whether the model's authors scale its embeddings to unit length (a sentence-transformers
    /// `Normalize` module).
    pub normalize: bool,
    pub dir: PathBuf,
}

impl Encoder {
    /// Loads the encoder of a model folder (or a run folder's `model/`): its pooler where the
    /// checkpoint has one, never a classification head.
    pub fn load(gpu: &Arc<Gpu>, path: &Path) -> Result<Encoder> {
        let dir = model_dir(path);
        let (config, ckpt, _) = crate::checkpoint::load_model_dir(&dir)?;
        let model = BertClassifier::from_checkpoint(gpu, &config, &ckpt, Head::Encoder)
            .map_err(|e| ModelError::error(format!("{}: {e:#}", dir.display()), e))?;
        drop(ckpt);
        let (pooling, normalize) = declared_pooling(&dir)?;
        let tokenizer =
            Tokenizer::from_dir(&dir).map_err(|e| ModelError::error(in_folder(&dir, e.to_string()), e.into()))?;
        Ok(Encoder { model, tokenizer, pooling, normalize, dir })
    }

    /// Whether `pooling` can run on this checkpoint (BERT's pooler needs its weights).
    pub fn check_pooling(&self, pooling: Pooling) -> Result<()> {
        if pooling == Pooling::Pooler && !self.model.has_pooler() {
            bail!(
                "{}: the checkpoint has no pooler weights (pooler.dense.weight, pooler.dense.bias): pool by cls or mean instead",
                self.dir.display()
            );
        }
        Ok(())
    }
}

/// The pooling a model folder declares, and whether it normalizes: sentence-transformers'
/// `modules.json` and its Pooling module's `config.json` where present, else the head wgbert
/// trained (`wgbert_pooling` in config.json: a classifier's pooling), else [CLS].
pub fn declared_pooling(dir: &Path) -> Result<(Pooling, bool)> {
    let read = |path: PathBuf| -> Result<Option<Value>> {
        match std::fs::read(&path) {
            Ok(bytes) => {
                Ok(Some(serde_json::from_slice(&bytes).with_context(|| format!("{}: not JSON", path.display()))?))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    };
    if let Some(modules) = read(dir.join("modules.json"))? {
        let list = modules
            .as_array()
            .ok_or_else(|| anyhow!("{}: not a list of modules", dir.join("modules.json").display()))?;
        let kind = |m: &Value| m.get("type").and_then(Value::as_str).unwrap_or("").to_string();
        let normalize = list.iter().any(|m| kind(m).ends_with(".Normalize"));
        if let Some(p) = list.iter().find(|m| kind(m).ends_with(".Pooling")) {
            let sub = p.get("path").and_then(Value::as_str).unwrap_or("1_Pooling");
            let path = dir.join(sub).join("config.json");
            let cfg =
                read(path.clone())?.ok_or_else(|| anyhow!("{}: missing (modules.json names it)", path.display()))?;
            return Ok((sentence_transformers_pooling(&cfg, &path)?, normalize));
        }
        return Ok((Pooling::Cls, normalize));
    }
    let config_json = std::fs::read(dir.join("config.json")).unwrap_or_default();
    let json: Value = serde_json::from_slice(&config_json).unwrap_or(Value::Null);
    match json.get(POOLING_KEY) {
        Some(_) => Ok((head_in_config(&config_json)?.0, false)),
        None => Ok((Pooling::Cls, false)),
    }
}

/// A sentence-transformers Pooling config: exactly one of the modes wgbert runs.
fn sentence_transformers_pooling(cfg: &Value, path: &Path) -> Result<Pooling> {
    let on = |k: &str| cfg.get(k).and_then(Value::as_bool).unwrap_or(false);
    let unsupported: Vec<&str> = [
        "pooling_mode_max_tokens",
        "pooling_mode_mean_sqrt_len_tokens",
        "pooling_mode_weightedmean_tokens",
        "pooling_mode_lasttoken",
    ]
    .into_iter()
    .filter(|k| on(k))
    .collect();
    if !unsupported.is_empty() {
        bail!("{}: {} is not supported (wgbert pools by cls or mean)", path.display(), unsupported.join(", "));
    }
    match (on("pooling_mode_cls_token"), on("pooling_mode_mean_tokens")) {
        (true, false) => Ok(Pooling::Cls),
        (false, true) => Ok(Pooling::Mean),
        (true, true) => bail!("{}: both cls and mean pooling at once (concatenated) is not supported", path.display()),
        (false, false) => bail!("{}: no pooling mode is set", path.display()),
    }
}

/// A pair model needs its pair column, a single-text model refuses one.
pub fn check_pair_column(model: &BertClassifier, column: Option<&str>) -> Result<()> {
    match (model.text_pairs, column) {
        (true, None) => {
            bail!("this model reads sentence pairs (it was trained with --text-pair-column): give --text-pair-column")
        }
        (false, Some(c)) => bail!("this model reads single texts, not pairs: leave out --text-pair-column {c}"),
        _ => Ok(()),
    }
}

/// The sequence length `embed` runs at: `asked`, else 128 or the model's
/// max_position_embeddings where that is smaller; an error when `asked` is outside 2 to that.
pub fn embed_max_len(config: &BertConfig, asked: Option<usize>) -> Result<usize> {
    let most = config.max_position_embeddings;
    let max_len = asked.unwrap_or(128.min(most));
    if max_len > most || max_len < 2 {
        bail!("--max-len {max_len} must be between 2 and the model's max_position_embeddings ({most})");
    }
    Ok(max_len)
}

/// The sequence length to run at when `asked` for: at most the model's
/// max_position_embeddings, with a notice saying so when `asked` was more.
pub fn max_len_for(config: &BertConfig, asked: usize) -> (usize, Option<String>) {
    let most = config.max_position_embeddings;
    if asked > most {
        (most, Some(format!("--max-len {asked} is more than the model's max_position_embeddings; texts are truncated to {most} tokens")))
    } else {
        (asked, None)
    }
}

/// Runs `model`'s inference in mixed precision from now on: the linear layers' products read
/// their inputs and weights rounded to f16, accumulating in f32; everything else stays f32, as
/// under PyTorch's autocast. Needs an adapter with shader-f16.
pub fn run_half(gpu: &Arc<Gpu>, model: &mut BertClassifier) -> Result<(), crate::gpu::GpuError> {
    crate::ops::matmul::Operands::F16.check_supported(gpu)?;
    model.half_inference = true;
    Ok(())
}
