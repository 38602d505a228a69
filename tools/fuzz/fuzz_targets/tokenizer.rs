//! Any bytes as text (lossily decoded) through BERT's uncased and cased tokenizers, single and
//! pair encodings, checking the invariants every encoding keeps (src/fuzzing.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wgbert::fuzzing::fuzz_tokenizer(data));
