//! Long runs: GPU and host memory stay flat when every batch has another shape, and a wait for
//! the GPU ends (deadline, lost device) instead of hanging.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::{gpu, Rng};
use wgbert::checkpoint::{load_safetensors, BertConfig};
use wgbert::gpu::{Gpu, GpuError, GpuOptions};
use wgbert::infer::{logits_async, Encoded};
use wgbert::model::{BertClassifier, Head};

const DIR: &str = "tests/fixtures/tiny_bert/safetensors";

fn tiny_model(g: &Arc<Gpu>) -> BertClassifier {
    let config = BertConfig::from_file(Path::new(DIR).join("config.json")).unwrap();
    let (ckpt, _) = load_safetensors(Path::new(DIR).join("model.safetensors")).unwrap();
    BertClassifier::from_checkpoint(g, &config, &ckpt, Head::Train { num_labels: 1, seed: 0 }).unwrap()
}

/// `n` token sequences of random lengths 2..=max_len, as predict encodes texts.
fn random_lengths(rng: &mut Rng, n: usize, max_len: usize, vocab: u32) -> Encoded {
    let ids: Vec<Vec<u32>> = (0..n)
        .map(|_| {
            let len = 2 + rng.below(max_len as u32 - 1) as usize;
            (0..len).map(|_| 1 + rng.below(vocab - 1)).collect()
        })
        .collect();
    let type_ids = ids.iter().map(|s| vec![0; s.len()]).collect();
    Encoded { ids, type_ids, labels: vec![0; n] }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// 20,000 texts of random lengths through predict's path (batches sorted by length, each
/// padded to its longest), in 20 rounds of 1,000 as a server would see them. Every length
/// needs buffers of new size classes; the pool keeps its idle ones under its limit, so after
/// a warm-up round the device footprint and the host's memory stay flat.
#[test]
fn memory_stays_flat_over_20000_texts_of_random_lengths() {
    let g = gpu();
    let model = tiny_model(&g);
    let max_len = model.config.max_position_embeddings; // 40: 39 lengths
                                                        // The tiny model's tensors take about a MiB: a small floor makes the limit its own peak.
    let floor = 1 << 20;
    g.set_pool_idle_floor(floor);
    let mut rng = Rng::new(7);
    let (rounds, per_round, warm_up) = (20, 1_000, 2);
    let mut rows = Vec::new();
    for round in 0..rounds {
        let enc = random_lengths(&mut rng, per_round, max_len, model.config.vocab_size as u32);
        g.reset_memory_peaks();
        let logits = pollster::block_on(logits_async(&g, &model, &enc, 0, 32, |_| {})).unwrap();
        assert_eq!(logits.len(), per_round);
        assert!(logits.iter().all(|v| v.is_finite()));
        let m = g.memory();
        let rss = wgbert::bench::train::host_rss_mib().unwrap_or(0.0);
        eprintln!(
            "round {:>2}: pool peak {:.2} MiB (tensors {:.2}, idle limit {:.2}); buffers created {}, freed {}; driver reserved {}; host RSS {rss:.1} MiB",
            round + 1,
            mib(m.peak_total),
            mib(m.peak_live),
            mib(m.idle_limit),
            m.buffers_created,
            m.buffers_freed,
            g.device_reserved_bytes().map(|b| format!("{:.1} MiB", mib(b))).unwrap_or("-".into()),
        );
        rows.push((m, rss));
    }
    let peak_live = rows.iter().map(|(m, _)| m.peak_live).max().unwrap();
    // Tensors at their peak plus idle buffers at the limit: what the pool may hold, however
    // many lengths it has seen.
    let ceiling = peak_live + peak_live.max(floor);
    let warm = rows[..warm_up].iter().map(|(m, _)| m.peak_total).max().unwrap();
    for (round, (m, _)) in rows.iter().enumerate().skip(warm_up) {
        assert!(
            m.peak_total <= ceiling,
            "round {}: the pool held {} B, over its ceiling of {ceiling} B",
            round + 1,
            m.peak_total
        );
        assert!(
            m.peak_total as f64 <= warm as f64 * 1.1,
            "round {}: the pool grew to {} B after warm-up's {warm} B",
            round + 1,
            m.peak_total
        );
    }
    let last = rows.last().unwrap().0;
    assert!(last.buffers_freed > 0, "the test never made the pool free an idle buffer: {last:?}");
    let (rss_warm, rss_end) = (rows[warm_up - 1].1, rows.last().unwrap().1);
    assert!(rss_end - rss_warm < 8.0, "host RSS grew from {rss_warm:.1} to {rss_end:.1} MiB after warm-up");
    g.set_pool_idle_floor(256 << 20);
}

/// A device of its own: these tests make theirs unusable.
fn own_gpu() -> Arc<Gpu> {
    Gpu::new(&GpuOptions::from_env()).unwrap()
}

#[test]
fn a_read_back_past_its_deadline_is_an_error_naming_the_tensor() {
    let g = own_gpu();
    // Work that outlasts one poll slice (100 ms): a 1024³ matmul on a CPU adapter, 32 of 4096³
    // (4.4 TFLOP) on a GPU.
    let (n, reps) = if g.is_cpu() { (1024, 1) } else { (4096, 32) };
    let a = g.upload("a", &[n, n], &vec![0.5; n * n]).unwrap();
    let mut c = a.clone();
    for _ in 0..reps {
        c = wgbert::ops::matmul::matmul(&g, &a, &a, false, false).unwrap().named("product");
    }
    g.set_wait_limit(Duration::from_millis(1));
    let err = c.to_vec().unwrap_err();
    assert!(matches!(err, GpuError::Timeout { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("the read-back of tensor product") && msg.contains(&g.info().name), "{msg}");
    assert!(msg.contains("WGBERT_READBACK_TIMEOUT"), "{msg}");
    // The work was not lost: with time, the same read-back succeeds.
    g.set_wait_limit(Duration::from_secs(600));
    assert_eq!(c.to_vec().unwrap()[0], 0.25 * n as f32);
}

#[test]
fn a_lost_device_is_an_error_naming_the_adapter() {
    let g = own_gpu();
    let t = g.upload("scores", &[4], &[1.0, 2.0, 3.0, 4.0]).unwrap();
    assert_eq!(t.to_vec().unwrap(), [1.0, 2.0, 3.0, 4.0]);
    g.device().destroy();
    let err = t.to_vec().unwrap_err();
    let msg = err.to_string();
    eprintln!("{msg}");
    assert!(matches!(err, GpuError::DeviceLost { .. }), "{msg}");
    assert!(msg.contains(&g.info().name), "{msg}");
}
