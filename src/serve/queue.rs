//! Admission, the batching queue and the one thread that owns the GPU (TEI's `core/src/queue.rs`
//! and `infer.rs`, in one file). Each input holds one permit of `--max-concurrent-requests`
//! from admission until its answer is sent: when none is free the request is answered 429 at
//! once, so nothing queues without bound. The GPU thread takes waiting inputs in arrival order
//! while the batch's padded size (longest × count) stays within `--max-batch-tokens`, skipping
//! inputs whose client has gone (their reply channel is closed), runs one forward, and
//! answers each input.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{oneshot, Semaphore};

use super::metrics::Metrics;
use super::model::{Model, Tokens};
use super::types::{ApiError, ErrorType, Sequence, TruncationDirection};
use crate::gpu::Gpu;

/// What one GPU batch may hold.
pub struct Limits {
    /// Padded tokens: the longest input × the number of inputs.
    pub max_batch_tokens: usize,
    /// Inputs, whatever the token budget allows.
    pub max_batch_requests: usize,
}

/// What the GPU thread sends back for one input.
struct Row {
    values: Vec<f32>,
    queued: Duration,
    inference: Duration,
}

struct Entry {
    tokens: Tokens,
    reply: oneshot::Sender<Result<Row, String>>,
    queued_at: Instant,
}

#[derive(Default)]
struct State {
    entries: VecDeque<Entry>,
    closed: bool,
}

/// The waiting inputs, shared by the handlers (which push) and the GPU thread (which takes).
#[derive(Default)]
struct Queue {
    state: Mutex<State>,
    ready: Condvar,
}

impl Queue {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The next batch, waiting for one; None once closed and drained.
    fn next_batch(&self, limits: &Limits, metrics: &Metrics) -> Option<Vec<Entry>> {
        let mut state = self.lock();
        loop {
            let mut batch: Vec<Entry> = Vec::new();
            let mut longest = 0;
            while let Some(front) = state.entries.front() {
                if front.reply.is_closed() {
                    state.entries.pop_front();
                    metrics.dropped.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                let padded = longest.max(front.tokens.ids.len()) * (batch.len() + 1);
                // The first input always goes, whatever its length (max_batch_tokens is checked
                // at start-up to hold the longest input).
                if !batch.is_empty() && (padded > limits.max_batch_tokens || batch.len() >= limits.max_batch_requests) {
                    break;
                }
                longest = longest.max(front.tokens.ids.len());
                batch.extend(state.entries.pop_front());
            }
            metrics.queue_size.store(state.entries.len() as u64, Ordering::Relaxed);
            if !batch.is_empty() {
                return Some(batch);
            }
            if state.closed {
                return None;
            }
            state = self.ready.wait(state).unwrap_or_else(|p| p.into_inner());
        }
    }
}

/// Inference as the handlers see it: admission, tokenization, the queue, the answers.
pub struct Infer {
    pub model: Arc<Model>,
    permits: Arc<Semaphore>,
    queue: Arc<Queue>,
    pub metrics: Arc<Metrics>,
    healthy: Arc<AtomicBool>,
    gpu_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// Rows of one request, with its token count and timings (TEI's response headers).
pub struct Output {
    pub rows: Vec<Vec<f32>>,
    pub tokens: usize,
    pub tokenization: Duration,
    pub queue: Duration,
    pub inference: Duration,
}

impl Infer {
    /// Starts the GPU thread.
    pub fn start(gpu: Arc<Gpu>, model: Model, max_concurrent: usize, limits: Limits) -> std::io::Result<Infer> {
        let (model, queue, metrics) = (Arc::new(model), Arc::new(Queue::default()), Arc::new(Metrics::default()));
        let healthy = Arc::new(AtomicBool::new(true));
        let thread = {
            let (model, queue, metrics, healthy) = (model.clone(), queue.clone(), metrics.clone(), healthy.clone());
            std::thread::Builder::new().name("gpu".into()).spawn(move || {
                let run = || gpu_loop(&gpu, &model, &queue, &limits, &metrics, &healthy);
                if std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)).is_err() {
                    eprintln!("error: the GPU thread panicked; answering 503 from now on");
                }
                // Stopped or failed: nothing more is taken, and inputs still waiting are
                // answered (their channels close) instead of waiting for ever.
                healthy.store(false, Ordering::Relaxed);
                let mut state = queue.lock();
                state.closed = true;
                state.entries.clear();
            })?
        };
        Ok(Infer {
            model,
            permits: Arc::new(Semaphore::new(max_concurrent)),
            queue,
            metrics,
            healthy,
            gpu_thread: Mutex::new(Some(thread)),
        })
    }

