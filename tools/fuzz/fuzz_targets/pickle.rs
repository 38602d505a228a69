//! Any bytes as the data.pkl of a pytorch_model.bin, its tensors gathered out of zeroed
//! storages: an error or a state dict, never a panic, a hang or an allocation the input does not
//! pay for.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wgbert::fuzzing::fuzz_pickle(data));
