//! Any bytes as a whole pytorch_model.bin (zip directory, data.pkl, storages): an error or a
//! checkpoint whose every tensor holds as many values as its shape says; never a panic, a hang
//! or an allocation the input does not pay for.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wgbert::fuzzing::fuzz_zip(data));
