//! AdamW as BERT fine-tuning uses it, the learning-rate schedule and mixed precision's loss
//! scale.

mod adamw;
mod loss_scale;
mod schedule;

pub use adamw::{AdamW, AdamWConfig};
pub use loss_scale::{LossScale, GROWTH_INTERVAL, MAX_SKIPPED_IN_A_ROW};
pub use schedule::WarmupLinear;
