//! The `wgbert` binary as a user runs it: output formats and error messages.

mod common;
use common::wgbert;

use std::path::Path;
use std::process::Command;

const MODEL: &str = "models/all-MiniLM-L6-v2";

fn have_model() -> bool {
    let ok = Path::new(MODEL).join("model.safetensors").is_file();
    if !ok {
        eprintln!("skipped: {MODEL} is absent; run tools/fetch_model.sh");
    }
    ok
}

#[test]
fn info_names_the_chosen_adapter_and_its_limits() {
    let (ok, out, err) = wgbert(&["info"], "");
    assert!(ok, "{err}");
    assert!(
        out.contains("chosen:") && out.contains("max_storage_buffer_binding_size") && out.contains("timestamp-query"),
        "{out}"
    );
}

#[test]
fn bench_kernels_json_has_the_documented_fields() {
    let (ok, out, err) = wgbert(&["bench", "kernels", "--quick", "--json", "--reps", "1"], "");
    assert!(ok, "{err}");
    let rows: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    let kernels: std::collections::BTreeSet<&str> = rows.iter().map(|r| r["kernel"].as_str().unwrap()).collect();
    for k in ["matmul", "attention", "layernorm", "gelu", "softmax", "adamw"] {
        assert!(kernels.contains(k), "no {k} row");
    }
    for r in &rows {
        assert!(
            r["pass"].is_string()
                && r["shape"].is_string()
                && r["ms_median"].is_f64()
                && r["ms_min"].is_f64()
                && r["ms_max"].is_f64(),
            "{r}"
        );
        assert!(r["gflops"].is_f64() || r["gbps"].is_f64(), "{r}");
    }
}

#[test]
fn tokenize_prints_ids_and_pieces() {
    if !have_model() {
        return;
    }
    let (ok, out, err) = wgbert(&["tokenize", "--model", MODEL], "Hello, world!\r\n\n");
    assert!(ok, "{err}");
    assert_eq!(out, "101 7592 1010 2088 999 102\n101 102\n");
    let (ok, out, _) = wgbert(&["tokenize", "--model", MODEL, "--tokens", "--max-len", "4"], "Hello, world!\n");
    assert!(ok);
    assert_eq!(out, "[CLS] hello , [SEP]\n");
}

#[test]
fn embed_pooler_matches_the_transformers_fixture() {
    if !have_model() {
        return;
    }
    let (ok, out, err) = wgbert(&["embed", "--model", MODEL, "--pool", "pooler"], "The movie was great!\n");
    assert!(ok, "{err}");
    let got: Vec<f32> = serde_json::from_str(out.trim()).unwrap();
    let bytes = std::fs::read("tests/fixtures/minilm/outputs.safetensors").unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let pooled: Vec<f64> = st
        .tensor("pooler_output")
        .unwrap()
        .data()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()) as f64)
        .collect();
    // Row 1 of the fixture is "The movie was great!" (padded there, unpadded here: same result).
    common::assert_close("embed --pool pooler", &got, &pooled[384..768], 1e-4, 0.0);
}

#[test]
fn bad_input_is_one_clear_message_without_a_panic() {
    let (ok, _, err) = wgbert(&["embed", "--model", "/nonexistent/model"], "x\n");
    assert!(!ok);
    assert!(err.contains("/nonexistent/model") && !err.contains("panicked"), "{err}");
    let (ok, _, err) = wgbert(&["info", "--backend", "glide"], "");
    assert!(!ok);
    assert!(err.contains("unknown backend \"glide\"") && !err.contains("panicked"), "{err}");
    let (ok, _, err) = wgbert(&["info", "--adapter", "no such adapter"], "");
    assert!(!ok);
    assert!(err.contains("no adapter matches"), "{err}");
}

#[test]
fn selftest_quick_passes_every_row_and_reports_json() {
    let (ok, out, err) = wgbert(&["selftest", "--quick", "--json"], "");
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let rows = v["rows"].as_array().expect("rows");
    assert_eq!(v["failed"], 0, "{out}");
    assert_eq!(v["passed"].as_u64(), Some(rows.len() as u64));
    // Every group reported, each row with the documented fields.
    for g in wgbert::selftest::GROUPS {
        assert!(rows.iter().any(|r| r["group"] == g.name), "no row of group {}", g.name);
    }
    for key in ["kernel", "variant", "shape", "max_err", "tolerance", "passed", "note"] {
        assert!(rows[0].get(key).is_some(), "row without {key}: {}", rows[0]);
    }
    assert!(v["adapter"]["name"].as_str().is_some_and(|n| !n.is_empty()));
    // Progress per group goes to stderr, so stdout stays one JSON object.
    assert!(err.contains("training"), "{err}");
}

