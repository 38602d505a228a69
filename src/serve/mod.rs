//! `wgbert serve`: text-embeddings-inference's HTTP API over `crate::infer`, so that programs
//! written for TEI (its own clients, OpenAI's, huggingface_hub's) use a wgbert model unchanged.
//! `types` is TEI's JSON, `routes` the handlers and the error → status table, `queue` admission,
//! batching and the GPU thread, `model` the served model, `metrics` the Prometheus counters.
//! Native only: the browser build has no server.

mod metrics;
mod model;
mod queue;
mod routes;
mod types;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;

pub use model::Model;
use queue::{Infer, Limits};
use routes::App;

/// The server's settings; the names and defaults are TEI's flags.
#[derive(Clone, Debug)]
pub struct Options {
    pub model: PathBuf,
    pub host: String,
    pub port: u16,
    /// Inputs in the server at once (one permit each); past it, 429.
    pub max_concurrent_requests: usize,
    /// Padded tokens (longest × count) in one GPU batch.
    pub max_batch_tokens: usize,
    /// Inputs in one GPU batch, whatever the token budget.
    pub max_batch_requests: usize,
    /// Inputs in one request.
    pub max_client_batch_size: usize,
    /// Truncate over-long inputs when a request does not say (`truncate`).
    pub auto_truncate: bool,
    /// Largest request body in bytes.
    pub payload_limit: usize,
    pub api_key: Option<String>,
    /// How long a client may take to send a request's headers, and then its body.
    pub read_timeout: Duration,
    /// How long a stop waits for requests in flight.
    pub shutdown_timeout: Duration,
    /// Mixed precision: the linear layers' products on f16 operands (`infer::run_half`).
    pub half: bool,
}

/// Serves the model of `opts.model` on `gpu` until SIGTERM or Ctrl-C; then stops accepting,
/// answers what is in flight and returns. `on_listen` hears the bound address (port 0 picks
/// a free one) once the server accepts connections.
pub fn serve(gpu: Arc<crate::gpu::Gpu>, opts: Options, on_listen: impl FnOnce(SocketAddr)) -> Result<()> {
    let mut model = Model::load(&gpu, &opts.model, |n| eprintln!("notice: {n}"))?;
    if opts.half {
        crate::infer::run_half(&gpu, model.bert_mut())?;
    }
    let max_input = model.max_input_length();
    if opts.max_batch_tokens < max_input {
        bail!(
            "--max-batch-tokens {} is less than the model's longest input ({max_input} tokens, max_position_embeddings): raise it to at least {max_input}",
            opts.max_batch_tokens
        );
    }
    if opts.max_client_batch_size > opts.max_concurrent_requests {
        bail!(
            "--max-client-batch-size {} is more than --max-concurrent-requests {}: such a batch could never be admitted",
            opts.max_client_batch_size,
            opts.max_concurrent_requests
        );
    }
    if opts.max_client_batch_size == 0 || opts.max_batch_requests == 0 {
        bail!("--max-client-batch-size and --max-batch-requests must be at least 1");
    }
    let info = info_json(&gpu, &model, &opts);
    let model_name = opts.model.file_name().map_or("wgbert".to_string(), |n| n.to_string_lossy().into_owned());
    let limits = Limits { max_batch_tokens: opts.max_batch_tokens, max_batch_requests: opts.max_batch_requests };
    let infer = Infer::start(gpu, model, opts.max_concurrent_requests, limits).context("starting the GPU thread")?;
    let app = Arc::new(App {
        infer,
        info,
        max_client_batch_size: opts.max_client_batch_size,
        auto_truncate: opts.auto_truncate,
        read_timeout: opts.read_timeout,
        bearer: opts.api_key.as_ref().map(|k| format!("Bearer {k}")),
        model_name,
    });
    let router = routes::router(app.clone()).layer(axum::extract::DefaultBodyLimit::max(opts.payload_limit));
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
    let result = runtime.block_on(accept_loop(router, &opts, on_listen));
    // The queue is drained by now (every connection has ended): let the GPU thread finish.
    app.infer.shutdown();
    result
}

async fn accept_loop(router: axum::Router, opts: &Options, on_listen: impl FnOnce(SocketAddr)) -> Result<()> {
    let addr = format!("{}:{}", opts.host, opts.port);
    let listener = tokio::net::TcpListener::bind(&addr).await.with_context(|| format!("binding {addr}"))?;
    on_listen(listener.local_addr()?);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut stop = std::pin::pin!(stop_signal());
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: wait for connections to close.
                    eprintln!("warning: accepting a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut stop => break,
        };
        let _ = stream.set_nodelay(true);
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(opts.read_timeout)
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(router.clone()));
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            // A client that goes away or times out ends only its own connection.
            let _ = conn.await;
        });
    }
    drop(listener);
    eprintln!("stopping: answering the requests in flight");
    if tokio::time::timeout(opts.shutdown_timeout, graceful.shutdown()).await.is_err() {
        eprintln!("warning: requests still in flight after {} s; stopping anyway", opts.shutdown_timeout.as_secs());
    }
    Ok(())
}

/// Resolves on SIGTERM or Ctrl-C (SIGINT).
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {},
                    _ = tokio::signal::ctrl_c() => {},
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// `GET /info`: TEI's fields, with the adapter and pooling added.
fn info_json(gpu: &crate::gpu::Gpu, model: &Model, opts: &Options) -> serde_json::Value {
    let model_type = match model {
        Model::Embedding(_) => {
            serde_json::json!({ "embedding": { "pooling": model.pooling() } })
        }
        Model::Classifier(c) => {
            let id2label: serde_json::Map<String, serde_json::Value> =
                c.classes.iter().enumerate().map(|(i, n)| (i.to_string(), n.clone().into())).collect();
            let label2id: serde_json::Map<String, serde_json::Value> =
                c.classes.iter().enumerate().map(|(i, n)| (n.clone(), i.into())).collect();
            serde_json::json!({ model.kind(): { "id2label": id2label, "label2id": label2id } })
        }
    };
    serde_json::json!({
        "model_id": opts.model.display().to_string(),
        "model_sha": null,
        "model_dtype": "float32",
        "model_type": model_type,
        "pooling": model.pooling(),
        "max_concurrent_requests": opts.max_concurrent_requests,
        "max_input_length": model.max_input_length(),
        "max_batch_tokens": opts.max_batch_tokens,
        "max_batch_requests": opts.max_batch_requests,
        "max_client_batch_size": opts.max_client_batch_size,
        "auto_truncate": opts.auto_truncate,
        "payload_limit": opts.payload_limit,
        "tokenization_workers": 1,
        "version": env!("CARGO_PKG_VERSION"),
        "sha": null,
        "docker_label": null,
        "adapter": gpu.info().name,
        "backend": format!("{:?}", gpu.info().backend),
    })
}
