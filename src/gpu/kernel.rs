//! WGSL sources and the pipeline cache.
//!
//! Every kernel has the same interface: binding 0 is a small uniform block of parameters (u32/f32
//! words), bindings 1.. are storage buffers in the order the op passes them. The bind group layout
//! is derived from that argument list (read-only or read-write per binding), so one WGSL file can
//! hold a forward and a backward entry point with different bindings side by side.

use std::collections::HashMap;

use super::GpuError;

/// One WGSL file: an op family, forward and backward side by side.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Shader {
    Matmul,
    /// matmul.wgsl with f16 operands (mixed precision): the same kernels on f32 tensors, each
    /// element of A and B rounded to f16 as it is loaded (matmul_round.wgsl, on the bits).
    MatmulF16,
    /// The f16 build plus matmul_coop.wgsl: tensor cores through wgpu's experimental
    /// cooperative matrices. Created only on adapters that offer them (`Gpu::has_coop_matrix`).
    MatmulCoop,
    /// matmul.wgsl plus matmul_panel_subgroup.wgsl: the panel kernel sharing A through
    /// subgroup broadcasts. Created only on adapters whose subgroups are 8 lanes.
    MatmulPanelSubgroup,
    Layernorm,
    /// layernorm.wgsl plus subgroup_rows.wgsl and layernorm_subgroup.wgsl: a row per subgroup. Created only on
    /// adapters with subgroups (`Gpu::subgroup_sizes`).
    LayernormSubgroup,
    Gelu,
    Softmax,
    /// softmax.wgsl plus subgroup_rows.wgsl and softmax_subgroup.wgsl, likewise.
    SoftmaxSubgroup,
    Embedding,
    Elementwise,
    Reduce,
    Loss,
    Adamw,
    /// attention.wgsl with each lane loading the rows its CPU kernels share (attention_rows.wgsl).
    Attention,
    /// attention.wgsl with the rows loaded a share per lane and handed round by subgroup
    /// broadcasts (attention_rows_subgroup.wgsl). Created only on adapters whose subgroups are 8 lanes.
    AttentionSubgroup,
    Convert,
}

const SHADER_COUNT: usize = Shader::Convert as usize + 1;

