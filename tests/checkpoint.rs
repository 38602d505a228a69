//! Checkpoint loading: every format on the tiny BERT fixtures (tools/fixtures/make_tiny_bert_fixtures.py),
//! cross-format equality, notices, one test per error (on broken files built in a temp dir), and
//! the real all-MiniLM-L6-v2 when `models/all-MiniLM-L6-v2` is present (skipped otherwise).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;
use wgbert::checkpoint::*;

mod checkpoint_files;
use checkpoint_files::*;

// ---------- helpers ----------

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn tiny(dir: &str) -> PathBuf {
    root().join("tests/fixtures/tiny_bert").join(dir)
}

/// A fresh empty directory under the system temp dir (no tempfile crate), removed on drop.
struct TempDir(PathBuf);

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for TempDir {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn temp_dir(tag: &str) -> TempDir {
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "wgbert-ckpt-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    TempDir(d)
}

/// The reference: the prefixed f32 safetensors fixture.
fn reference() -> Checkpoint {
    load_model_dir(tiny("safetensors")).unwrap().1
}

fn assert_bit_identical(a: &Checkpoint, b: &Checkpoint) {
    assert_eq!(a.names().collect::<Vec<_>>(), b.names().collect::<Vec<_>>());
    for (name, ta) in &a.tensors {
        let tb = &b.tensors[name];
        assert_eq!(ta.shape, tb.shape, "{name}");
        let same = ta.data.iter().zip(&tb.data).all(|(x, y)| x.to_bits() == y.to_bits());
        assert!(same, "{name} differs");
    }
}

fn skipped<'a>(notices: &'a [Notice], reason_part: &str) -> &'a [String] {
    notices
        .iter()
        .find_map(|n| match n {
            Notice::Skipped { names, reason } if reason.contains(reason_part) => Some(names.as_slice()),
            _ => None,
        })
        .unwrap_or(&[])
}

fn unused(notices: &[Notice]) -> &[String] {
    notices
        .iter()
        .find_map(|n| if let Notice::Unused { names } = n { Some(names.as_slice()) } else { None })
        .unwrap_or(&[])
}

// ---------- formats ----------

#[test]
fn safetensors_with_prefix_and_heads_loads() {
    let (config, ckpt, notices) = load_model_dir(tiny("safetensors")).unwrap();
    assert_eq!((config.hidden_size, config.num_hidden_layers, config.intermediate_size), (32, 2, 37));
    assert_eq!(ckpt.len(), bert_parameter_shapes(&config).len());
    assert!(ckpt.names().all(|n| !n.starts_with("bert.") && !n.starts_with("cls.")));
    assert_eq!(
        ckpt.tensor_with_shape("encoder.layer.1.intermediate.dense.weight", &[37, 32]).unwrap().numel(),
        37 * 32
    );
    assert!(ckpt.has_pooler());
    assert_eq!(unused(&notices).len(), 7, "{notices:?}");
    assert!(unused(&notices).iter().all(|n| n.starts_with("cls.")));
    assert_eq!(skipped(&notices, "integer"), ["bert.embeddings.position_ids"]);
    assert!(!notices.contains(&Notice::NoPooler));
}

#[test]
fn pytorch_bin_matches_safetensors_bit_exact() {
    // This file saves layer 0's query weight transposed-in-memory and layer 1's q/k/v as slices
    // of one storage, so strides and storage offsets are exercised.
    let (_, ckpt, notices) = load_model_dir(tiny("pytorch")).unwrap();
    assert_bit_identical(&reference(), &ckpt);
    assert!(notices.is_empty(), "{notices:?}");
}

#[test]
fn pytorch_bin_with_legacy_names_matches() {
    let (_, ckpt, _) = load_model_dir(tiny("pytorch_legacy_names")).unwrap();
    assert_bit_identical(&reference(), &ckpt);
}

#[test]
fn tf_bundle_matches_safetensors_bit_exact() {
    // No config.json here: bert_config.json (Google's) is picked up instead.
    let (config, ckpt, notices) = load_model_dir(tiny("tf")).unwrap();
    assert_eq!(config.vocab_size, 99);
    assert_bit_identical(&reference(), &ckpt);
    // 39 variables x (adam_m, adam_v) + global_step
    let training = skipped(&notices, "training state");
    assert_eq!(training.len(), 79);
    assert!(training.contains(&"global_step".to_string()));
    assert_eq!(unused(&notices).len(), 7);
    assert!(unused(&notices).iter().all(|n| n.starts_with("cls/")));
    // Also reachable by the .index path.
    let (direct, _) = load_tf_bundle(tiny("tf/bert_model.ckpt.index")).unwrap();
    assert_eq!(direct, ckpt);
}

