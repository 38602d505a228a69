//! Locking the device's shared state.

use std::sync::{Mutex, MutexGuard};

/// Locks a mutex, carrying on with the data if another thread panicked while holding it.
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
