//! Replays through the fuzz targets' own checks (src/fuzzing.rs) every seed and every input a
//! fuzzer once crashed, hung or exhausted (tools/fuzz/regressions/<target>/, kept by
//! tools/fuzz.sh): each must now be an error or a result, never a panic.

use std::path::Path;

fn replay(target: &str, check: fn(&[u8])) -> usize {
    let mut n = 0;
    for kind in ["seeds", "regressions"] {
        let dir = Path::new("tools/fuzz").join(kind).join(target);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
            .collect();
        files.sort();
        for f in files {
            let bytes = std::fs::read(&f).unwrap();
            if std::panic::catch_unwind(|| check(&bytes)).is_err() {
                panic!("{} fails its {target} check again", f.display());
            }
            n += 1;
        }
    }
    n
}

#[test]
fn tokenizer_inputs_replay() {
    assert!(replay("tokenizer", wgbert::fuzzing::fuzz_tokenizer) >= 5);
}

#[test]
fn safetensors_inputs_replay() {
    assert!(replay("safetensors", wgbert::fuzzing::fuzz_safetensors) >= 2);
}

#[test]
fn pickle_inputs_replay() {
    assert!(replay("pickle", wgbert::fuzzing::fuzz_pickle) >= 5);
}

#[test]
fn zip_inputs_replay() {
    assert!(replay("zip", wgbert::fuzzing::fuzz_zip) >= 1);
}

#[test]
fn tf_bundle_inputs_replay() {
    assert!(replay("tf_bundle", wgbert::fuzzing::fuzz_tf_bundle) >= 2);
}

/// The zip seed (tools/fuzz/make_seeds.py) decodes to what its script wrote, views included, so
/// that the targets reach the gathering of tensors and not only its errors.
#[test]
fn the_zip_seed_reads_back_its_views() {
    let bytes = std::fs::read("tools/fuzz/seeds/zip/small_views.bin").unwrap();
    let (ckpt, _) = wgbert::checkpoint::parse_pytorch(Path::new("small_views.bin"), &bytes).unwrap();
    // storage 0 holds 0.5·i; the query weight is its transposed view (shape (2, 3), strides (1, 2)) from element 4
    let q = ckpt.get("encoder.layer.0.attention.self.query.weight").unwrap();
    assert_eq!((q.shape.as_slice(), q.data.as_slice()), (&[2, 3][..], &[2.0, 3.0, 4.0, 2.5, 3.5, 4.5][..]));
    assert_eq!(ckpt.get("pooler.dense.bias").unwrap().data, [1.0, -2.0, 0.25, 3.5]); // f16
                                                                                     // The pickle alone, its storages zeroed, gives the same tensors of zeros.
    let pkl = std::fs::read("tools/fuzz/seeds/pickle/small_views.pkl").unwrap();
    let (zeros, _) = wgbert::checkpoint::parse_state_dict_pickle(&pkl).unwrap();
    assert_eq!(zeros.names().collect::<Vec<_>>(), ckpt.names().collect::<Vec<_>>());
    assert!(zeros.tensors.values().all(|t| t.data.iter().all(|&v| v == 0.0)));
    // The TF seed cut at 48 KiB: an error naming the first tensor past the cut, not a panic.
    let tf = std::fs::read("tools/fuzz/seeds/tf_bundle/tiny_bert_head.bin").unwrap();
    let (len, rest) = tf.split_at(4);
    let (index, data) = rest.split_at(u32::from_le_bytes(len.try_into().unwrap()) as usize);
    let e = wgbert::checkpoint::parse_tf_bundle(index, data).unwrap_err().to_string();
    assert!(e.contains("past the end of a 49152-byte file"), "{e}");
}
