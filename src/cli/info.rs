//! `wgbert info`: every adapter, the chosen one, its limits and features.

use clap::Args;

use super::shared::GpuArgs;
use crate::gpu::{enumerate_adapters, Gpu, GpuOptions};

#[derive(Args)]
pub struct InfoArgs {
    #[command(flatten)]
    gpu: GpuArgs,
}

pub fn run(a: InfoArgs) -> anyhow::Result<()> {
    let opts = a.gpu.options();
    println!("wgbert {}", env!("WGBERT_VERSION"));
    // What each backend offers, so that a missing driver shows as an empty line.
    let backends = match &opts.backend {
        Some(b) => vec![b.clone()],
        None => ["vulkan", "metal", "dx12", "gl"].iter().map(|s| s.to_string()).collect(),
    };
    println!("adapters:");
    for b in &backends {
        let list = enumerate_adapters(&GpuOptions { backend: Some(b.clone()), ..Default::default() })?;
        if list.is_empty() {
            println!("  {b:<7} (none)");
        }
        for (_, s) in list {
            println!(
                "  {b:<7} {} ({:?}, driver: {})",
                s.name,
                s.device_type,
                if s.driver.is_empty() { "-" } else { &s.driver }
            );
        }
    }
    let all = enumerate_adapters(&GpuOptions { backend: opts.backend.clone(), ..Default::default() })?;
    println!("index for --adapter:");
    for (_, s) in &all {
        println!("  {}: {} ({})", s.index, s.name, s.backend);
    }
    let gpu = Gpu::new(&opts)?;
    let info = gpu.info();
    let l = gpu.limits();
    let f = gpu.features();
    println!(
        "chosen: {} ({:?}, {:?}, driver: {} {})",
        info.name, info.backend, info.device_type, info.driver, info.driver_info
    );
    println!("limits:");
    println!("  max_buffer_size                   {:>14} bytes", l.max_buffer_size);
    println!("  max_storage_buffer_binding_size   {:>14} bytes", l.max_storage_buffer_binding_size);
    println!("  max_storage_buffers_per_stage     {:>14}", l.max_storage_buffers_per_shader_stage);
    println!("  max_uniform_buffer_binding_size   {:>14} bytes", l.max_uniform_buffer_binding_size);
    println!("  max_uniform_buffers_per_stage     {:>14}", l.max_uniform_buffers_per_shader_stage);
    println!("  max_compute_workgroup_storage     {:>14} bytes", l.max_compute_workgroup_storage_size);
    println!("  max_compute_invocations_per_group {:>14}", l.max_compute_invocations_per_workgroup);
    println!(
        "  max_compute_workgroup_size        {:>14}",
        format!(
            "{}x{}x{}",
            l.max_compute_workgroup_size_x, l.max_compute_workgroup_size_y, l.max_compute_workgroup_size_z
        )
    );
    println!("  max_compute_workgroups_per_dim    {:>14}", l.max_compute_workgroups_per_dimension);
    println!("features:");
    for (name, flag) in [
        ("shader-f16", wgpu::Features::SHADER_F16),
        ("subgroups", wgpu::Features::SUBGROUP),
        ("timestamp-query", wgpu::Features::TIMESTAMP_QUERY),
    ] {
        println!("  {name:<16} {}", if f.contains(flag) { "yes" } else { "no" });
    }
    let tuning = gpu.tunes("matmul");
    println!(
        "matmul variant: {}{}",
        crate::ops::matmul::Variant::for_gpu(&gpu).name(),
        if tuning { " (where no shape is measured; tuning picks per shape)" } else { "" }
    );
    let cache = gpu.tuning_cache().map(|p| p.display().to_string()).unwrap_or_else(|| "none".into());
    println!("tuning: {:?} (cache: {cache})", gpu.tuning());
    println!("{}", checks_line(&gpu));
    Ok(())
}

/// Whether the kernels run with wgpu's runtime checks on this adapter, and how to change it.
pub(crate) fn checks_line(gpu: &crate::gpu::Gpu) -> &'static str {
    if gpu.shader_runtime_checks() {
        "shader runtime checks: on (index clamps and loop counters: the default on CPU adapters; WGBERT_SHADER_CHECKS=0 turns them off)"
    } else {
        "shader runtime checks: off (each kernel bounds its own indices: the default on GPUs; WGBERT_SHADER_CHECKS=1 turns them on)"
    }
}
