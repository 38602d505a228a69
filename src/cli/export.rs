//! `wgbert export --run RUN [--out DIR]`: the run's latest checkpoint as a Hugging Face model
//! folder (a finished run already has one in RUN/model; this serves interrupted runs too).

use std::path::PathBuf;

use clap::Args;

use super::shared::GpuArgs;
use crate::gpu::Gpu;

#[derive(Args)]
pub struct ExportArgs {
    #[command(flatten)]
    gpu: GpuArgs,
    /// The run folder of `wgbert train`.
    #[arg(long)]
    run: PathBuf,
    /// Where to write the model folder (default: RUN/model).
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn run(a: ExportArgs) -> anyhow::Result<()> {
    let gpu = Gpu::new(&a.gpu.options())?;
    let out = a.out.clone().unwrap_or_else(|| a.run.join("model"));
    crate::train::job::export_run(&gpu, &a.run, &out)?;
    println!("exported {} to {}", a.run.display(), out.display());
    Ok(())
}