#[test]
fn selftest_filter_runs_one_group_and_refuses_unknown_ones() {
    let (ok, out, err) = wgbert(&["selftest", "--quick", "--filter", "training", "--verbose"], "");
    assert!(ok, "{err}");
    assert!(out.contains("tiny BERT vs PyTorch: every gradient") && out.contains(" 0 failed"), "{out}");
    assert!(!out.contains("matmul "), "only the training group runs: {out}");
    let (ok, _, err) = wgbert(&["selftest", "--filter", "nosuch"], "");
    assert!(!ok);
    assert!(err.contains("matches no check group") && err.contains("attention"), "{err}");
}

#[test]
fn a_headless_start_prints_no_window_system_noise() {
    // Without XDG_RUNTIME_DIR (headless machines, CI), Mesa's Wayland support used to print
    // "error: XDG_RUNTIME_DIR is invalid or not set" on every Vulkan start.
    let out = Command::new(env!("CARGO_BIN_EXE_wgbert")).arg("info").env_remove("XDG_RUNTIME_DIR").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("XDG_RUNTIME_DIR"), "{err}");
}

/// The tutorial's five example sentences.
const FIVE: &str = "this is such an amazing movie!\nThe movie was great!\nThe movie was meh.\nThe movie was okish.\nThe movie was terrible...\n";

/// wgpu's GL back end (Mesa's llvmpipe through EGL here) embeds as Vulkan does: the same
/// kernels through another shader compiler and driver, with GL's lower limits.
#[test]
fn embed_on_gl_equals_vulkan() {
    if !have_model() {
        return;
    }
    let (_, info, _) = wgbert(&["info", "--backend", "gl"], "");
    if info.contains("gl      (none)") {
        eprintln!("skipped: no GL adapter (Mesa's EGL and GLES libraries: libegl1, libegl-mesa0, libgles2)");
        return;
    }
    let embed = |backend: &str, pool: &str| {
        let (ok, out, err) = wgbert(&["embed", "--model", MODEL, "--pool", pool, "--backend", backend], FIVE);
        assert!(ok, "{backend}: {err}");
        out.lines().map(|l| serde_json::from_str::<Vec<f32>>(l).unwrap()).collect::<Vec<_>>()
    };
    for pool in ["cls", "mean"] {
        let (vk, gl) = (embed("vulkan", pool), embed("gl", pool));
        assert_eq!(vk.len(), 5);
        for (a, b) in vk.iter().zip(&gl) {
            common::assert_close(&format!("embed --pool {pool} on GL vs Vulkan"), b, &common::f64s(a), 1e-5, 0.0);
        }
    }
}