#[test]
fn missing_pooler_is_a_notice() {
    let (_, ckpt, notices) = load_model_dir(tiny("no_pooler")).unwrap();
    assert!(!ckpt.has_pooler());
    assert!(notices.contains(&Notice::NoPooler));
    assert_eq!(Notice::NoPooler.to_string(), "no pooler weights: a fresh pooler is initialised");
    let mut want = reference();
    want.take("pooler.dense.weight");
    want.take("pooler.dense.bias");
    assert_bit_identical(&want, &ckpt);
}

#[test]
fn f16_and_bf16_convert_exactly() {
    let reference = reference();
    for (dir, round) in [
        ("f16", (|x: f32| half::f16::from_f32(x).to_f32()) as fn(f32) -> f32),
        ("bf16", |x: f32| half::bf16::from_f32(x).to_f32()),
    ] {
        let (_, ckpt, notices) = load_model_dir(tiny(dir)).unwrap();
        assert!(notices.contains(&Notice::Converted { dtype: dir.into(), count: 39 }), "{notices:?}");
        for (name, t) in &reference.tensors {
            let got = &ckpt.tensors[name];
            assert_eq!(got.shape, t.shape);
            // torch's .half()/.bfloat16() and half's from_f32 both round to nearest even.
            assert!(t.data.iter().zip(&got.data).all(|(&x, &y)| round(x) == y), "{dir} {name}");
        }
    }
}

#[test]
fn safetensors_f64_converts() {
    let d = temp_dir("f64");
    let v = [1.5f64, -2.25, 1e-3];
    write_safetensors(
        &d.join("m.safetensors"),
        &[("classifier.bias", "F64", vec![3], v.iter().flat_map(|x| x.to_le_bytes()).collect())],
    );
    let (ckpt, notices) = load_safetensors(d.join("m.safetensors")).unwrap();
    assert_eq!(ckpt.get("classifier.bias").unwrap().data, [1.5, -2.25, 1e-3f32]);
    assert!(notices.contains(&Notice::Converted { dtype: "f64".into(), count: 1 }));
}

#[test]
fn safetensors_is_preferred_over_pytorch_bin() {
    let d = temp_dir("prefer");
    for f in ["config.json", "model.safetensors"] {
        std::fs::copy(tiny("no_pooler").join(f), d.join(f)).unwrap();
    }
    std::fs::copy(tiny("pytorch/pytorch_model.bin"), d.join("pytorch_model.bin")).unwrap();
    let (_, ckpt, _) = load_model_dir(&d).unwrap();
    assert!(!ckpt.has_pooler(), "loaded pytorch_model.bin instead of model.safetensors");
}

#[test]
fn names_are_normalised() {
    assert_eq!(
        normalise_name("bert.encoder.layer.3.output.LayerNorm.gamma").unwrap(),
        "encoder.layer.3.output.LayerNorm.weight"
    );
    assert_eq!(normalise_name("embeddings.LayerNorm.beta").unwrap(), "embeddings.LayerNorm.bias");
    assert_eq!(normalise_name("pooler.dense.weight").unwrap(), "pooler.dense.weight");
    assert_eq!(normalise_name("classifier.weight").unwrap(), "classifier.weight");
    assert_eq!(normalise_name("cls.predictions.bias"), None);
}

#[test]
fn notices_display_short_lists() {
    let n = Notice::Unused { names: (0..10).map(|i| format!("cls.t{i}")).collect() };
    assert_eq!(n.to_string(), "10 tensors not used by BertModel: cls.t0, cls.t1, cls.t2, cls.t3, ... (6 more)");
}

