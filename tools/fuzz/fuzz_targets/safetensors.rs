//! Any bytes as a model.safetensors: an error or a checkpoint whose every tensor holds as many
//! values as its shape says; never a panic, a hang or an out-of-bounds read.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wgbert::fuzzing::fuzz_safetensors(data));