/// `--precision mixed` in inference: embeddings within f16 rounding of f32's, predictions of
/// the same classes; on an adapter without shader-f16 (GL here) a clear refusal.
#[test]
fn inference_in_mixed_precision_is_close_to_f32_and_refused_without_f16() {
    if !have_model() {
        return;
    }
    let embed = |precision: &str| {
        let (ok, out, err) =
            wgbert(&["embed", "--model", MODEL, "--precision", precision, "--backend", "vulkan"], FIVE);
        assert!(ok, "{precision}: {err}");
        out.lines().map(|l| serde_json::from_str::<Vec<f32>>(l).unwrap()).collect::<Vec<_>>()
    };
    let (full, half) = (embed("f32"), embed("mixed"));
    assert_eq!(half.len(), 5);
    assert_ne!(full, half, "mixed precision must round something");
    for (a, b) in full.iter().zip(&half) {
        common::assert_close("embed --precision mixed vs f32", b, &common::f64s(a), 5e-3, 0.0);
    }
    let (_, info, _) = wgbert(&["info", "--backend", "gl"], "");
    if !info.contains("gl      (none)") {
        let (ok, _, err) = wgbert(&["embed", "--model", MODEL, "--precision", "mixed", "--backend", "gl"], FIVE);
        assert!(!ok && err.contains("shader-f16") && err.contains("--precision f32"), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn embed_defaults_to_the_models_length_when_it_is_under_128() {
    // The tiny model has 16 positions: no --max-len needed, long texts truncated to 16 tokens.
    let dir = common::temp("embed-short-model");
    let model = common::tiny_model(&dir);
    let m = model.to_str().unwrap();
    let long = "the movie was very good ".repeat(10) + "\n";
    let (ok, out, err) = wgbert(&["embed", "--model", m], &long);
    assert!(ok, "{err}");
    let v: Vec<f32> = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v.len(), 32);
    let (ok, _, err) = wgbert(&["embed", "--model", m, "--max-len", "17"], &long);
    assert!(!ok && err.contains("max_position_embeddings (16)"), "{err}");
}

/// A model folder under the temp dir: each (source folder, file name) linked (large weights)
/// or copied into it.
fn model_folder(name: &str, files: &[(&str, &str)]) -> std::path::PathBuf {
    let dir = common::temp(name);
    for (from, f) in files {
        let src = std::fs::canonicalize(Path::new(from).join(f)).unwrap_or_else(|e| panic!("{from}/{f}: {e}"));
        #[cfg(unix)]
        std::os::unix::fs::symlink(&src, dir.join(f)).unwrap();
        #[cfg(not(unix))]
        std::fs::copy(&src, dir.join(f)).unwrap();
    }
    dir
}

/// `wgbert embed` on a folder with tokenizer.json and no vocab.txt (as transformers 5 saves a
/// model) prints exactly what it prints with the vocab.txt: the tiny BERT (whose tokenizer.json
/// has holes where vocab.txt repeats a line) and all-MiniLM-L6-v2, texts and pairs.
#[test]
fn embed_on_a_tokenizer_json_only_folder_prints_the_same_vectors() {
    const TINY: &str = "tests/fixtures/tiny_bert/safetensors";
    const T5: &str = "tests/fixtures/tiny_bert/transformers5";
    let mut cases = vec![(
        model_folder(
            "tiny-vocab-txt",
            &[(TINY, "config.json"), (TINY, "model.safetensors"), ("tests/fixtures/tiny_bert/tf", "vocab.txt")],
        ),
        model_folder(
            "tiny-json",
            &[
                (TINY, "config.json"),
                (TINY, "model.safetensors"),
                (T5, "tokenizer.json"),
                (T5, "tokenizer_config.json"),
            ],
        ),
    )];
    if have_model() {
        let mut json = vec![(MODEL, "config.json"), (MODEL, "model.safetensors")];
        json.extend(["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"].map(|f| (MODEL, f)));
        cases.push((Path::new(MODEL).to_path_buf(), model_folder("minilm-json", &json)));
    }
    let texts = "This movie was a GREAT film, I think!\na i [MASK] x[SEP]y\n\n";
    let pairs = "This movie was a GREAT film\tI think!\na i\t\n";
    for (vocab_txt, json_only) in &cases {
        assert!(!json_only.join("vocab.txt").exists());
        for (args, stdin, lines) in [(&["--pool", "mean"][..], texts, 3), (&["--pairs", "--pool", "cls"][..], pairs, 2)]
        {
            let embed = |dir: &Path| {
                let (ok, out, err) = wgbert(&[&["embed", "--model", dir.to_str().unwrap()][..], args].concat(), stdin);
                assert!(ok && !err.contains("notice"), "{}: {err}", dir.display());
                out
            };
            let (want, got) = (embed(vocab_txt), embed(json_only));
            assert_eq!(want.lines().count(), lines, "{want}");
            assert!(want == got, "{} {args:?}: the tokenizer.json-only copy embeds otherwise", vocab_txt.display());
        }
    }
}

/// A tokenizer.json setting wgbert does not implement stops the command with its name; one it
/// follows otherwise than HF tokenizers would is a notice on standard error.
#[test]
fn tokenizer_json_refusals_and_notices_reach_the_user() {
    let t5 = Path::new("tests/fixtures/tiny_bert/transformers5");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(t5.join("tokenizer.json")).unwrap()).unwrap();
    let dir = common::temp("tokjson-refused");
    let mut added = json.clone();
    added["added_tokens"].as_array_mut().unwrap().push(serde_json::json!({"id": 99, "content": "[NEW]"}));
    std::fs::write(dir.join("tokenizer.json"), added.to_string()).unwrap();
    let (ok, _, err) = wgbert(&["tokenize", "--model", dir.to_str().unwrap()], "x\n");
    assert!(!ok && err.contains("tokenizer.json: added token \"[NEW]\" (id 99)") && !err.contains("panicked"), "{err}");

    let dir = common::temp("tokjson-notice");
    let mut cased = json;
    cased["normalizer"]["lowercase"] = false.into();
    std::fs::write(dir.join("tokenizer.json"), cased.to_string()).unwrap();
    std::fs::write(dir.join("tokenizer_config.json"), r#"{"do_lower_case": true}"#).unwrap();
    let (ok, out, err) = wgbert(&["tokenize", "--model", dir.to_str().unwrap(), "--tokens"], "GREAT\n");
    assert!(ok, "{err}");
    assert_eq!(out, "[CLS] great [SEP]\n");
    assert!(err.contains("notice: tokenizer_config.json's do_lower_case (true) replaces"), "{err}");
}