    /// Whether the GPU thread runs and its last batch succeeded.
    pub fn healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    /// Runs `inputs` through the model: one permit each (429 when not all are free), tokenized
    /// off the async threads, queued, answered in order. Dropping the future (a client gone)
    /// closes the reply channels, and the GPU thread skips what it has not started.
    pub async fn run(
        &self,
        inputs: Vec<Sequence>,
        truncate: bool,
        direction: TruncationDirection,
    ) -> Result<Output, ApiError> {
        let n = u32::try_from(inputs.len()).unwrap_or(u32::MAX);
        let _permits = self
            .permits
            .clone()
            .try_acquire_many_owned(n)
            .map_err(|_| ApiError::new(ErrorType::Overloaded, "Model is overloaded"))?;
        let t0 = Instant::now();
        let model = self.model.clone();
        let tokens = tokio::task::spawn_blocking(move || {
            inputs.iter().map(|s| model.tokenize(s, truncate, direction)).collect::<Result<Vec<_>, _>>()
        })
        .await
        .map_err(|e| ApiError::new(ErrorType::Tokenizer, format!("tokenization failed: {e}")))??;
        let tokenization = t0.elapsed();
        let total_tokens = tokens.iter().map(|t| t.ids.len()).sum();
        let mut replies = Vec::with_capacity(tokens.len());
        {
            let mut state = self.queue.lock();
            if state.closed {
                return Err(ApiError::new(
                    ErrorType::Unhealthy,
                    "inference has stopped (the server is stopping, or its GPU thread failed)",
                ));
            }
            let now = Instant::now();
            for t in tokens {
                let (reply, answer) = oneshot::channel();
                state.entries.push_back(Entry { tokens: t, reply, queued_at: now });
                replies.push(answer);
            }
            self.metrics.queue_size.store(state.entries.len() as u64, Ordering::Relaxed);
        }
        self.queue.ready.notify_one();
        let mut out = Output {
            rows: Vec::with_capacity(replies.len()),
            tokens: total_tokens,
            tokenization,
            queue: Duration::ZERO,
            inference: Duration::ZERO,
        };
        for answer in replies {
            let row = answer
                .await
                .map_err(|_| ApiError::new(ErrorType::Unhealthy, "the GPU thread has stopped"))?
                .map_err(|e| ApiError::new(ErrorType::Backend, e))?;
            out.queue = out.queue.max(row.queued);
            out.inference = out.inference.max(row.inference);
            out.rows.push(row.values);
        }
        Ok(out)
    }

    /// Lets the GPU thread finish what is queued, then waits for it to end.
    pub fn shutdown(&self) {
        self.queue.lock().closed = true;
        self.queue.ready.notify_all();
        if let Some(t) = self.gpu_thread.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = t.join();
        }
    }
}

