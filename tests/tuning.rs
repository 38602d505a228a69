//! Autotuning: a new shape is measured once per adapter, its choice cached on disk and reused;
//! retune measures again, off uses the device type's default.

mod common;
use common::*;

use wgbert::gpu::{Gpu, GpuOptions};
use wgbert::ops::attention::AttentionShape;
use wgbert::ops::matmul::{chosen_variant, gemm, Dims, Layout, Operands, Variant};
use wgbert::reference as r;

#[test]
fn tuning_measures_a_new_shape_once_then_reuses_the_cached_choice() {
    if std::env::var_os("WGBERT_MATMUL").is_some() {
        return; // the user's variant overrides every tuned choice
    }
    let dir = std::env::temp_dir().join(format!("wgbert-tune-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let file = dir.join("tuning.json");
    let open = |mode: &str| {
        Gpu::new(&GpuOptions { tune: Some(mode.into()), tune_cache: Some(dir.clone()), ..GpuOptions::from_env() })
            .unwrap()
    };
    let (m, n, k) = (130, 70, 200);
    let d = Dims { m, n, k, nb1: 1, nb2: 1 };
    let (la, lb, lc) = (Layout::rows(k), Layout::rows(n), Layout::rows(n));
    let entry = |json: &serde_json::Value| -> (String, serde_json::Value) {
        let adapters = json["adapters"].as_object().unwrap();
        let (_, entries) = adapters.iter().next().expect("one adapter");
        let (key, v) =
            entries.as_object().unwrap().iter().find(|(k, _)| k.contains("130x70x200")).expect("the shape's entry");
        (key.clone(), v.clone())
    };

    // First use measures every variant, and the tuned gemm is still right.
    let g = open("auto");
    let mut rng = Rng::new(9);
    let (a, b) = (rng.vec(m * k, 1.0), rng.vec(k * n, 1.0));
    let upload = |name: &str, shape: &[usize], data: &[f32]| g.upload(name, shape, data).unwrap();
    let (ta, tb, tc) = (upload("a", &[m, k], &a), upload("b", &[k, n], &b), upload("c", &[m, n], &vec![0.0; m * n]));
    gemm(&g, d, (&ta, la), (&tb, lb), None, (&tc, lc), 1.0, false).unwrap();
    let mut want = vec![0.0; m * n];
    r::matmul::gemm(d, &f64s(&a), la, &f64s(&b), lb, None, &mut want, lc, 1.0, false);
    assert_close("tuned matmul", &tc.to_vec().unwrap(), &want, 1e-5 * k as f64, 1e-5);
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let (key, v) = entry(&json);
    let choice = Variant::parse(v["choice"].as_str().unwrap()).expect("a variant name");
    let candidates = Variant::candidates(&g, Operands::F32);
    for variant in &candidates {
        assert!(v["ms"][variant.name()].as_f64().is_some_and(|t| t > 0.0), "{key}: {variant:?} was not timed: {v}");
    }
    assert!(candidates.contains(&choice), "{key}: {choice:?} is not one of the candidates {candidates:?}");
    assert_eq!(chosen_variant(&g, Operands::F32, d, la, lb, false, lc, false).unwrap(), choice);

    // Another process reads the cached choice instead of measuring: plant a different one.
    let planted = *candidates.iter().find(|v| **v != choice).expect("two candidates at least");
    let mut edited = json.clone();
    let adapter = edited["adapters"].as_object().unwrap().keys().next().unwrap().clone();
    edited["adapters"][&adapter][&key]["choice"] = planted.name().into();
    std::fs::write(&file, serde_json::to_vec(&edited).unwrap()).unwrap();
    assert_eq!(chosen_variant(&open("auto"), Operands::F32, d, la, lb, false, lc, false).unwrap(), planted);
    // A cached choice that is not a candidate here (an older build's) is measured again.
    if let Some(stale) = Variant::ALL.into_iter().find(|v| !candidates.contains(v)) {
        edited["adapters"][&adapter][&key]["choice"] = stale.name().into();
        std::fs::write(&file, serde_json::to_vec(&edited).unwrap()).unwrap();
        let again = chosen_variant(&open("auto"), Operands::F32, d, la, lb, false, lc, false).unwrap();
        assert!(candidates.contains(&again), "the stale {stale:?} was used: {again:?}");
    }

    // Attention: both paths are timed and the choice recorded.
    let s = AttentionShape { b: 2, t: 16, nh: 2, hs: 8 };
    let fused = wgbert::ops::attention::use_fused(&g, &s).unwrap();
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let (_, entries) = json["adapters"].as_object().unwrap().iter().next().unwrap();
    let (_, att) =
        entries.as_object().unwrap().iter().find(|(k, _)| k.starts_with("attention@")).expect("attention entry");
    assert_eq!(att["choice"], if fused { "fused" } else { "matmul" });
    assert!(att["ms"]["fused"].as_f64().is_some() && att["ms"]["matmul"].as_f64().is_some(), "{att}");

    // Retune measures again (new timings); off uses the device type's default.
    chosen_variant(&open("retune"), Operands::F32, d, la, lb, false, lc, false).unwrap();
    let (_, after) = entry(&serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap());
    assert_ne!(after["ms"], v["ms"], "retune must measure again");
    let off = open("off");
    assert_eq!(chosen_variant(&off, Operands::F32, d, la, lb, false, lc, false).unwrap(), Variant::for_gpu(&off));

    // f16 operands (mixed precision) are another build of the kernels: measured and kept apart.
    if g.has_f16() {
        chosen_variant(&g, Operands::F16, d, la, lb, false, lc, false).unwrap();
        let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        let (_, entries) = json["adapters"].as_object().unwrap().iter().next().unwrap();
        let shapes = entries.as_object().unwrap().keys().filter(|k| k.contains("130x70x200")).count();
        assert_eq!(shapes, 2, "f32 and f16 operands have an entry each: {entries}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
