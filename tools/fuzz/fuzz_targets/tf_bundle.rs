//! Any bytes as a TF tensor bundle (4-byte index length, the .index SSTable, the data shard):
//! an error or a checkpoint whose every tensor holds as many values as its shape says; never a
//! panic, a hang or an allocation the input does not pay for.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wgbert::fuzzing::fuzz_tf_bundle(data));
