//! `wgbert shaders`: the modules as compiled, the manifest of specializations, and naga's
//! translations to every back end; and the manifest's table against what a run really builds.

mod common;
use common::*;

use std::process::Command;

use wgbert::gpu::Shader;
use wgbert::ops::specializations::specializations;
use wgbert::selftest::{self, Size};

/// Every pipeline the self-test builds (every kernel, variant and option it checks, and a tiny
/// BERT's training step) has its (entry point, override values) in the specialization table,
/// so the manifest the portability checks read cannot miss what the ops really create.
#[test]
fn every_pipeline_a_run_builds_is_in_the_specialization_table() {
    let g = gpu();
    for group in selftest::GROUPS {
        let rows = selftest::run_group(&g, group, Size::Quick);
        assert!(rows.iter().all(|r| r.passed), "{} failed", group.name);
    }
    let built = g.specializations();
    assert!(built.len() > 50, "only {} pipelines built", built.len());
    for (shader, entry, constants) in &built {
        let mut sorted = constants.clone();
        sorted.sort_by(|a, b| a.0.cmp(b.0));
        let table = specializations(*shader, entry);
        let found = table.iter().any(|c| {
            let mut c = c.clone();
            c.sort_by(|a, b| a.0.cmp(b.0));
            c == sorted
        });
        assert!(found, "{} {entry} {constants:?} was built but is not in ops::specializations", shader.name());
    }
}

#[test]
fn shaders_writes_each_module_as_compiled_and_translates_every_specialization() {
    let dir = temp("shaders");
    let out = Command::new(env!("CARGO_BIN_EXE_wgbert"))
        .args(["shaders", "--translate", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("0 failed"), "{stdout}");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let modules = manifest["modules"].as_array().unwrap();
    assert_eq!(modules.len(), Shader::ALL.len());
    let mut total = 0;
    for (m, shader) in modules.iter().zip(Shader::ALL) {
        let file = m["file"].as_str().unwrap();
        // As compiled, with WGSL's `enable subgroups;` (which naga refuses) where it uses them.
        let written = std::fs::read_to_string(dir.join(file)).unwrap();
        match written.strip_prefix("enable subgroups;\n") {
            Some(rest) => assert!(shader.uses_subgroups() && rest == shader.source(), "{file}"),
            None => assert!(!shader.uses_subgroups() && written == shader.source(), "{file}"),
        }
        let needs = |f: &str| m["features"].as_array().unwrap().iter().any(|v| v == f);
        assert_eq!(needs("shader-f16"), shader.uses_f16(), "{file}");
        assert_eq!(needs("subgroups"), shader.uses_subgroups(), "{file}");
        // The tensor-core module is marked as needing wgpu's cooperative matrices, and as one
        // that Tint cannot take.
        let coop = m["features"].as_array().unwrap().iter().any(|f| f == "wgpu-experimental-cooperative-matrix");
        assert_eq!(coop, shader.uses_coop_matrix(), "{file}");
        assert_eq!(m.get("wgpu_only").is_some(), shader.uses_coop_matrix(), "{file}");
        let parsed = wgbert::gpu::translate::parse(shader).unwrap();
        let entries: Vec<&str> =
            m["entry_points"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
        assert_eq!(entries, parsed.entry_points(), "{file}");
        for e in m["entry_points"].as_array().unwrap() {
            let sets = e["specializations"].as_array().unwrap();
            assert_eq!(sets.len(), specializations(shader, e["name"].as_str().unwrap()).len());
            total += sets.len();
            if sets.is_empty() {
                continue; // never built from this module (the coop module's copies of the f16 kernels)
            }
            // Each SPIR-V specialization is written, for spirv-val.
            let stem = file.trim_end_matches(".wgsl");
            let last = format!("{stem}.{}.{}.spv", e["name"].as_str().unwrap(), sets.len() - 1);
            assert!(dir.join("spirv").join(&last).is_file(), "{last}");
        }
    }
    assert!(stdout.contains(&format!("{total} specializations")), "{stdout}");
    // The matmul kernels come in several specializations, each translated for Metal.
    let msl = std::fs::read_to_string(dir.join("msl/matmul.matmul_reg.metal")).unwrap();
    assert!(msl.contains("kernel void"), "{msl}");
}
