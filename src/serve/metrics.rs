//! The server's counters for `GET /metrics`, in Prometheus' text format: requests by route
//! and outcome, the queue's size, and histograms of batch sizes, batch tokens, time in queue
//! and time in inference. Plain atomics and one mutex: a scrape is rare, updates are cheap.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// A Prometheus histogram with fixed upper bounds.
pub struct Histogram {
    bounds: &'static [f64],
    /// One count per bound, then +Inf.
    counts: Vec<AtomicU64>,
    /// The sum of observations, in millionths (an atomic integer: no float atomics).
    sum_micro: AtomicU64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_micro: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, v: f64) {
        let i = self.bounds.iter().position(|&b| v <= b).unwrap_or(self.bounds.len());
        self.counts[i].fetch_add(1, Ordering::Relaxed);
        self.sum_micro.fetch_add((v.max(0.0) * 1e6) as u64, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (i, c) in self.counts.iter().enumerate() {
            cumulative += c.load(Ordering::Relaxed);
            let le = self.bounds.get(i).map_or("+Inf".to_string(), |b| b.to_string());
            let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {cumulative}");
        }
        let _ = writeln!(out, "{name}_sum {}", self.sum_micro.load(Ordering::Relaxed) as f64 / 1e6);
        let _ = writeln!(out, "{name}_count {cumulative}");
    }
}

const SECONDS: &[f64] = &[0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];
const SIZES: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];
const TOKENS: &[f64] = &[64.0, 256.0, 1024.0, 2048.0, 4096.0, 8192.0, 16384.0, 32768.0, 65536.0];

pub struct Metrics {
    /// (route, status code) → requests answered.
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    /// Inputs waiting in the queue now.
    pub queue_size: AtomicU64,
    /// Inputs dropped because their client had gone before the GPU reached them.
    pub dropped: AtomicU64,
    pub batch_size: Histogram,
    /// Padded tokens (padded length × inputs) of each batch.
    pub batch_tokens: Histogram,
    pub queue_seconds: Histogram,
    pub inference_seconds: Histogram,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics {
            requests: Mutex::default(),
            queue_size: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            batch_size: Histogram::new(SIZES),
            batch_tokens: Histogram::new(TOKENS),
            queue_seconds: Histogram::new(SECONDS),
            inference_seconds: Histogram::new(SECONDS),
        }
    }
}

impl Metrics {
    pub fn count_request(&self, route: &str, status: u16) {
        let mut m = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        *m.entry((route.to_string(), status)).or_default() += 1;
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out += "# HELP wgbert_requests_total Requests answered, by route and status code.\n";
        out += "# TYPE wgbert_requests_total counter\n";
        for ((route, status), n) in self.requests.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let outcome = if *status < 400 { "success" } else { "failure" };
            let _ = writeln!(
                out,
                "wgbert_requests_total{{route=\"{route}\",status=\"{status}\",outcome=\"{outcome}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP wgbert_queue_size Inputs waiting for the GPU.\n# TYPE wgbert_queue_size gauge\nwgbert_queue_size {}",
            self.queue_size.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP wgbert_dropped_total Inputs dropped before inference because their client had gone.\n# TYPE wgbert_dropped_total counter\nwgbert_dropped_total {}",
            self.dropped.load(Ordering::Relaxed)
        );
        self.batch_size.render(&mut out, "wgbert_batch_size", "Inputs per GPU batch.");
        self.batch_tokens.render(&mut out, "wgbert_batch_tokens", "Padded tokens per GPU batch.");
        self.queue_seconds.render(&mut out, "wgbert_queue_duration_seconds", "Time an input waits in the queue.");
        self.inference_seconds.render(&mut out, "wgbert_inference_duration_seconds", "Time of one GPU batch.");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = Metrics::default();
        for v in [1.0, 3.0, 3.0, 1000.0] {
            m.batch_size.observe(v);
        }
        let text = m.render();
        assert!(text.contains("wgbert_batch_size_bucket{le=\"1\"} 1\n"), "{text}");
        assert!(text.contains("wgbert_batch_size_bucket{le=\"4\"} 3\n"), "{text}");
        assert!(text.contains("wgbert_batch_size_bucket{le=\"+Inf\"} 4\n"), "{text}");
        assert!(text.contains("wgbert_batch_size_sum 1007\n"), "{text}");
    }
}
