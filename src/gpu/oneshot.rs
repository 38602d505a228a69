//! A one-value channel from a wgpu callback to an awaiting task, on std alone: natively the
//! callback runs inside `device.poll`, in a browser on its event loop (nothing there may block,
//! so a read-back is awaited rather than waited for).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use super::lock::lock;

struct Shared<T> {
    value: Option<T>,
    /// The sender is gone: the value came, or never will (a dropped callback).
    closed: bool,
    waker: Option<Waker>,
}

pub(super) struct Sender<T>(Arc<Mutex<Shared<T>>>);
/// Resolves to the value, or to None when the sender was dropped without one.
pub(super) struct Receiver<T>(Arc<Mutex<Shared<T>>>);

pub(super) fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Mutex::new(Shared { value: None, closed: false, waker: None }));
    (Sender(shared.clone()), Receiver(shared))
}

impl<T> Sender<T> {
    pub(super) fn send(self, value: T) {
        lock(&self.0).value = Some(value);
        // Drop closes the channel and wakes the receiver.
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let mut s = lock(&self.0);
        s.closed = true;
        if let Some(w) = s.waker.take() {
            w.wake();
        }
    }
}

impl<T> Receiver<T> {
    /// Whether awaiting would return at once.
    pub(super) fn is_ready(&self) -> bool {
        lock(&self.0).closed
    }
}

impl<T> Future for Receiver<T> {
    type Output = Option<T>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut s = lock(&self.0);
        if s.closed {
            return Poll::Ready(s.value.take());
        }
        s.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}
