//! Waiting for the GPU without waiting for ever: every wait has a deadline, and an interrupt
//! (Ctrl-C, SIGTERM) ends a wait that does not finish soon after it.
//!
//! An interrupt does not end a wait at once: a training run's first Ctrl-C asks it to save
//! after the current step, and that step's read-back must still finish. A wait that goes on
//! for a grace period after the interrupt (the longer of 5 s and twice the longest wait this
//! device has finished) is stuck, and gives up.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use web_time::Instant;

use super::{GpuError, Result};

/// Set by [`interrupt`]; read by every wait for the GPU in this process.
pub(super) static INTERRUPT: AtomicBool = AtomicBool::new(false);

/// Tells every wait for the GPU in this process that the user asked to stop: a wait that is
/// stuck then ends with [`GpuError::Interrupted`] instead of blocking the exit. Signal-safe
/// (one atomic store): call it from a Ctrl-C / SIGTERM handler.
pub fn interrupt() {
    INTERRUPT.store(true, Ordering::SeqCst);
}

/// An error on wasm32, where blocking on a future would never return (the browser resolves its
/// promises only when control goes back to its event loop); Ok natively.
pub(crate) fn no_blocking_in_browser(what: &str) -> Result<()> {
    if cfg!(target_arch = "wasm32") {
        return Err(GpuError::Unsupported(format!("{what}: a browser cannot block on the GPU")));
    }
    Ok(())
}

/// The shortest grace after an interrupt.
const MIN_GRACE: Duration = Duration::from_secs(5);

/// One wait: what is waited for (for the error), and its limits.
pub(super) struct Wait<'a> {
    pub what: &'a str,
    pub adapter: &'a str,
    /// The deadline, counted from the wait's start.
    pub limit: Duration,
    /// The longest wait this device has finished (sets the grace after an interrupt).
    pub longest: Duration,
    pub interrupt: &'a AtomicBool,
}

impl Wait<'_> {
    /// Calls `step` until it says the work is done; `step` blocks for a short slice at most
    /// (a bounded `device.poll`). Returns how long the wait took.
    pub fn run(&self, mut step: impl FnMut() -> Result<bool>) -> Result<Duration> {
        let start = Instant::now();
        let grace = MIN_GRACE.max(self.longest * 2);
        let mut interrupted_at = None;
        loop {
            if step()? {
                return Ok(start.elapsed());
            }
            let waited = start.elapsed();
            if waited >= self.limit {
                return Err(GpuError::Timeout {
                    what: self.what.into(),
                    adapter: self.adapter.into(),
                    seconds: waited.as_secs_f64(),
                });
            }
            if self.interrupt.load(Ordering::SeqCst) {
                let at = *interrupted_at.get_or_insert(waited);
                if waited - at >= grace {
                    return Err(GpuError::Interrupted {
                        what: self.what.into(),
                        adapter: self.adapter.into(),
                        seconds: waited.as_secs_f64(),
                    });
                }
            }
        }
    }
}

/// The deadline of one wait: `WGBERT_READBACK_TIMEOUT` seconds, else 300 s (1,800 s on a CPU
/// adapter, where the same work takes about a hundred times longer).
pub(super) fn limit_from_env(cpu: bool) -> Result<Duration> {
    parse_limit(std::env::var("WGBERT_READBACK_TIMEOUT").ok().as_deref(), cpu)
}

fn parse_limit(setting: Option<&str>, cpu: bool) -> Result<Duration> {
    match setting.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(Duration::from_secs(if cpu { 1800 } else { 300 })),
        Some(v) => match v.parse::<f64>() {
            Ok(s) if s.is_finite() && s > 0.0 => Ok(Duration::from_secs_f64(s)),
            _ => Err(GpuError::BadSetting {
                name: "WGBERT_READBACK_TIMEOUT",
                value: v.into(),
                expected: "a positive number of seconds",
            }),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn never_ready() -> Result<bool> {
        std::thread::sleep(Duration::from_millis(1));
        Ok(false)
    }

    fn wait<'a>(limit_ms: u64, interrupt: &'a AtomicBool) -> Wait<'a> {
        Wait {
            what: "reading back tensor logits",
            adapter: "test adapter",
            limit: Duration::from_millis(limit_ms),
            longest: Duration::ZERO,
            interrupt,
        }
    }

    #[test]
    fn a_wait_that_never_finishes_ends_at_its_deadline_naming_what_it_waited_for() {
        let flag = AtomicBool::new(false);
        let t0 = Instant::now();
        let err = wait(50, &flag).run(never_ready).unwrap_err().to_string();
        assert!(t0.elapsed() >= Duration::from_millis(50) && t0.elapsed() < Duration::from_secs(5));
        assert!(err.contains("reading back tensor logits") && err.contains("test adapter"), "{err}");
        assert!(err.contains("WGBERT_READBACK_TIMEOUT"), "{err}");
    }

    #[test]
    fn an_interrupt_ends_a_stuck_wait_after_the_grace_and_not_before() {
        let flag = AtomicBool::new(true);
        let t0 = Instant::now();
        let err = wait(60_000, &flag).run(never_ready).unwrap_err();
        let took = t0.elapsed();
        assert!(matches!(err, GpuError::Interrupted { .. }), "{err}");
        assert!(took >= MIN_GRACE && took < MIN_GRACE + Duration::from_secs(5), "{took:?}");
        assert!(err.to_string().contains("interrupted while waiting for the GPU"), "{err}");
    }

    #[test]
    fn a_wait_that_finishes_within_the_grace_succeeds_despite_the_interrupt() {
        let flag = AtomicBool::new(true);
        let mut polls = 0;
        let r = wait(60_000, &flag).run(|| {
            polls += 1;
            Ok(polls == 3)
        });
        assert!(r.is_ok());
    }

    #[test]
    fn the_deadline_setting_is_checked() {
        assert_eq!(parse_limit(None, false).unwrap(), Duration::from_secs(300));
        assert_eq!(parse_limit(Some(""), true).unwrap(), Duration::from_secs(1800));
        assert_eq!(parse_limit(Some("0.5"), true).unwrap(), Duration::from_millis(500));
        for bad in ["0", "-1", "soon", "inf"] {
            let err = parse_limit(Some(bad), false).unwrap_err().to_string();
            assert!(err.contains("WGBERT_READBACK_TIMEOUT") && err.contains(bad), "{err}");
        }
    }
}
