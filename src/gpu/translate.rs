//! naga's translations of our WGSL to the languages wgpu hands drivers at run time: MSL
//! (Metal), HLSL (DX12), SPIR-V (Vulkan) and GLSL ES (GL), one specialization at a time, as
//! wgpu does when it builds a pipeline. `wgbert shaders --translate` runs every module, entry
//! point and override set through all four, so a module that cannot reach a back end fails here
//! rather than on a user's Mac or Windows machine. The options approximate wgpu's (bindings are
//! faked rather than mapped): what they check is that translation succeeds.

use wgpu::naga;

use super::Shader;

/// A back end of wgpu's and the language naga writes for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Msl,
    Hlsl,
    SpirV,
    Glsl,
}

impl Target {
    pub const ALL: [Target; 4] = [Target::Msl, Target::Hlsl, Target::SpirV, Target::Glsl];

    pub fn name(self) -> &'static str {
        match self {
            Target::Msl => "msl",
            Target::Hlsl => "hlsl",
            Target::SpirV => "spirv",
            Target::Glsl => "glsl",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Target::Msl => "metal",
            Target::Hlsl => "hlsl",
            Target::SpirV => "spv",
            Target::Glsl => "comp",
        }
    }

    /// Whether wgpu runs the module on this back end at all: wgpu's GL back end has no
    /// shader-f16, so the f16 modules never reach GLSL; cooperative matrices exist on Vulkan
    /// and Metal only.
    pub fn runs(self, shader: Shader) -> bool {
        if shader.uses_coop_matrix() {
            return matches!(self, Target::SpirV | Target::Msl);
        }
        // wgpu's GL back end has no subgroups.
        if shader.uses_subgroups() {
            return self != Target::Glsl;
        }
        !(self == Target::Glsl && shader.uses_f16())
    }
}

pub enum Translation {
    Text(String),
    Words(Vec<u32>),
}

impl Translation {
    pub fn into_bytes(self) -> Vec<u8> {
        match self {
            Translation::Text(s) => s.into_bytes(),
            Translation::Words(w) => w.iter().flat_map(|v| v.to_le_bytes()).collect(),
        }
    }
}

/// A module parsed and validated once, translated per entry point and specialization.
pub struct Parsed {
    shader: Shader,
    module: naga::Module,
    info: naga::valid::ModuleInfo,
}

pub fn parse(shader: Shader) -> Result<Parsed, String> {
    let source = shader.source();
    let module = naga::front::wgsl::parse_str(source).map_err(|e| e.emit_to_string(source))?;
    let info = validator().validate(&module).map_err(|e| e.emit_to_string(source))?;
    Ok(Parsed { shader, module, info })
}

fn validator() -> naga::valid::Validator {
    naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::all())
}

impl Parsed {
    pub fn entry_points(&self) -> Vec<String> {
        self.module.entry_points.iter().map(|e| e.name.clone()).collect()
    }

    /// One entry point with its override values, in one target language.
    pub fn translate(&self, entry: &str, constants: &[(&str, f64)], target: Target) -> Result<Translation, String> {
        let mut pc = naga::back::PipelineConstants::default();
        for (k, v) in constants {
            pc.insert(k.to_string(), *v);
        }
        let stage = naga::ShaderStage::Compute;
        let (module, info) =
            naga::back::pipeline_constants::process_overrides(&self.module, &self.info, Some((stage, entry)), &pc)
                .map_err(|e| format!("overrides: {e}"))?;
        let f16 = self.shader.uses_f16();
        let err = |e: &dyn std::fmt::Display| format!("{}: {e}", target.name());
        Ok(match target {
            Target::Msl => {
                let options = naga::back::msl::Options {
                    lang_version: (2, 4),
                    fake_missing_bindings: true,
                    zero_initialize_workgroup_memory: false,
                    ..Default::default()
                };
                let pipeline = naga::back::msl::PipelineOptions {
                    entry_point: Some((stage, entry.to_string())),
                    ..Default::default()
                };
                let (text, _) =
                    naga::back::msl::write_string(&module, &info, &options, &pipeline).map_err(|e| err(&e))?;
                Translation::Text(text)
            }
            Target::Hlsl => {
                // wgpu's DX12 compiles with FXC (shader model 5.1) unless it needs DXC: f16
                // does (6.2), and wave operations (subgroups, 6.0).
                let shader_model = if f16 {
                    naga::back::hlsl::ShaderModel::V6_2
                } else if self.shader.uses_subgroups() {
                    naga::back::hlsl::ShaderModel::V6_0
                } else {
                    naga::back::hlsl::ShaderModel::V5_1
                };
                let options = naga::back::hlsl::Options {
                    shader_model,
                    zero_initialize_workgroup_memory: false,
                    ..Default::default()
                };
                let pipeline = naga::back::hlsl::PipelineOptions { entry_point: Some((stage, entry.to_string())) };
                let mut text = String::new();
                let mut w = naga::back::hlsl::Writer::new(&mut text, &options, &pipeline);
                w.write(&module, &info, None).map_err(|e| err(&e))?;
                Translation::Text(text)
            }
            Target::SpirV => {
                // Cooperative matrices (SPV_KHR_cooperative_matrix) need SPIR-V 1.3 and its
                // Vulkan memory model; the rest is written as SPIR-V 1.0.
                // Subgroup operations (GroupNonUniform) need SPIR-V 1.3 too.
                let lang_version =
                    if self.shader.uses_coop_matrix() || self.shader.uses_subgroups() { (1, 3) } else { (1, 0) };
                let options = naga::back::spv::Options {
                    lang_version,
                    zero_initialize_workgroup_memory: naga::back::spv::ZeroInitializeWorkgroupMemoryMode::None,
                    ..Default::default()
                };
                let pipeline = naga::back::spv::PipelineOptions { shader_stage: stage, entry_point: entry.to_string() };
                Translation::Words(
                    naga::back::spv::write_vec(&module, &info, &options, Some(&pipeline)).map_err(|e| err(&e))?,
                )
            }
            Target::Glsl => {
                let options = naga::back::glsl::Options {
                    version: naga::back::glsl::Version::Embedded { version: 310, is_webgl: false },
                    zero_initialize_workgroup_memory: false,
                    ..Default::default()
                };
                let pipeline = naga::back::glsl::PipelineOptions {
                    shader_stage: stage,
                    entry_point: entry.to_string(),
                    multiview: None,
                };
                let mut text = String::new();
                let policies = naga::proc::BoundsCheckPolicies::default();
                let mut w = naga::back::glsl::Writer::new(&mut text, &module, &info, &options, &pipeline, policies)
                    .map_err(|e| err(&e))?;
                w.write().map_err(|e| err(&e))?;
                Translation::Text(text)
            }
        })
    }
}
