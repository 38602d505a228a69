//! wgbert: fine-tune BERT on any GPU wgpu reaches, on hand-written WGSL kernels.
//!
//! Layers, bottom up: `gpu` (device, buffers, tensors, launches) → `ops` (one module per
//! shader: shape checks, launches, backward) with `reference` (the CPU reference of each op)
//! → `bench` (kernel benchmarks).

pub mod autograd;
pub mod bench;
pub mod checkpoint;
// The command line: native only (clap, indicatif, ctrlc, files); the browser drives the library.
#[cfg(not(target_arch = "wasm32"))]
pub mod cli;
pub mod data;
pub mod fsio;
pub mod fuzzing;
pub mod gpu;
pub mod infer;
pub mod kernel_args;
pub mod model;
pub mod ops;
pub mod optim;
pub mod reference;
pub mod selftest;
// `wgbert serve` (TEI's HTTP API on tokio/axum): native only, the browser build does not grow.
#[cfg(not(target_arch = "wasm32"))]
pub mod serve;
pub mod tokenizer;
pub mod train;
// The browser's entry points (wasm-bindgen exports that src/web/wgbert.js wraps).
#[cfg(target_arch = "wasm32")]
pub mod web;
