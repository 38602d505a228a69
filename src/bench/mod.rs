//! Benchmarks behind `wgbert bench`: each prints figures, none asserts a speed.

pub mod kernels;
pub mod stats;
pub mod train;
