//! `wgbert shaders --out DIR`: every WGSL module exactly as the engine compiles it (with WGSL's
//! `enable subgroups;`, which naga refuses, where it uses subgroups), one file each, and `DIR/manifest.json`: per module its file, the WebGPU features it needs, its entry
//! points and every set of `override` values the engine uses for each (the specializations a
//! run can create). Kernel authors and bug reports need the exact source; the portability
//! checks (tools/ci/shader_check.sh, tools/ci/tint) read the manifest.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use serde_json::{json, Map, Value};

use crate::gpu::translate::{self, Target};
use crate::gpu::Shader;
use crate::ops::specializations::specializations;

#[derive(Args)]
pub struct ShadersArgs {
    /// Folder to write the modules and manifest.json into (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// Also translate every entry point and specialization with naga to MSL (Metal), HLSL
    /// (DX12), SPIR-V (Vulkan) and GLSL ES (GL), as wgpu does at run time: DIR/spirv/ gets every
    /// specialization (for spirv-val), DIR/msl, hlsl, glsl each entry point's first one.
    /// Exits non-zero when any translation fails.
    #[arg(long)]
    translate: bool,
}

pub fn run(a: ShadersArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&a.out).with_context(|| format!("cannot create {}", a.out.display()))?;
    let mut modules = Vec::new();
    let mut total = 0;
    for shader in Shader::ALL {
        let path = a.out.join(shader.file_name());
        // WGSL wants `enable subgroups;` before subgroup built-ins; naga refuses it, so the
        // engine's source has none and the file gets it here (the only difference).
        let source = if shader.uses_subgroups() {
            format!("enable subgroups;\n{}", shader.source())
        } else {
            shader.source().to_string()
        };
        std::fs::write(&path, source).with_context(|| format!("cannot write {}", path.display()))?;
        let mut entries = Vec::new();
        let parsed = translate::parse(shader).map_err(|e| anyhow::anyhow!("{}: {e}", shader.name()))?;
        for entry in parsed.entry_points() {
            let specs = specializations(shader, &entry);
            total += specs.len();
            let overrides: Vec<&str> = specs.first().map(|c| c.iter().map(|(n, _)| *n).collect()).unwrap_or_default();
            let sets: Vec<Value> = specs
                .iter()
                .map(|c| Value::Object(c.iter().map(|(n, v)| (n.to_string(), number(*v))).collect::<Map<_, _>>()))
                .collect();
            entries.push(json!({ "name": entry, "overrides": overrides, "specializations": sets }));
        }
        let mut module = json!({
            "name": shader.name(),
            "file": shader.file_name(),
            "features": shader.features(),
            "entry_points": entries,
        });
        if shader.uses_coop_matrix() {
            // tools/ci/tint/check.mjs skips such a module, saying why.
            module["wgpu_only"] = json!(
                "wgpu's experimental cooperative matrices (enable wgpu_cooperative_matrix): no WebGPU implementation has them (Chrome's is chromium_experimental_subgroup_matrix); naga's SPIR-V and MSL are checked instead"
            );
        }
        modules.push(module);
    }
    let manifest = json!({ "wgbert": env!("WGBERT_VERSION"), "modules": modules });
    let path = a.out.join("manifest.json");
    std::fs::write(&path, serde_json::to_string_pretty(&manifest)? + "\n")
        .with_context(|| format!("cannot write {}", path.display()))?;
    println!("{} modules, {total} specializations: {}", Shader::ALL.len(), path.display());
    if a.translate {
        translate_all(&a.out)?;
    }
    Ok(())
}

/// Every module, entry point and specialization through naga's four back ends.
fn translate_all(out: &Path) -> anyhow::Result<()> {
    let start = std::time::Instant::now();
    for t in Target::ALL {
        std::fs::create_dir_all(out.join(t.name()))?;
    }
    let (mut done, mut not_run, mut failed) = ([0usize; 4], [0usize; 4], Vec::new());
    for shader in Shader::ALL {
        let parsed = translate::parse(shader).map_err(|e| anyhow::anyhow!("{}: {e}", shader.name()))?;
        let stem = shader.file_name().trim_end_matches(".wgsl");
        for entry in parsed.entry_points() {
            for (i, constants) in specializations(shader, &entry).iter().enumerate() {
                for (ti, t) in Target::ALL.into_iter().enumerate() {
                    if !t.runs(shader) {
                        not_run[ti] += 1;
                        continue;
                    }
                    match parsed.translate(&entry, constants, t) {
                        Ok(code) => {
                            done[ti] += 1;
                            let name = match t {
                                Target::SpirV => format!("{stem}.{entry}.{i}.{}", t.extension()),
                                _ if i == 0 => format!("{stem}.{entry}.{}", t.extension()),
                                _ => continue,
                            };
                            std::fs::write(out.join(t.name()).join(name), code.into_bytes())?;
                        }
                        Err(e) => failed.push(format!("{} {entry} {constants:?} -> {}: {e}", shader.name(), t.name())),
                    }
                }
            }
        }
    }
    for (ti, t) in Target::ALL.into_iter().enumerate() {
        let skipped = if not_run[ti] > 0 {
            format!(
                " ({} specializations wgpu never sends there: f16 on GL, which has no shader-f16; cooperative matrices outside Vulkan and Metal)",
                not_run[ti]
            )
        } else {
            String::new()
        };
        println!("naga -> {:<5} {:>4} translated{skipped}", t.name(), done[ti]);
    }
    for f in &failed {
        eprintln!("{f}");
    }
    println!("{} failed, in {:.1} s", failed.len(), start.elapsed().as_secs_f64());
    if !failed.is_empty() {
        anyhow::bail!("{} translations failed; the first: {}", failed.len(), failed[0]);
    }
    Ok(())
}

/// Override values as JSON numbers: integers where they are (bools 0/1, codes), else floats.
fn number(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        json!(v as i64)
    } else {
        json!(v)
    }
}
