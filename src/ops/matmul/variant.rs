//! The kernels one matrix product can run on (matmul.wgsl's entry points), and which one an
//! adapter runs when nothing was measured.

use super::panel::PANEL;
use crate::gpu::{shape_err, DType, Gpu, GpuError, Shader, Tensor};

/// How a product reads its operands, which picks the build of matmul.wgsl: as they are, or
/// rounded to f16 as they are loaded (mixed precision: both read `Tensor::read_as_f16`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operands {
    F32,
    F16,
}

impl Operands {
    /// How a product reads `a` and `b`: f32 tensors both, read as f16 both or neither.
    pub fn of(a: &Tensor, b: &Tensor) -> Result<Operands, GpuError> {
        if let Some(t) = [a, b].into_iter().find(|t| t.dtype() != DType::F32) {
            return Err(shape_err(format!(
                "matmul: operand {} is {:?}; products read f32 tensors (f16 operands are f32 tensors read as f16)",
                t.name(),
                t.dtype()
            )));
        }
        match (a.reads_as_f16(), b.reads_as_f16()) {
            (false, false) => Ok(Operands::F32),
            (true, true) => Ok(Operands::F16),
            _ => Err(shape_err(format!("matmul: {} and {} must both be read as f16 or neither", a.name(), b.name()))),
        }
    }

    /// f16 operands are for adapters with f16 arithmetic (shader-f16; the tensor-core module
    /// needs it): elsewhere the rounding would cost time and buy nothing, so an adapter without
    /// it (GL, some browsers) is told so by name.
    pub fn check_supported(self, gpu: &Gpu) -> Result<(), GpuError> {
        if self == Operands::F16 && !gpu.has_f16() {
            return Err(GpuError::Unsupported(format!(
                "--precision mixed needs an adapter with the shader-f16 feature, and {} has none; use --precision f32",
                gpu.info().name
            )));
        }
        Ok(())
    }

    /// The build of matmul.wgsl for these operands and `variant` (C is f32 either way).
    pub fn shader(self, variant: Variant) -> Shader {
        match (self, variant) {
            (Operands::F16, Variant::Coop) => Shader::MatmulCoop,
            (Operands::F16, _) => Shader::MatmulF16,
            (Operands::F32, _) => Shader::Matmul,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// 4x4 register block per invocation, no workgroup memory: CPUs / lavapipe.
    Register,
    /// 64x64 workgroup tile through workgroup memory, 4x4 per invocation: the textbook kernel.
    Tiled,
    /// 128x128 workgroup tile, 8x8 per invocation, vec4 reads of workgroup memory: GPUs.
    Wide,
    /// `Wide` with 64x64 tiles: four times the workgroups, for products with few large tiles.
    Wide64,
    /// Operands packed into 64 KiB panels read through uniform bindings: CPU devices, where
    /// storage loads are slow (see matmul.wgsl).
    Panel,
    /// Tensor cores through wgpu's experimental cooperative matrices (matmul_coop.wgsl): f16
    /// operands (`Operands::F16`) only, on adapters that offer them (`Gpu::has_coop_matrix`).
    Coop,
}

impl Variant {
    /// The variants every adapter runs (Coop needs f16 operands and the feature: `runnable`).
    pub const ALL: [Variant; 5] = [Variant::Register, Variant::Tiled, Variant::Wide, Variant::Wide64, Variant::Panel];

    /// The variants that can multiply these operands on this adapter.
    pub fn runnable(gpu: &Gpu, operands: Operands) -> Vec<Variant> {
        let mut v = Variant::ALL.to_vec();
        if operands == Operands::F16 && gpu.has_coop_matrix() {
            v.push(Variant::Coop);
        }
        v
    }

    /// The variants the tuner weighs on this adapter: on CPU adapters the two made for them
    /// (workgroup memory is slow there, and lavapipe's noisy trials picked `wide64` for shapes
    /// where the step then ran 10-20% slower than with `panel`); on GPUs all of them.
    pub fn candidates(gpu: &Gpu, operands: Operands) -> Vec<Variant> {
        let all = Variant::runnable(gpu, operands);
        if gpu.is_cpu() {
            return all.into_iter().filter(|v| matches!(v, Variant::Register | Variant::Panel)).collect();
        }
        all
    }

    pub fn name(self) -> &'static str {
        match self {
            Variant::Register => "reg",
            Variant::Tiled => "tiled",
            Variant::Wide => "wide",
            Variant::Wide64 => "wide64",
            Variant::Panel => "panel",
            Variant::Coop => "coop",
        }
    }

    pub fn parse(s: &str) -> Option<Variant> {
        Variant::ALL.into_iter().chain([Variant::Coop]).find(|v| v.name() == s)
    }

    /// The variant for this adapter when no shape is measured: the user's choice
    /// (`WGBERT_MATMUL`, `--variant`), else by device type (workgroup memory is slow on CPU
    /// devices and fast on GPUs).
    pub fn for_gpu(gpu: &Gpu) -> Variant {
        Variant::user_choice(gpu).unwrap_or_else(|| Variant::default_for(gpu))
    }

    pub(super) fn user_choice(gpu: &Gpu) -> Option<Variant> {
        gpu.variant("matmul").and_then(|s| Variant::parse(&s))
    }

    pub(super) fn default_for(gpu: &Gpu) -> Variant {
        if gpu.is_cpu() {
            Variant::Panel
        } else {
            Variant::Wide
        }
    }

    pub(super) fn entry(self) -> &'static str {
        match self {
            Variant::Register => "matmul_reg",
            Variant::Tiled => "matmul_tiled",
            Variant::Wide => "matmul_wide",
            Variant::Wide64 => "matmul_wide64",
            Variant::Panel => "matmul_panel",
            Variant::Coop => "matmul_coop",
        }
    }

    /// Whether the variant can also sum the rows of op(A) in the same launch (`gemm_row_sums`).
    pub fn sums_rows(self) -> bool {
        matches!(self, Variant::Wide | Variant::Wide64)
    }

    /// The entry point that runs two products in one launch (`gemm_pair`), where the variant has one.
    pub fn pair_entry(self) -> Option<&'static str> {
        match self {
            Variant::Wide => Some("matmul_wide_pair"),
            Variant::Wide64 => Some("matmul_wide64_pair"),
            _ => None,
        }
    }

    /// Rows and columns of C covered by one workgroup.
    pub(super) fn tile(self) -> (usize, usize) {
        match self {
            Variant::Register => (32, 32),
            Variant::Tiled => (64, 64),
            Variant::Wide => (128, 128),
            Variant::Wide64 => (64, 64),
            Variant::Panel => (PANEL, PANEL),
            Variant::Coop => (32, 64),
        }
    }
}
