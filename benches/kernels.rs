//! `cargo bench --bench kernels [-- FILTER]`: the kernel benchmark of `wgbert bench kernels`,
//! printed as a table (GFLOP/s, GB/s, median and spread). Set WGBERT_QUICK=1 for small shapes.

use wgbert::bench::kernels::{run, KernelBenchOptions};
use wgbert::gpu::{Gpu, GpuOptions};

fn main() {
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let gpu = match Gpu::new(&GpuOptions::from_env()) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("no benchmark: {e}");
            std::process::exit(1);
        }
    };
    let o = KernelBenchOptions {
        reps: 5,
        warmup: 1,
        filter,
        quick: std::env::var("WGBERT_QUICK").is_ok(),
        large: !gpu.is_cpu(),
        all_variants: false,
    };
    println!("adapter: {} ({:?})", gpu.info().name, gpu.info().device_type);
    let result = run(&gpu, &o, |r| {
        let rate = r
            .gflops
            .map(|g| format!("{g:>9.2} GFLOP/s"))
            .or(r.gbps.map(|g| format!("{g:>9.2} GB/s   ")))
            .unwrap_or_default();
        println!(
            "{:<10} {:<5} {:<22} {:<6} {rate} {:>10.3} ms ({:.3}-{:.3})",
            r.kernel, r.pass, r.shape, r.variant, r.ms_median, r.ms_min, r.ms_max
        );
    });
    if let Err(e) = result {
        eprintln!("benchmark failed: {e}");
        std::process::exit(1);
    }
}
