//! `wgbert serve --model DIR [--host 127.0.0.1] [--port 8080] ...`: the model of DIR (an encoder
//! `embed` reads, or a classifier `predict` reads) behind text-embeddings-inference's HTTP API.
//! Prints `listening on http://ADDR` on standard output once it accepts connections.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Args};

use super::shared::{GpuArgs, PrecisionArg};
use crate::gpu::Gpu;
use crate::serve::{serve, Options};

#[derive(Args)]
pub struct ServeArgs {
    #[command(flatten)]
    gpu: GpuArgs,
    #[command(flatten)]
    precision: PrecisionArg,
    /// A model folder (an encoder, or a classifier with its head) or a run folder.
    #[arg(long)]
    model: PathBuf,
    /// Address to listen on (0.0.0.0 to accept other machines).
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on (0: any free port; the bound one is printed).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Inputs in the server at once; beyond it requests are answered 429 at once.
    #[arg(long, default_value_t = 512)]
    max_concurrent_requests: usize,
    /// Padded tokens (longest input × inputs) in one GPU batch.
    #[arg(long, default_value_t = 16384)]
    max_batch_tokens: usize,
    /// Inputs in one GPU batch at most.
    #[arg(long, default_value_t = 256)]
    max_batch_requests: usize,
    /// Inputs in one request at most.
    #[arg(long, default_value_t = 32)]
    max_client_batch_size: usize,
    /// Truncate inputs over the model's length when a request does not say (`truncate`).
    #[arg(long, default_value_t = true, action = ArgAction::Set)]
    auto_truncate: bool,
    /// Largest request body, in bytes.
    #[arg(long, default_value_t = 2_000_000)]
    payload_limit: usize,
    /// Require `Authorization: Bearer KEY` (all routes but /health, /metrics and GET /).
    #[arg(long)]
    api_key: Option<String>,
    /// Seconds a client may take to send a request's headers, and then its body.
    #[arg(long, default_value_t = 10.0)]
    read_timeout: f64,
    /// Seconds a stop (SIGTERM, Ctrl-C) waits for the requests in flight.
    #[arg(long, default_value_t = 30.0)]
    shutdown_timeout: f64,
}

pub fn run(a: ServeArgs) -> anyhow::Result<()> {
    let seconds = |name: &str, s: f64| {
        if s.is_finite() && s > 0.0 {
            Ok(Duration::from_secs_f64(s))
        } else {
            Err(anyhow::anyhow!("--{name} {s}: give a positive number of seconds"))
        }
    };
    let opts = Options {
        model: a.model,
        host: a.host,
        port: a.port,
        max_concurrent_requests: a.max_concurrent_requests,
        max_batch_tokens: a.max_batch_tokens,
        max_batch_requests: a.max_batch_requests,
        max_client_batch_size: a.max_client_batch_size,
        auto_truncate: a.auto_truncate,
        payload_limit: a.payload_limit,
        api_key: a.api_key,
        read_timeout: seconds("read-timeout", a.read_timeout)?,
        shutdown_timeout: seconds("shutdown-timeout", a.shutdown_timeout)?,
        half: a.precision.is_mixed(),
    };
    let mut gpu_options = a.gpu.options();
    // Tuning measures each new matmul shape, and every batch of a server has a new one
    // (inputs × tokens): off unless asked for (--tune or WGBERT_TUNE).
    if a.gpu.tune.is_none() && std::env::var_os("WGBERT_TUNE").is_none() {
        gpu_options.tune = Some("off".into());
    }
    let gpu = Gpu::new(&gpu_options)?;
    eprintln!("adapter: {}", gpu.info().name);
    serve(gpu, opts, |addr| {
        println!("listening on http://{addr}");
        let _ = std::io::stdout().flush();
    })
}
