//! The float element types the readers accept, and their little-endian decoding to f32.
//! Shared by the safetensors, PyTorch and TF readers, which differ only in how they name them.

use half::{bf16, f16};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FloatType {
    F32,
    F16,
    BF16,
    /// Narrowed to f32: the model computes in f32, and f64 checkpoints are rare (fixtures, mostly).
    F64,
}

impl FloatType {
    pub(crate) fn size(self) -> usize {
        match self {
            FloatType::F32 => 4,
            FloatType::F16 | FloatType::BF16 => 2,
            FloatType::F64 => 8,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            FloatType::F32 => "f32",
            FloatType::F16 => "f16",
            FloatType::BF16 => "bf16",
            FloatType::F64 => "f64",
        }
    }

    /// Decodes `bytes` (exactly `n * size()` of them, little-endian, any alignment) to f32.
    /// `chunks_exact` + `from_le_bytes` compiles to plain loads, so a 90 MB file decodes in tens of ms.
    pub(crate) fn decode(self, bytes: &[u8]) -> Vec<f32> {
        debug_assert_eq!(bytes.len() % self.size(), 0);
        // One loop per type, so the match is not inside the loop.
        match self {
            FloatType::F32 => bytes.chunks_exact(4).map(|b| FloatType::F32.decode_one(b)).collect(),
            FloatType::F16 => bytes.chunks_exact(2).map(|b| FloatType::F16.decode_one(b)).collect(),
            FloatType::BF16 => bytes.chunks_exact(2).map(|b| FloatType::BF16.decode_one(b)).collect(),
            FloatType::F64 => bytes.chunks_exact(8).map(|b| FloatType::F64.decode_one(b)).collect(),
        }
    }

    /// Decodes one element from exactly `size()` bytes.
    #[inline(always)]
    pub(crate) fn decode_one(self, b: &[u8]) -> f32 {
        match self {
            FloatType::F32 => f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            FloatType::F16 => f16::from_le_bytes([b[0], b[1]]).to_f32(),
            FloatType::BF16 => bf16::from_le_bytes([b[0], b[1]]).to_f32(),
            FloatType::F64 => f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32,
        }
    }
}