impl Shader {
    /// Every module the engine compiles, in declaration order.
    pub const ALL: [Shader; SHADER_COUNT] = [
        Shader::Matmul,
        Shader::MatmulF16,
        Shader::MatmulCoop,
        Shader::MatmulPanelSubgroup,
        Shader::Layernorm,
        Shader::LayernormSubgroup,
        Shader::Gelu,
        Shader::Softmax,
        Shader::SoftmaxSubgroup,
        Shader::Embedding,
        Shader::Elementwise,
        Shader::Reduce,
        Shader::Loss,
        Shader::Adamw,
        Shader::Attention,
        Shader::AttentionSubgroup,
        Shader::Convert,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Shader::Matmul => "matmul.wgsl",
            Shader::MatmulF16 => "matmul.wgsl (f16 operands)",
            Shader::MatmulCoop => "matmul.wgsl (f16 operands, cooperative matrix)",
            Shader::MatmulPanelSubgroup => "matmul.wgsl (panel, subgroups)",
            Shader::Layernorm => "layernorm.wgsl",
            Shader::LayernormSubgroup => "layernorm.wgsl (subgroups)",
            Shader::Gelu => "gelu.wgsl",
            Shader::Softmax => "softmax.wgsl",
            Shader::SoftmaxSubgroup => "softmax.wgsl (subgroups)",
            Shader::Embedding => "embedding.wgsl",
            Shader::Elementwise => "elementwise.wgsl",
            Shader::Reduce => "reduce.wgsl",
            Shader::Loss => "loss.wgsl",
            Shader::Adamw => "adamw.wgsl",
            Shader::Attention => "attention.wgsl",
            Shader::AttentionSubgroup => "attention.wgsl (subgroups)",
            Shader::Convert => "convert.wgsl",
        }
    }

    /// A file name for the module as compiled (`wgbert shaders`): one per module.
    pub fn file_name(self) -> &'static str {
        match self {
            Shader::MatmulF16 => "matmul_f16.wgsl",
            Shader::MatmulCoop => "matmul_coop.wgsl",
            Shader::MatmulPanelSubgroup => "matmul_panel_subgroup.wgsl",
            Shader::LayernormSubgroup => "layernorm_subgroup.wgsl",
            Shader::SoftmaxSubgroup => "softmax_subgroup.wgsl",
            Shader::AttentionSubgroup => "attention_subgroup.wgsl",
            other => other.name(),
        }
    }

    /// The features the module needs (it starts with `enable f16;`, and for the cooperative
    /// matrices `enable wgpu_cooperative_matrix;`, wgpu's experimental
    /// `Features::EXPERIMENTAL_COOPERATIVE_MATRIX`, which no WebGPU implementation has).
    pub fn features(self) -> &'static [&'static str] {
        if self.uses_subgroups() {
            &["subgroups"]
        } else if self.uses_coop_matrix() {
            &["shader-f16", "wgpu-experimental-cooperative-matrix"]
        } else if self.uses_f16() {
            &["shader-f16"]
        } else {
            &[]
        }
    }

    /// Whether the module uses f16 (`enable f16;`, shader-f16): the conversions, which take f16
    /// tensors (the only kernels that do), and the tensor-core matmul's f16 tiles. (The f16
    /// build of matmul rounds on the bits of f32s: it needs no f16 type.)
    pub fn uses_f16(self) -> bool {
        matches!(self, Shader::Convert | Shader::MatmulCoop)
    }

    /// Whether the shader's kernels take f16 tensors (the others refuse them).
    pub fn takes_f16(self) -> bool {
        self == Shader::Convert
    }

    /// Whether the module uses wgpu's cooperative matrices (tensor cores): Vulkan and Metal
    /// only, and only where the adapter offers them.
    pub fn uses_coop_matrix(self) -> bool {
        self == Shader::MatmulCoop
    }

    /// Whether the module uses subgroup operations (`Features::SUBGROUP`). naga takes the
    /// built-ins without WGSL's `enable subgroups;`, which it refuses, so the source has none;
    /// `wgbert shaders` writes the module with it for other compilers.
    pub fn uses_subgroups(self) -> bool {
        matches!(
            self,
            Shader::MatmulPanelSubgroup
                | Shader::LayernormSubgroup
                | Shader::SoftmaxSubgroup
                | Shader::AttentionSubgroup
        )
    }

    /// A hash of the WGSL source: tuning choices are kept per kernel source. Computed once per
    /// shader: it is part of the tuning key every matmul launch looks up.
    pub fn source_hash(self) -> u64 {
        static HASHES: [std::sync::OnceLock<u64>; SHADER_COUNT] = [const { std::sync::OnceLock::new() }; SHADER_COUNT];
        *HASHES[self as usize].get_or_init(|| super::tuning::fnv64(self.source().as_bytes()))
    }

    /// The WGSL exactly as the engine compiles it (aliases, `enable` and shared source included).
    pub fn source(self) -> &'static str {
        match self {
            // activation.wgsl is shared: the GELU kernels and the matmul epilogue.
            // matmul.wgsl loads its operands through `widen`, which each build defines.
            Shader::Matmul => concat!(
                "fn widen(x: f32) -> f32 { return x; }\n",
                "fn widen4(x: vec4<f32>) -> vec4<f32> { return x; }\n",
                include_str!("../../shaders/matmul.wgsl"),
                include_str!("../../shaders/matmul_panel.wgsl"),
                include_str!("../../shaders/activation.wgsl")
            ),
            Shader::MatmulF16 => concat!(
                include_str!("../../shaders/matmul_round.wgsl"),
                include_str!("../../shaders/matmul.wgsl"),
                include_str!("../../shaders/matmul_panel.wgsl"),
                include_str!("../../shaders/activation.wgsl")
            ),
            Shader::MatmulCoop => concat!(
                "enable f16;\nenable wgpu_cooperative_matrix;\n",
                include_str!("../../shaders/matmul_round.wgsl"),
                include_str!("../../shaders/matmul.wgsl"),
                include_str!("../../shaders/matmul_panel.wgsl"),
                include_str!("../../shaders/activation.wgsl"),
                include_str!("../../shaders/matmul_coop.wgsl")
            ),
            // The panels arrive packed (and rounded, in mixed precision) by the other builds'
            // pack_a / pack_b: this module only multiplies them.
            Shader::MatmulPanelSubgroup => concat!(
                "fn widen(x: f32) -> f32 { return x; }\n",
                "fn widen4(x: vec4<f32>) -> vec4<f32> { return x; }\n",
                include_str!("../../shaders/matmul.wgsl"),
                include_str!("../../shaders/matmul_panel.wgsl"),
                include_str!("../../shaders/activation.wgsl"),
                include_str!("../../shaders/matmul_panel_subgroup.wgsl")
            ),
            Shader::Layernorm => include_str!("../../shaders/layernorm.wgsl"),
            Shader::LayernormSubgroup => concat!(
                include_str!("../../shaders/layernorm.wgsl"),
                include_str!("../../shaders/subgroup_rows.wgsl"),
                include_str!("../../shaders/layernorm_subgroup.wgsl")
            ),
            Shader::Gelu => {
                concat!(include_str!("../../shaders/gelu.wgsl"), include_str!("../../shaders/activation.wgsl"))
            }
            Shader::Softmax => include_str!("../../shaders/softmax.wgsl"),
            Shader::SoftmaxSubgroup => {
                concat!(
                    include_str!("../../shaders/softmax.wgsl"),
                    include_str!("../../shaders/subgroup_rows.wgsl"),
                    include_str!("../../shaders/softmax_subgroup.wgsl")
                )
            }
            Shader::Embedding => include_str!("../../shaders/embedding.wgsl"),
            Shader::Elementwise => include_str!("../../shaders/elementwise.wgsl"),
            Shader::Reduce => include_str!("../../shaders/reduce.wgsl"),
            Shader::Loss => include_str!("../../shaders/loss.wgsl"),
            Shader::Adamw => include_str!("../../shaders/adamw.wgsl"),
            Shader::Attention => {
                concat!(include_str!("../../shaders/attention.wgsl"), include_str!("../../shaders/attention_rows.wgsl"))
            }
            Shader::AttentionSubgroup => concat!(
                include_str!("../../shaders/attention.wgsl"),
                include_str!("../../shaders/attention_rows_subgroup.wgsl")
            ),
            Shader::Convert => include_str!("../../shaders/convert.wgsl"),
        }
    }
}

