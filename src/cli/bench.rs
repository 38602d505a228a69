//! `wgbert bench kernels|tokenizer`: print figures; never assert a speed.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::shared::GpuArgs;
use crate::bench::kernels::{self, KernelBenchOptions, KernelResult};
use crate::gpu::Gpu;

#[derive(Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    what: BenchWhat,
}

#[derive(Subcommand)]
enum BenchWhat {
    /// GFLOP/s and GB/s of every kernel family, forward and backward, at BERT shapes.
    Kernels(KernelsArgs),
    /// Tokenizer throughput on the 25,000 IMDB training reviews, one thread and all.
    Tokenizer(TokenizerBenchArgs),
    /// Seconds per training step, inference sequences/s, peak memory; --profile per kernel family.
    Train(TrainArgs),
}

#[derive(Args)]
struct TrainArgs {
    #[command(flatten)]
    gpu: GpuArgs,
    /// Model folder (config.json + weights).
    #[arg(long, default_value = "models/all-MiniLM-L6-v2")]
    model: PathBuf,
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    #[arg(long, default_value_t = 128)]
    max_len: usize,
    /// Timed steps (after one untimed first step).
    #[arg(long, default_value_t = 3)]
    steps: usize,
    /// GPU time per kernel family (timestamp queries) over one more step.
    #[arg(long)]
    profile: bool,
    /// Run the last encoder layer for every token, as a full encoder does (by default a
    /// classifier runs it for [CLS] alone, the only token its output depends on).
    #[arg(long)]
    full_last_layer: bool,
    /// Train steps in f32, or mixed (f16 operands in the linear layers; needs shader-f16).
    #[arg(long, value_enum, default_value_t = crate::train::Precision::F32)]
    precision: crate::train::Precision,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct KernelsArgs {
    #[command(flatten)]
    gpu: GpuArgs,
    /// Timed repetitions per case.
    #[arg(long, default_value_t = 5)]
    reps: usize,
    /// Untimed repetitions before timing (pipeline compilation, caches).
    #[arg(long, default_value_t = 1)]
    warmup: usize,
    /// Only cases whose "kernel pass shape" contains this: matmul, attention, layernorm, gelu,
    /// softmax, adamw, or e.g. "matmul fwd 1024x".
    #[arg(long)]
    filter: Option<String>,
    /// Small shapes only: checks that every case runs, in seconds.
    #[arg(long)]
    quick: bool,
    /// Also 4096³ matmul (for real GPUs; minutes on a CPU adapter).
    #[arg(long)]
    large: bool,
    /// Matmul variant to use (reg, tiled, wide, wide64, panel, coop) instead of the adapter's default; `all` times
    /// every matmul case once per variant.
    #[arg(long)]
    variant: Option<String>,
    /// Print one JSON array instead of the table.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct TokenizerBenchArgs {
    /// Model folder holding vocab.txt or tokenizer.json.
    #[arg(long, default_value = "models/all-MiniLM-L6-v2")]
    model: PathBuf,
    /// IMDB: the aclImdb folder, or aclImdb_v1.tar.gz / aclImdb_labeled.tar.gz.
    #[arg(long, default_value = "../shared/data/aclImdb_labeled.tar.gz")]
    data: PathBuf,
}

pub fn run(a: BenchArgs) -> anyhow::Result<()> {
    match a.what {
        BenchWhat::Kernels(k) => run_kernels(k),
        BenchWhat::Tokenizer(t) => run_tokenizer(t),
        BenchWhat::Train(t) => run_train(t),
    }
}

fn run_kernels(k: KernelsArgs) -> anyhow::Result<()> {
    let gpu = Gpu::new(&k.gpu.options())?;
    let all_variants = k.variant.as_deref() == Some("all");
    if let Some(v) = k.variant.as_deref().filter(|v| *v != "all") {
        if crate::ops::matmul::Variant::parse(v).is_none() {
            anyhow::bail!("unknown matmul variant {v:?}: choose reg, tiled, wide, wide64, panel, coop or all");
        }
        gpu.set_variant("matmul", v);
    }
    let o = KernelBenchOptions {
        reps: k.reps,
        warmup: k.warmup,
        filter: k.filter,
        quick: k.quick,
        large: k.large,
        all_variants,
    };
    if !k.json {
        println!("adapter: {} ({:?}, {:?})", gpu.info().name, gpu.info().backend, gpu.info().device_type);
        println!(
            "{:<10} {:<5} {:<22} {:<15} {:>10} {:>10} {:>10} {:>10}  timing",
            "kernel", "pass", "shape", "var", "GFLOP/s", "GB/s", "ms med", "ms min-max"
        );
    }
    let json = k.json;
    let results = kernels::run(&gpu, &o, |r| {
        if json {
            // Each row on stderr as it is timed, one JSON object a line: a run cut short (the
            // GPU kit's time boxes) keeps what it measured.
            if let Ok(line) = serde_json::to_string(r) {
                eprintln!("row: {line}");
            }
        } else {
            print_row(r)
        }
    })?;
    if json {
        println!("{}", serde_json::to_string_pretty(&results)?);
    }
    Ok(())
}

fn print_row(r: &KernelResult) {
    let fmt = |v: Option<f64>| v.map(|x| format!("{x:.2}")).unwrap_or_else(|| "-".into());
    println!(
        "{:<10} {:<5} {:<22} {:<15} {:>10} {:>10} {:>10.3} {:>10}  {}",
        r.kernel,
        r.pass,
        r.shape,
        r.variant,
        fmt(r.gflops),
        fmt(r.gbps),
        r.ms_median,
        format!("{:.2}-{:.2}", r.ms_min, r.ms_max),
        r.timing
    );
}

fn run_tokenizer(t: TokenizerBenchArgs) -> anyhow::Result<()> {
    let tok = super::shared::load_tokenizer(&t.model)?;
    let reviews = crate::data::imdb::read_split(&t.data, "train")?;
    let texts: Vec<String> = reviews.examples.into_iter().map(|r| r.text).collect();
    println!("tokenizing {} reviews from {}", texts.len(), t.data.display());
    let b = crate::tokenizer::bench_tokenizer(&tok, &texts);
    println!("{} tokens per pass", b.tokens);
    println!(
        "1 thread:   {:>8.3} s  {:>10.0} reviews/s  {:>6.2} M tokens/s",
        b.secs_1t,
        b.reviews_per_s_1t,
        b.tokens_per_s_1t / 1e6
    );
    println!(
        "{} threads:  {:>8.3} s  {:>10.0} reviews/s  {:>6.2} M tokens/s",
        b.threads,
        b.secs_all,
        b.reviews_per_s_all,
        b.tokens_per_s_all / 1e6
    );
    Ok(())
}

fn run_train(a: TrainArgs) -> anyhow::Result<()> {
    let gpu = Gpu::new(&a.gpu.options())?;
    let (config, ckpt, _) = crate::checkpoint::load_model_dir(&a.model)?;
    if a.max_len > config.max_position_embeddings {
        anyhow::bail!(
            "--max-len {} exceeds the model's max_position_embeddings {}",
            a.max_len,
            config.max_position_embeddings
        );
    }
    let model = crate::model::BertClassifier::from_checkpoint(
        &gpu,
        &config,
        &ckpt,
        crate::model::Head::Train { num_labels: 1, seed: 42 },
    )?;
    drop(ckpt);
    let precision = a.precision;
    crate::train::check_precision(&gpu, precision)?;
    let o = crate::bench::train::TrainBenchOptions {
        batch: a.batch_size,
        seq: a.max_len,
        steps: a.steps,
        warmup: 0,
        profile: a.profile,
        rows: if a.full_last_layer { crate::model::Rows::All } else { crate::model::Rows::Cls },
        mixed: precision == crate::train::Precision::Mixed,
    };
    let json = a.json;
    let r = crate::bench::train::run(&gpu, &model, &o, |m| {
        if !json {
            eprintln!("{m}")
        }
    })?;
    if json {
        println!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(());
    }
    println!("adapter: {}", r.adapter);
    println!("model: {} ({} parameters), batch {} x seq {}", a.model.display(), r.parameters, r.batch, r.seq);
    println!("last encoder layer: {}; training precision: {}", r.last_layer, r.precision);
    println!(
        "training step (fwd + bwd + AdamW): median {:.2} s (min {:.2}, max {:.2}); first step {:.2} s",
        r.step_s_median, r.step_s_min, r.step_s_max, r.first_step_s
    );
    if let Some(p) = r.pipelined_step_s {
        println!("training steps back to back (each submitted before the last one's loss is read): {p:.2} s a step");
    }
    println!("host time recording and submitting a step: {:.1} ms", r.host_record_s * 1e3);
    println!("inference: {:.2} sequences/s", r.inference_seq_per_s);
    println!(
        "peak GPU memory: {:.0} MiB in the buffer pool ({:.0} MiB in tensors, the rest idle buffers); driver reserved: {}; host peak RSS: {}",
        r.peak_gpu_mib,
        r.peak_tensor_mib,
        r.gpu_reserved_mib.map(|m| format!("{m:.0} MiB")).unwrap_or("-".into()),
        r.host_peak_rss_mib.map(|m| format!("{m:.0} MiB")).unwrap_or("-".into())
    );
    println!("buffers created per timed step: {} (freed: {})", r.buffers_created_per_step, r.buffers_freed_per_step);
    println!("per step: {} kernel launches, {} submissions", r.launches_per_step, r.submissions_per_step);
    println!(
        "a launch beside its work: {:.1} µs recording, {:.1} µs on the device (dependent one-element launches)",
        r.launch_host_us, r.launch_gpu_us
    );
    for (what, p) in [("training step", &r.profile), ("inference batch", &r.inference_profile)] {
        for (key, table) in [("family", &p.families), ("entry point", &p.entries)] {
            if table.is_empty() {
                continue;
            }
            println!("{what}, by {key}:");
            println!("{:<26} {:>10} {:>7} {:>9}", key, "GPU ms", "share", "launches");
            for f in table {
                println!("{:<26} {:>10.1} {:>6.1}% {:>9}", f.family, f.ms, 100.0 * f.share, f.launches);
            }
        }
    }
    Ok(())
}
