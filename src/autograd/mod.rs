//! A small autograd tape over GPU ops (micrograd's shape, with kernels where it has arithmetic).
//!
//! Each op runs its forward kernels at once and, when the tape records, pushes a backward
//! closure that owns exactly what the backward needs. `backward` runs the closures in reverse
//! and drops each one after it ran, so saved activations are released as early as possible.
//! Activation gradients live in a map keyed by variable and are freed once consumed; parameter
//! gradients accumulate into each parameter's own gradient buffer.

mod params;
mod tape;

pub use params::{Arena, Param, ParamStore};
pub use tape::{Tape, Var};