/// Which entry point of which shader, specialised by WGSL `override` constants.
#[derive(Clone, Copy, Debug)]
pub struct Kernel<'a> {
    pub shader: Shader,
    pub entry: &'static str,
    pub constants: &'a [(&'static str, f64)],
}

impl<'a> Kernel<'a> {
    pub const fn new(shader: Shader, entry: &'static str) -> Kernel<'static> {
        Kernel { shader, entry, constants: &[] }
    }
}

/// How an argument is bound: the key of the bind group layout.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(crate) enum BindKind {
    Read,
    Write,
    Uniform,
}

#[derive(PartialEq, Eq, Hash)]
struct PipelineKey {
    shader: Shader,
    entry: &'static str,
    constants: Vec<(&'static str, u64)>,
    layout: Vec<BindKind>,
}

/// Compiled once per process: shader modules, layouts per argument signature, pipelines.
#[derive(Default)]
pub(crate) struct KernelCache {
    /// Whether modules keep wgpu's runtime checks (`shader_runtime_checks`).
    runtime_checks: bool,
    modules: HashMap<Shader, wgpu::ShaderModule>,
    layouts: HashMap<Vec<BindKind>, (wgpu::BindGroupLayout, wgpu::PipelineLayout)>,
    pipelines: HashMap<PipelineKey, wgpu::ComputePipeline>,
}

impl KernelCache {
    pub fn new(runtime_checks: bool) -> KernelCache {
        KernelCache { runtime_checks, ..KernelCache::default() }
    }

    pub fn runtime_checks(&self) -> bool {
        self.runtime_checks
    }

    /// The pipeline and its bind group layout, compiled on first use; `sig` says how each
    /// argument is bound, in order.
    pub fn get(
        &mut self,
        device: &wgpu::Device,
        kernel: &Kernel,
        sig: Vec<BindKind>,
    ) -> Result<(wgpu::ComputePipeline, wgpu::BindGroupLayout), GpuError> {
        let key = PipelineKey {
            shader: kernel.shader,
            entry: kernel.entry,
            constants: kernel.constants.iter().map(|(k, v)| (*k, v.to_bits())).collect(),
            layout: sig.clone(),
        };
        let (bgl, pl) = self.layouts.entry(sig.clone()).or_insert_with(|| make_layout(device, &sig)).clone();
        if let Some(p) = self.pipelines.get(&key) {
            return Ok((p.clone(), bgl));
        }
        if !self.modules.contains_key(&kernel.shader) {
            // A browser compiles the WGSL itself and wants `enable subgroups;`, which naga refuses.
            let source: std::borrow::Cow<str> = if cfg!(target_arch = "wasm32") && kernel.shader.uses_subgroups() {
                format!("enable subgroups;\n{}", kernel.shader.source()).into()
            } else {
                kernel.shader.source().into()
            };
            let desc = wgpu::ShaderModuleDescriptor {
                label: Some(kernel.shader.name()),
                source: wgpu::ShaderSource::Wgsl(source),
            };
            let (module, error) = validated(device, || create_module(device, desc, self.runtime_checks));
            if let Some(e) = error {
                return Err(GpuError::Compile {
                    shader: kernel.shader.name(),
                    entry: kernel.entry,
                    message: e.to_string(),
                });
            }
            self.modules.insert(kernel.shader, module);
        }
        let module = &self.modules[&kernel.shader];
        let (pipeline, error) = validated(device, || {
            device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(kernel.entry),
                layout: Some(&pl),
                module,
                entry_point: Some(kernel.entry),
                compilation_options: wgpu::PipelineCompilationOptions {
                    constants: kernel.constants,
                    // Our kernels initialise what they read of workgroup memory themselves.
                    zero_initialize_workgroup_memory: false,
                },
                cache: None,
            })
        });
        if let Some(e) = error {
            return Err(GpuError::Compile {
                shader: kernel.shader.name(),
                entry: kernel.entry,
                message: e.to_string(),
            });
        }
        self.pipelines.insert(key, pipeline.clone());
        Ok((pipeline, bgl))
    }

    pub fn pipeline_count(&self) -> usize {
        self.pipelines.len()
    }

    /// (shader, entry point, override constants) of every pipeline built so far.
    pub fn specializations(&self) -> Vec<(Shader, &'static str, Vec<(&'static str, f64)>)> {
        let consts = |k: &PipelineKey| k.constants.iter().map(|(n, bits)| (*n, f64::from_bits(*bits))).collect();
        self.pipelines.keys().map(|k| (k.shader, k.entry, consts(k))).collect()
    }
}

