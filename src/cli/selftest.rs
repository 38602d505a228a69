//! `wgbert selftest`: are the kernels right on this adapter? Every check of `crate::selftest`,
//! one row each (kernel, variant, shape, max error, tolerance, pass/fail); non-zero exit when a
//! row fails.

use std::io::Write;
use std::time::Instant;

use anyhow::bail;
use clap::Args;
use serde_json::json;

use super::shared::GpuArgs;
use crate::gpu::Gpu;
use crate::selftest::{self, Row, Size};

#[derive(Args)]
pub struct SelftestArgs {
    #[command(flatten)]
    gpu: GpuArgs,
    /// Smaller shapes: the same kernels and variants, in about a third of the time.
    #[arg(long)]
    quick: bool,
    /// Only the groups whose name contains this (matmul, linear, epilogue, layernorm,
    /// activation, softmax, attention, embedding, elementwise, loss, reduce, adamw, casts,
    /// gradients, training).
    #[arg(long)]
    filter: Option<String>,
    /// Print one JSON object (adapter, rows, counts) instead of the table.
    #[arg(long)]
    json: bool,
    /// Print every row, not only the failed and skipped ones, below the group summary.
    #[arg(long, short)]
    verbose: bool,
}

pub fn run(a: SelftestArgs) -> anyhow::Result<()> {
    let mut opts = a.gpu.options();
    // Every variant is checked by name: measuring them for tuning would only cost time.
    if a.gpu.tune.is_none() && std::env::var_os("WGBERT_TUNE").is_none() {
        opts.tune = Some("off".into());
    }
    if let Some(f) = &a.filter {
        if !selftest::GROUPS.iter().any(|g| g.name.contains(f.as_str())) {
            let names: Vec<&str> = selftest::GROUPS.iter().map(|g| g.name).collect();
            bail!("--filter {f:?} matches no check group; the groups are: {}", names.join(", "));
        }
    }
    let gpu = Gpu::new(&opts)?;
    let info = gpu.info().clone();
    let size = if a.quick { Size::Quick } else { Size::Full };
    let start = Instant::now();
    if !a.json {
        println!(
            "wgbert {} selftest on {} ({:?}, {:?}, driver: {} {})",
            env!("WGBERT_VERSION"),
            info.name,
            info.backend,
            info.device_type,
            info.driver,
            info.driver_info
        );
        println!("{}", super::info::checks_line(&gpu));
        println!("{:<12} {:>5} {:>6} {:>8}  about", "group", "rows", "failed", "seconds");
    }
    let rows = selftest::run(&gpu, size, a.filter.as_deref(), |group, rows, took| {
        let failed = rows.iter().filter(|r| !r.passed).count();
        // Progress goes to stderr under --json so stdout stays one JSON object.
        let line =
            format!("{:<12} {:>5} {:>6} {:>8.2}  {}", group.name, rows.len(), failed, took.as_secs_f64(), group.about);
        if a.json {
            eprintln!("{line}");
        } else {
            println!("{line}");
            let _ = std::io::stdout().flush();
        }
    });
    let failed: Vec<&Row> = rows.iter().filter(|r| !r.passed).collect();
    let skipped = rows.iter().filter(|r| r.note.starts_with("skipped")).count();
    let seconds = start.elapsed().as_secs_f64();
    if a.json {
        let report = json!({
            "wgbert": env!("WGBERT_VERSION"),
            "adapter": { "name": info.name, "backend": format!("{:?}", info.backend), "device_type": format!("{:?}", info.device_type), "driver": info.driver, "driver_info": info.driver_info },
            "size": if a.quick { "quick" } else { "full" },
            "rows": rows,
            "passed": rows.len() - failed.len(),
            "failed": failed.len(),
            "skipped": skipped,
            "seconds": seconds,
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let shown: Vec<&Row> = rows
            .iter()
            .filter(|r| a.verbose || !r.passed || !r.note.is_empty() && r.note.starts_with("skipped"))
            .collect();
        if !shown.is_empty() {
            println!();
            print_table(&shown);
        }
        println!();
        println!(
            "{} passed, {} failed ({} skipped: not on this adapter) in {seconds:.1} s",
            rows.len() - failed.len(),
            failed.len(),
            skipped
        );
    }
    if !failed.is_empty() {
        let first = failed[0];
        bail!(
            "{} of {} checks failed on {}; the first: {} {} {}: {}",
            failed.len(),
            rows.len(),
            info.name,
            first.kernel,
            first.variant,
            first.shape,
            first.note
        );
    }
    Ok(())
}

fn print_table(rows: &[&Row]) {
    let cells: Vec<[String; 7]> = rows
        .iter()
        .map(|r| {
            [
                r.kernel.clone(),
                r.variant.clone(),
                r.shape.clone(),
                if r.tolerance == "-" { "-".into() } else { format!("{:.2e}", r.max_err) },
                r.tolerance.clone(),
                if r.passed { "pass".into() } else { "FAIL".into() },
                r.note.clone(),
            ]
        })
        .collect();
    let head = ["kernel", "variant", "shape", "max err", "tolerance", "result", "note"];
    let mut width = head.map(|h| h.chars().count());
    for c in &cells {
        for (w, s) in width.iter_mut().zip(c) {
            *w = (*w).max(s.chars().count());
        }
    }
    let line = |c: &[String]| {
        let mut s = String::new();
        for (i, cell) in c.iter().enumerate() {
            let pad = width[i].saturating_sub(cell.chars().count());
            if i == 3 {
                s += &" ".repeat(pad);
                s += cell;
            } else {
                s += cell;
                if i + 1 < c.len() {
                    s += &" ".repeat(pad);
                }
            }
            s += "  ";
        }
        println!("{}", s.trim_end());
    };
    line(&head.map(String::from));
    for c in &cells {
        line(c);
    }
}
