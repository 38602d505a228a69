//! AdamW as BERT fine-tuning uses it, and the learning-rate schedule.

mod adamw;
mod schedule;

pub use adamw::{AdamW, AdamWConfig};
pub use schedule::WarmupLinear;
