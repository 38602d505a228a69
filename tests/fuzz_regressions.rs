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
    assert!(replay("pickle", wgbert::fuzzing::fuzz_pickle) >= 2);
}
