//! The same tiny random BERT from every checkpoint format (tests/fixtures/tiny_bert) gives
//! Hugging Face's outputs on our kernels: safetensors with `bert.` prefix and extra heads,
//! PyTorch .bin (non-contiguous and offset storages), legacy gamma/beta names, f16, bf16 and
//! Google's TF checkpoint; without a pooler the encoder still matches.

mod common;
use common::*;

use std::path::Path;
use std::sync::Arc;

use wgbert::autograd::Tape;
use wgbert::checkpoint::load_model_dir;
use wgbert::model::{BertClassifier, Dropouts, Head, Rows};
use wgbert::ops::embedding::TokenBatch;

const DIR: &str = "tests/fixtures/tiny_bert";

/// (hidden (3·8·32), pooled (3·32)) of the model in `folder`.
fn outputs(folder: &str) -> (Vec<f32>, Vec<f32>) {
    let g = gpu();
    let (config, ckpt, _) = load_model_dir(Path::new(DIR).join(folder)).unwrap();
    let model = BertClassifier::from_checkpoint(&g, &config, &ckpt, Head::Train { num_labels: 1, seed: 0 }).unwrap();
    let ids = [2, 10, 11, 12, 13, 3, 0, 0, 2, 20, 21, 3, 30, 31, 32, 3, 2, 40, 3, 0, 0, 0, 0, 0];
    let types = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0];
    let mask: Vec<f32> = ids.iter().map(|&i| (i != 0) as u32 as f32).collect();
    let batch =
        Arc::new(TokenBatch::upload(&g, &ids, &types, 3, 8, config.vocab_size, config.type_vocab_size).unwrap());
    let mask = g.upload("mask", &[3, 8], &mask).unwrap();
    let mut tape = Tape::inference(&g);
    let none = Dropouts { hidden: 0.0, attention: 0.0, classifier: 0.0 };
    let h = model.encode(&mut tape, &batch, &mask, none, Rows::All).unwrap();
    // The pooler through the classifier's path: the last layer for token 0 alone.
    let cls = model.encode(&mut tape, &batch, &mask, none, Rows::Cls).unwrap();
    let p = model.pool(&mut tape, &cls).unwrap();
    (h.value.to_vec().unwrap(), p.value.to_vec().unwrap())
}

fn expected(name: &str) -> Vec<f64> {
    let bytes = std::fs::read(Path::new(DIR).join("expected_outputs.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    st.tensor(name).unwrap().data().chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap())).collect()
}

#[test]
fn every_f32_format_gives_the_reference_outputs() {
    let (wh, wp) = (expected("last_hidden_state_f64"), expected("pooler_output_f64"));
    let first = outputs("safetensors");
    for folder in ["safetensors", "pytorch", "pytorch_legacy_names", "tf"] {
        let (h, p) = outputs(folder);
        // f32 kernels against PyTorch in f64 (PyTorch's own f32 run differs by 9.2e-7).
        assert_close(&format!("{folder} last_hidden_state"), &h, &wh, 2e-5, 0.0);
        assert_close(&format!("{folder} pooler_output"), &p, &wp, 2e-5, 0.0);
        // The same weights from any format: bit-identical outputs.
        assert_eq!((h, p), first, "{folder} differs from safetensors");
    }
}

#[test]
fn half_precision_checkpoints_and_a_missing_pooler() {
    let wh = expected("last_hidden_state_f64");
    // f16 / bf16 weights are the f32 ones rounded: outputs move by the rounding, no more.
    for (folder, tol) in [("f16", 5e-2), ("bf16", 3e-1)] {
        let (h, _) = outputs(folder);
        assert_close(&format!("{folder} last_hidden_state"), &h, &wh, tol, 0.0);
    }
    // Without pooler weights the encoder is unchanged (the pooler is initialised fresh).
    let (h, _) = outputs("no_pooler");
    assert_close("no_pooler last_hidden_state", &h, &wh, 2e-5, 0.0);
}