/// Runs `make` and returns the validation error it raised, if any. Natively the error scope is
/// waited for on the spot. A browser cannot wait (the scope resolves as a promise), so there no
/// scope is pushed: an error reaches the device's uncaptured-error handler and comes back as a
/// `GpuError::Validation` at the next flush or read-back. (Making `launch` async would bring the
/// browser `GpuError::Compile` too.)
/// Whether shader modules keep wgpu's runtime checks (naga's clamping of every dynamic index
/// and its 64-bit counter in every loop) on an adapter of this kind: `WGBERT_SHADER_CHECKS` (1
/// or 0) when set; else off on GPUs, where the checks cost drivers dearly in hot loops and each
/// kernel's own index arithmetic keeps it in bounds (`wgbert selftest` proves that at sizes that
/// are no multiple of any tile, with the checks off and on), and on for CPU adapters, where
/// lavapipe ran the MiniLM step 10-15% faster with them (three interleaved rounds: its LLVM
/// vectorizes the clamped loops better). A browser's WebGPU always keeps its own.
pub fn shader_runtime_checks(cpu_adapter: bool) -> bool {
    static SETTING: std::sync::OnceLock<Option<bool>> = std::sync::OnceLock::new();
    let setting = *SETTING.get_or_init(|| {
        let v = std::env::var("WGBERT_SHADER_CHECKS").ok()?;
        Some(!matches!(v.trim(), "" | "0" | "false" | "off"))
    });
    cfg!(target_arch = "wasm32") || setting.unwrap_or(cpu_adapter)
}

fn create_module(device: &wgpu::Device, desc: wgpu::ShaderModuleDescriptor, checks: bool) -> wgpu::ShaderModule {
    if checks {
        return device.create_shader_module(desc);
    }
    // Integer division keeps its guard against a zero divisor: it is one select, and a
    // divisor comes from a uniform the host fills.
    let mut checks = wgpu::ShaderRuntimeChecks::unchecked();
    checks.int_div_checks = true;
    // SAFETY: the kernels bound every index by the sizes they are dispatched with (every access
    // is guarded by `if (i < n)`-style checks or exact tiling), and every loop by a uniform;
    // the selftest's awkward sizes run each with and without the checks.
    unsafe { device.create_shader_module_trusted(desc, checks) }
}

fn validated<T>(device: &wgpu::Device, make: impl FnOnce() -> T) -> (T, Option<wgpu::Error>) {
    if cfg!(target_arch = "wasm32") {
        return (make(), None);
    }
    let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
    let out = make();
    (out, pollster::block_on(scope.pop()))
}

fn make_layout(device: &wgpu::Device, kinds: &[BindKind]) -> (wgpu::BindGroupLayout, wgpu::PipelineLayout) {
    let mut entries = vec![wgpu::BindGroupLayoutEntry {
        binding: 0,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Uniform,
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    }];
    for (i, &kind) in kinds.iter().enumerate() {
        let ty = match kind {
            BindKind::Read => wgpu::BufferBindingType::Storage { read_only: true },
            BindKind::Write => wgpu::BufferBindingType::Storage { read_only: false },
            BindKind::Uniform => wgpu::BufferBindingType::Uniform,
        };
        entries.push(wgpu::BindGroupLayoutEntry {
            binding: i as u32 + 1,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Buffer { ty, has_dynamic_offset: false, min_binding_size: None },
            count: None,
        });
    }
    let bgl = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor { label: None, entries: &entries });
    let pl = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
        label: None,
        bind_group_layouts: &[Some(&bgl)],
        immediate_size: 0,
    });
    (bgl, pl)
}