fn gpu_loop(gpu: &Arc<Gpu>, model: &Model, queue: &Queue, limits: &Limits, metrics: &Metrics, healthy: &AtomicBool) {
    let width = model.width();
    let mut largest_batch = 0;
    while let Some(batch) = queue.next_batch(limits, metrics) {
        let started = Instant::now();
        let longest = batch.iter().map(|e| e.tokens.ids.len()).max().unwrap_or(0);
        metrics.batch_size.observe(batch.len() as f64);
        metrics.batch_tokens.observe((longest * batch.len()) as f64);
        let mut waits = Vec::with_capacity(batch.len());
        let mut replies = Vec::with_capacity(batch.len());
        let mut tokens = Vec::with_capacity(batch.len());
        for e in batch {
            let waited = started - e.queued_at;
            metrics.queue_seconds.observe(waited.as_secs_f64());
            waits.push(waited);
            replies.push(e.reply);
            tokens.push(e.tokens);
        }
        gpu.reset_memory_peaks();
        let result = model.run(gpu, tokens);
        let inference = started.elapsed();
        // The buffer pool keeps every size class it has seen, and batch shapes vary without
        // end: past twice the largest batch's own need, cached buffers are released.
        let mem = gpu.memory();
        largest_batch = largest_batch.max(mem.peak_live);
        if mem.cached > 2 * largest_batch {
            gpu.trim_memory();
        }
        metrics.inference_seconds.observe(inference.as_secs_f64());
        healthy.store(result.is_ok(), Ordering::Relaxed);
        match result {
            Ok(flat) => {
                for ((reply, queued), values) in replies.into_iter().zip(waits).zip(flat.chunks(width)) {
                    // A client gone since: nothing to do.
                    let _ = reply.send(Ok(Row { values: values.to_vec(), queued, inference }));
                }
            }
            Err(e) => {
                let message = format!("inference failed: {e:#}");
                for reply in replies {
                    let _ = reply.send(Err(message.clone()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Queues inputs of these lengths; returns the reply receivers (dropping one is a client gone).
    fn queue_of(lengths: &[usize]) -> (Queue, Vec<oneshot::Receiver<Result<Row, String>>>) {
        let q = Queue::default();
        let mut answers = Vec::new();
        for &n in lengths {
            let (reply, answer) = oneshot::channel();
            let tokens = Tokens { ids: vec![0; n], type_ids: vec![0; n] };
            q.lock().entries.push_back(Entry { tokens, reply, queued_at: Instant::now() });
            answers.push(answer);
        }
        (q, answers)
    }

    fn lengths(batch: &[Entry]) -> Vec<usize> {
        batch.iter().map(|e| e.tokens.ids.len()).collect()
    }

    #[test]
    fn a_batch_fills_to_the_padded_token_budget_in_arrival_order() {
        let metrics = Metrics::default();
        let limits = Limits { max_batch_tokens: 40, max_batch_requests: 100 };
        let (q, _answers) = queue_of(&[5, 10, 8, 12, 3, 30, 2]);
        // 5, 10, 8: padded 10 x 3 = 30; adding 12 would make 12 x 4 = 48 > 40.
        assert_eq!(lengths(&q.next_batch(&limits, &metrics).unwrap()), [5, 10, 8]);
        // 12, 3: 12 x 2 = 24; adding 30 would make 60.
        assert_eq!(lengths(&q.next_batch(&limits, &metrics).unwrap()), [12, 3]);
        assert_eq!(lengths(&q.next_batch(&limits, &metrics).unwrap()), [30]);
        assert_eq!(metrics.queue_size.load(Ordering::Relaxed), 1);
        assert_eq!(lengths(&q.next_batch(&limits, &metrics).unwrap()), [2]);
        q.lock().closed = true;
        assert!(q.next_batch(&limits, &metrics).is_none());
    }

    #[test]
    fn a_batch_holds_at_most_max_batch_requests_and_skips_clients_gone() {
        let metrics = Metrics::default();
        let limits = Limits { max_batch_tokens: 1000, max_batch_requests: 2 };
        let (q, mut answers) = queue_of(&[1, 2, 3, 4, 5]);
        drop(answers.remove(1)); // the client of the input of length 2 has gone
        assert_eq!(lengths(&q.next_batch(&limits, &metrics).unwrap()), [1, 3]);
        assert_eq!(lengths(&q.next_batch(&limits, &metrics).unwrap()), [4, 5]);
        assert_eq!(metrics.dropped.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn an_input_longer_than_the_budget_still_goes_alone() {
        let metrics = Metrics::default();
        let limits = Limits { max_batch_tokens: 10, max_batch_requests: 8 };
        let (q, _answers) = queue_of(&[50, 1]);
        assert_eq!(lengths(&q.next_batch(&limits, &metrics).unwrap()), [50]);
        assert_eq!(lengths(&q.next_batch(&limits, &metrics).unwrap()), [1]);
    }
}