#[test]
fn expected_outputs_fixture_is_well_formed() {
    let bytes = std::fs::read(root().join("tests/fixtures/tiny_bert/expected_outputs.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(st.tensor("input_ids").unwrap().shape(), [3, 8]);
    assert_eq!(st.tensor("last_hidden_state").unwrap().shape(), [3, 8, 32]);
    assert_eq!(st.tensor("pooler_output").unwrap().shape(), [3, 32]);
}

// ---------- config ----------

fn config_from(json: &str) -> Result<BertConfig, CheckpointError> {
    let d = temp_dir("config");
    std::fs::write(d.join("config.json"), json).unwrap();
    BertConfig::from_file(d.join("config.json"))
}

#[test]
fn config_defaults_follow_hugging_face() {
    let c = config_from(r#"{"hidden_size": 64, "num_attention_heads": 4, "num_hidden_layers": 2}"#).unwrap();
    assert_eq!(
        (c.vocab_size, c.intermediate_size, c.max_position_embeddings, c.type_vocab_size),
        (30522, 3072, 512, 2)
    );
    assert_eq!((c.hidden_act, c.layer_norm_eps, c.head_size(), c.num_labels()), (HiddenAct::Gelu, 1e-12, 16, 2));
    let c = config_from(r#"{"hidden_act": "gelu_new", "id2label": {"0": "NEG", "1": "POS", "2": "MID"}}"#).unwrap();
    assert_eq!((c.hidden_act, c.num_labels()), (HiddenAct::GeluNew, 3));
    assert_eq!(config_from(r#"{"hidden_act": "relu"}"#).unwrap().hidden_act, HiddenAct::Relu);
}

#[test]
fn config_errors_name_the_field() {
    let err = config_from(r#"{"hidden_act": "swish"}"#).unwrap_err().to_string();
    assert!(err.contains("hidden_act") && err.contains("swish") && err.contains("config.json"), "{err}");
    let err = config_from(r#"{"hidden_size": 384, "num_attention_heads": 5}"#).unwrap_err().to_string();
    assert!(err.contains("hidden_size") && err.contains("not divisible"), "{err}");
    let err = config_from(r#"{"vocab_size": 0}"#).unwrap_err().to_string();
    assert!(err.contains("vocab_size") && err.contains("> 0"), "{err}");
    let err = config_from(r#"{"architectures": ["BertModel"], "intermediate_size": "big"}"#).unwrap_err().to_string();
    assert!(err.contains("intermediate_size"), "{err}");
    let err = config_from(r#"{"position_embedding_type": "relative_key"}"#).unwrap_err().to_string();
    assert!(err.contains("position_embedding_type"), "{err}");
    let err = config_from("{ not json").unwrap_err().to_string();
    assert!(err.contains("config.json") && err.contains("JSON"), "{err}");
    let bad = BertConfig { num_attention_heads: 0, ..BertConfig::default() };
    assert!(
        matches!(bad.validate(), Err(CheckpointError::InvalidConfig { field, .. }) if field == "num_attention_heads")
    );
}

// ---------- errors ----------

#[test]
fn error_missing_file() {
    let d = temp_dir("missing");
    let err = load_safetensors(d.join("model.safetensors")).unwrap_err();
    assert!(matches!(&err, CheckpointError::MissingFile { path } if path.ends_with("model.safetensors")), "{err}");
    let err = load_model_dir(&d).unwrap_err();
    assert!(matches!(&err, CheckpointError::MissingFile { path } if path.ends_with("config.json")), "{err}");
    std::fs::copy(tiny("safetensors/config.json"), d.join("config.json")).unwrap();
    let err = load_model_dir(&d).unwrap_err();
    assert!(matches!(err, CheckpointError::NoCheckpoint { .. }), "{err}");
    // A TF index without its data shard.
    std::fs::copy(tiny("tf/bert_model.ckpt.index"), d.join("bert_model.ckpt.index")).unwrap();
    let err = load_model_dir(&d).unwrap_err();
    assert!(
        matches!(&err, CheckpointError::MissingFile { path } if path.ends_with("bert_model.ckpt.data-00000-of-00001")),
        "{err}"
    );
}

#[test]
fn error_missing_tensor() {
    let ckpt = reference();
    let err = ckpt.tensor_with_shape("encoder.layer.9.output.dense.bias", &[32]).unwrap_err();
    assert_eq!(err.to_string(), "tensor encoder.layer.9.output.dense.bias is missing from the checkpoint");
    // A config with more layers than the file holds.
    let d = temp_dir("missing-tensor");
    std::fs::copy(tiny("no_pooler/model.safetensors"), d.join("model.safetensors")).unwrap();
    std::fs::write(
        d.join("config.json"),
        std::fs::read_to_string(tiny("no_pooler/config.json"))
            .unwrap()
            .replace("\"num_hidden_layers\": 2", "\"num_hidden_layers\": 3"),
    )
    .unwrap();
    let err = load_model_dir(&d).unwrap_err();
    let CheckpointError::Mismatch { weights, error, .. } = &err else { panic!("{err}") };
    assert!(weights.ends_with("model.safetensors"), "{err}");
    assert!(
        matches!(&**error, CheckpointError::MissingTensor { name } if name.starts_with("encoder.layer.2.")),
        "{err}"
    );
}

#[test]
fn error_shape_mismatch() {
    let err = reference().tensor_with_shape("pooler.dense.weight", &[32, 33]).unwrap_err();
    assert_eq!(err.to_string(), "tensor pooler.dense.weight: expected shape [32, 33], found [32, 32]");
    let d = temp_dir("shape");
    std::fs::copy(tiny("safetensors/model.safetensors"), d.join("model.safetensors")).unwrap();
    std::fs::write(
        d.join("config.json"),
        std::fs::read_to_string(tiny("safetensors/config.json"))
            .unwrap()
            .replace("\"intermediate_size\": 37", "\"intermediate_size\": 38"),
    )
    .unwrap();
    let err = load_model_dir(&d).unwrap_err();
    let CheckpointError::Mismatch { error, unset, .. } = err else { panic!("{err}") };
    assert!(unset.is_empty(), "the fixture's config sets every size: {unset:?}");
    let CheckpointError::ShapeMismatch { name, expected, found } = *error else { panic!("{error}") };
    assert_eq!(
        (name.as_str(), expected, found),
        ("encoder.layer.0.intermediate.dense.weight", vec![38, 32], vec![37, 32])
    );
}

#[test]
fn error_unsupported_dtype() {
    let d = temp_dir("dtype");
    // safetensors
    write_safetensors(&d.join("m.safetensors"), &[("embeddings.word_embeddings.weight", "I32", vec![2], vec![0; 8])]);
    let err = load_safetensors(d.join("m.safetensors")).unwrap_err().to_string();
    assert!(err.contains("embeddings.word_embeddings.weight") && err.contains("I32"), "{err}");
    // pytorch
    let pkl = state_dict_pickle("pooler.dense.bias", "IntStorage", 2, 0, &[2], &[1], b"");
    write_pytorch(&d.join("p.bin"), &pkl, &[0; 8]);
    let err = load_pytorch(d.join("p.bin")).unwrap_err().to_string();
    assert!(err.contains("pooler.dense.bias") && err.contains("IntStorage"), "{err}");
    // tf: DT_INT32 (3) under a parameter name
    let prefix = d.join("bert_model.ckpt");
    write_bundle_index(&prefix, &[("bert/pooler/dense/bias", bundle_entry(3, &[2], 0, 8))], 0);
    std::fs::write(d.join("bert_model.ckpt.data-00000-of-00001"), [0u8; 8]).unwrap();
    let err = load_tf_bundle(&prefix).unwrap_err().to_string();
    assert!(err.contains("bert/pooler/dense/bias") && err.contains("DT_INT32"), "{err}");
}

#[test]
fn error_truncated_safetensors_names_tensor() {
    let d = temp_dir("trunc-st");
    let bytes = std::fs::read(tiny("no_pooler/model.safetensors")).unwrap();
    std::fs::write(d.join("model.safetensors"), &bytes[..bytes.len() - 100]).unwrap();
    let err = load_safetensors(d.join("model.safetensors")).unwrap_err();
    // The last tensor by offset is the one cut off.
    assert!(
        matches!(&err, CheckpointError::OutOfRange { tensor, .. } if tensor == "encoder.layer.1.output.dense.weight"),
        "{err}"
    );
    assert!(err.to_string().contains("truncated"), "{err}");
}

#[test]
fn error_malformed_safetensors_header() {
    let d = temp_dir("hdr");
    let mut bytes = 20u64.to_le_bytes().to_vec();
    bytes.extend(b"{\"a\": not json at al");
    std::fs::write(d.join("model.safetensors"), bytes).unwrap();
    let err = load_safetensors(d.join("model.safetensors")).unwrap_err();
    assert!(matches!(&err, CheckpointError::Malformed { field, .. } if field == "header"), "{err}");
    std::fs::write(d.join("empty.safetensors"), b"").unwrap();
    let err = load_safetensors(d.join("empty.safetensors")).unwrap_err();
    assert!(matches!(&err, CheckpointError::Malformed { field, .. } if field == "header"), "{err}");
}

#[test]
fn error_truncated_pytorch_zip() {
    let d = temp_dir("trunc-pt");
    let bytes = std::fs::read(tiny("pytorch/pytorch_model.bin")).unwrap();
    std::fs::write(d.join("pytorch_model.bin"), &bytes[..bytes.len() / 2]).unwrap();
    let err = load_pytorch(d.join("pytorch_model.bin")).unwrap_err().to_string();
    assert!(err.contains("pytorch_model.bin") && err.contains("truncated"), "{err}");
}

#[test]
fn error_pytorch_view_past_storage_names_tensor() {
    let d = temp_dir("view");
    // 4 floats of storage, but the view wants offset 2 + 2x2 elements.
    let pkl = state_dict_pickle("pooler.dense.weight", "FloatStorage", 4, 2, &[2, 2], &[2, 1], b"");
    write_pytorch(&d.join("p.bin"), &pkl, &f32_bytes(&[1.0, 2.0, 3.0, 4.0]));
    let err = load_pytorch(d.join("p.bin")).unwrap_err();
    assert!(matches!(&err, CheckpointError::OutOfRange { tensor, .. } if tensor == "pooler.dense.weight"), "{err}");
    // Storage entry shorter than its numel says.
    let pkl = state_dict_pickle("pooler.dense.bias", "FloatStorage", 4, 0, &[4], &[1], b"");
    write_pytorch(&d.join("q.bin"), &pkl, &f32_bytes(&[1.0, 2.0]));
    let err = load_pytorch(d.join("q.bin")).unwrap_err();
    assert!(matches!(&err, CheckpointError::OutOfRange { tensor, .. } if tensor == "pooler.dense.bias"), "{err}");
}

#[test]
fn pytorch_strided_view_is_made_contiguous() {
    let d = temp_dir("strided");
    // A 2x3 view with strides (1, 2) over storage [0..6): element (r, c) = storage[r + 2c].
    let pkl = state_dict_pickle("classifier.weight", "FloatStorage", 6, 0, &[2, 3], &[1, 2], b"");
    write_pytorch(&d.join("p.bin"), &pkl, &f32_bytes(&[0.0, 1.0, 2.0, 3.0, 4.0, 5.0]));
    let (ckpt, _) = load_pytorch(d.join("p.bin")).unwrap();
    assert_eq!(
        ckpt.get("classifier.weight").unwrap(),
        &HostTensor::new(vec![2, 3], vec![0.0, 2.0, 4.0, 1.0, 3.0, 5.0])
    );
}

#[test]
fn error_unsupported_pickle_opcode() {
    let d = temp_dir("opcode");
    // 'I' (0x49, text INT of protocol 0) just before STOP.
    let pkl = state_dict_pickle("classifier.bias", "FloatStorage", 1, 0, &[1], &[1], b"I1\n");
    let at = pkl.len() - 4;
    write_pytorch(&d.join("p.bin"), &pkl, &f32_bytes(&[1.0]));
    let err = load_pytorch(d.join("p.bin")).unwrap_err();
    assert!(matches!(err, CheckpointError::UnsupportedOpcode { opcode: 0x49, offset, .. } if offset == at), "{err}");
    assert!(err.to_string().contains(&format!("0x49 at byte {at}")), "{err}");
}

#[test]
fn error_unsupported_zip_and_legacy_formats() {
    let d = temp_dir("zipfmt");
    let pkl = state_dict_pickle("classifier.bias", "FloatStorage", 1, 0, &[1], &[1], b"");
    write_zip(&d.join("deflated.bin"), &[("archive/data.pkl", &pkl)], 8);
    let err = load_pytorch(d.join("deflated.bin")).unwrap_err().to_string();
    assert!(err.contains("compressed zip entry archive/data.pkl"), "{err}");
    std::fs::write(d.join("legacy.bin"), [0x80, 0x02, 0x8a, 0x0a]).unwrap();
    let err = load_pytorch(d.join("legacy.bin")).unwrap_err().to_string();
    assert!(err.contains("legacy"), "{err}");
}

#[test]
fn error_truncated_tf_data_names_tensor() {
    let d = temp_dir("trunc-tf");
    std::fs::copy(tiny("tf/bert_model.ckpt.index"), d.join("bert_model.ckpt.index")).unwrap();
    let data = std::fs::read(tiny("tf/bert_model.ckpt.data-00000-of-00001")).unwrap();
    std::fs::write(d.join("bert_model.ckpt.data-00000-of-00001"), &data[..data.len() / 2]).unwrap();
    let err = load_tf_bundle(d.join("bert_model.ckpt")).unwrap_err();
    let CheckpointError::OutOfRange { file, tensor, .. } = &err else { panic!("{err}") };
    assert!(file.ends_with("bert_model.ckpt.data-00000-of-00001") && tensor.starts_with("bert/"), "{err}");
}

#[test]
fn tf_hand_built_index_loads_and_transposes() {
    let d = temp_dir("tf-hand");
    let prefix = d.join("bert_model.ckpt");
    // kernel [in=2, out=3] -> weight [3, 2]
    write_bundle_index(
        &prefix,
        &[("bert/pooler/dense/kernel", bundle_entry(1, &[2, 3], 0, 24)), ("output_bias", bundle_entry(1, &[1], 24, 4))],
        0,
    );
    std::fs::write(d.join("bert_model.ckpt.data-00000-of-00001"), f32_bytes(&[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 9.0]))
        .unwrap();
    let (ckpt, _) = load_tf_bundle(&prefix).unwrap();
    assert_eq!(
        ckpt.get("pooler.dense.weight").unwrap(),
        &HostTensor::new(vec![3, 2], vec![0.0, 3.0, 1.0, 4.0, 2.0, 5.0])
    );
    assert_eq!(ckpt.get("classifier.bias").unwrap().data, [9.0]);
}

#[test]
fn error_tf_offset_out_of_range_names_tensor() {
    let d = temp_dir("tf-range");
    let prefix = d.join("bert_model.ckpt");
    write_bundle_index(&prefix, &[("bert/pooler/dense/bias", bundle_entry(1, &[2], 8, 8))], 0);
    std::fs::write(d.join("bert_model.ckpt.data-00000-of-00001"), [0u8; 12]).unwrap();
    let err = load_tf_bundle(&prefix).unwrap_err();
    assert!(matches!(&err, CheckpointError::OutOfRange { tensor, .. } if tensor == "bert/pooler/dense/bias"), "{err}");
}

#[test]
fn error_tf_compressed_block() {
    let d = temp_dir("tf-snappy");
    let prefix = d.join("bert_model.ckpt");
    write_bundle_index(&prefix, &[("bert/pooler/dense/bias", bundle_entry(1, &[2], 0, 8))], 1);
    let err = load_tf_bundle(&prefix).unwrap_err().to_string();
    assert!(err.contains("snappy") && err.contains("bert_model.ckpt.index"), "{err}");
}

#[test]
fn error_tf_malformed_index() {
    let d = temp_dir("tf-bad");
    std::fs::write(
        d.join("bert_model.ckpt.index"),
        b"definitely not an sstable, but long enough to have a footer.....",
    )
    .unwrap();
    let err = load_tf_bundle(d.join("bert_model.ckpt")).unwrap_err();
    assert!(matches!(&err, CheckpointError::Malformed { field, .. } if field == "SSTable footer"), "{err}");
}

// ---------- the other fixtures ----------

#[test]
fn grad_fixture_loads_with_classifier() {
    let dir = root().join("tests/fixtures/tiny_bert_grad");
    let (config, ckpt, notices) = load_model_dir(&dir).unwrap();
    assert_eq!((config.vocab_size, config.hidden_size, config.hidden_dropout_prob), (300, 32, 0.0));
    assert_eq!(config.hidden_act, HiddenAct::Gelu);
    ckpt.tensor_with_shape("classifier.weight", &[1, 32]).unwrap();
    ckpt.tensor_with_shape("classifier.bias", &[1]).unwrap();
    assert!(notices.is_empty(), "{notices:?}");
    // Every parameter has a gradient and an after-AdamW value under the same (prefixed) name.
    for file in
        ["grads_f64.safetensors", "grads_f32.safetensors", "after_adamw_f64.safetensors", "after_adamw_f32.safetensors"]
    {
        let (other, _) = load_safetensors(dir.join(file)).unwrap();
        assert_eq!(other.names().collect::<Vec<_>>(), ckpt.names().collect::<Vec<_>>(), "{file}");
    }
}

#[test]
fn minilm_fixture_is_well_formed() {
    let bytes = std::fs::read(root().join("tests/fixtures/minilm/outputs.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let ids = st.tensor("input_ids").unwrap();
    let (b, t) = (ids.shape()[0], ids.shape()[1]);
    assert!(b >= 8 && t <= 128);
    assert_eq!(st.tensor("last_hidden_state").unwrap().shape(), [b, t, 384]);
    assert_eq!(st.tensor("pooler_output").unwrap().shape(), [b, 384]);
}

// ---------- the real model ----------

#[test]
fn minilm_loads_fast() {
    let dir = root().join("models/all-MiniLM-L6-v2");
    if !dir.join("model.safetensors").is_file() {
        eprintln!("SKIPPED minilm_loads_fast: {} not present (tools/fetch_model.sh fetches it)", dir.display());
        return;
    }
    let mut times = Vec::new();
    let mut loaded = None;
    for _ in 0..3 {
        let t = Instant::now();
        loaded = Some(load_model_dir(&dir).unwrap());
        times.push(t.elapsed().as_secs_f64());
    }
    let (config, ckpt, notices) = loaded.unwrap();
    times.sort_by(f64::total_cmp);
    eprintln!(
        "all-MiniLM-L6-v2: {} tensors, {} floats, load {:.3} s median (runs {:?})",
        ckpt.len(),
        ckpt.numel(),
        times[1],
        times
    );
    assert_eq!((config.hidden_size, config.num_hidden_layers, config.num_attention_heads), (384, 6, 12));
    assert_eq!(ckpt.len(), 103);
    assert!(ckpt.has_pooler());
    assert_eq!(skipped(&notices, "integer"), ["embeddings.position_ids"]);
    // Generous bound: shared 2-core machines are noisy; the figure to watch is the printed one.
    assert!(times[1] < 5.0, "MiniLM load took {:.2} s", times[1]);
}

// ---------- robustness ----------

/// Flips bytes in the headers and directories of each fixture and cuts it at many lengths:
/// every load must return (Ok or a CheckpointError), never panic. Run it in a debug build too,
/// where arithmetic overflow would panic.
#[test]
fn corrupted_files_never_panic() {
    let d = temp_dir("corrupt");
    type Loads = fn(&Path) -> bool;
    let cases: [(&str, &str, Loads); 3] = [
        ("safetensors/model.safetensors", "model.safetensors", |p| load_safetensors(p).is_ok()),
        ("pytorch/pytorch_model.bin", "pytorch_model.bin", |p| load_pytorch(p).is_ok()),
        ("tf/bert_model.ckpt.index", "bert_model.ckpt.index", |p| load_tf_bundle(p).is_ok()),
    ];
    std::fs::copy(tiny("tf/bert_model.ckpt.data-00000-of-00001"), d.join("bert_model.ckpt.data-00000-of-00001"))
        .unwrap();
    let mut seed = 0x2545_f491_u32;
    for (src, name, load) in cases {
        let good = std::fs::read(tiny(src)).unwrap();
        let path = d.join(name);
        // Headers sit at the front (safetensors JSON, data.pkl) and directories at the back (zip, SSTable).
        let n = good.len();
        let positions = (0..n.min(4096)).step_by(11).chain((n.saturating_sub(4096)..n).step_by(11));
        for at in positions {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let mut bad = good.clone();
            bad[at] ^= (seed >> 24) as u8 | 1;
            std::fs::write(&path, &bad).unwrap();
            load(&path);
        }
        for cut in (0..n).step_by(n / 97 + 1) {
            std::fs::write(&path, &good[..cut]).unwrap();
            assert!(!load(&path), "{src} cut at {cut} loaded");
        }
    }
}

#[test]
fn error_tf_entries_over_one_region_decode_no_more_than_the_shard() {
    let d = temp_dir("tf-overlap");
    let prefix = d.join("bert_model.ckpt");
    // Four f32 [16] biases, every one at offset 0 of a 64-byte shard.
    let names: Vec<String> = (0..4).map(|l| format!("bert/encoder/layer_{l}/output/dense/bias")).collect();
    let entries: Vec<(&str, Vec<u8>)> = names.iter().map(|n| (n.as_str(), bundle_entry(1, &[16], 0, 64))).collect();
    write_bundle_index(&prefix, &entries, 0);
    std::fs::write(d.join("bert_model.ckpt.data-00000-of-00001"), [0u8; 64]).unwrap();
    let err = load_tf_bundle(&prefix).unwrap_err();
    assert!(
        matches!(&err, CheckpointError::OutOfRange { tensor, detail, .. }
            if tensor == &names[1] && detail.contains("more than the 64 bytes of the file")),
        "{err}"
    );
}
