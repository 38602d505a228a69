//! Every set of `override` constants the ops pass to each kernel: the specializations a run can
//! create. `wgbert shaders` lists them in its manifest, so that the portability checks (Tint,
//! naga's back ends) compile each one; `tests/shaders.rs` checks that every pipeline a run
//! builds is in this table, so it cannot fall behind the ops.

use crate::gpu::Shader;

/// One specialization: (override name, value), bools as 0/1.
pub type Constants = Vec<(&'static str, f64)>;

/// A linear layer's weight gradient, dW (+)= dYᵀ·X: op(A) = dYᵀ, accumulated, no bias or epilogue.
const WEIGHT_GRADIENT: [(&str, f64); 6] =
    [("TRANS_A", 1.0), ("TRANS_B", 0.0), ("HAS_BIAS", 0.0), ("ACCUMULATE", 1.0), ("EPILOGUE", 0.0), ("SAVE_PRE", 0.0)];

/// The specializations of `entry` in `shader`; `[[]]` for a kernel without overrides.
pub fn specializations(shader: Shader, entry: &str) -> Vec<Constants> {
    let bools = [0.0, 1.0];
    match (shader, entry) {
        // ops::matmul: transposes and bias; then either accumulate, or an epilogue (GeluKind
        // code + 1) with or without the saved pre-activation (an epilogue cannot accumulate).
        // The cooperative-matrix module holds the f16 build's kernels too; only matmul_coop is
        // ever built from it (and only matmul_panel_sg from the panel's subgroup module).
        (Shader::MatmulCoop, e) if e != "matmul_coop" => vec![],
        (Shader::MatmulPanelSubgroup, e) if e != "matmul_panel_sg" => vec![],
        (
            Shader::Matmul | Shader::MatmulF16,
            "matmul_reg" | "matmul_tiled" | "matmul_wide" | "matmul_wide64" | "matmul_panel",
        )
        | (Shader::MatmulCoop, "matmul_coop")
        | (Shader::MatmulPanelSubgroup, "matmul_panel_sg") => {
            let c_vec4: &[f64] = if entry.starts_with("matmul_panel") { &bools } else { &[] };
            let mut out = Vec::new();
            for layout in product(&[("TRANS_A", &bools), ("TRANS_B", &bools), ("HAS_BIAS", &bools)]) {
                let mut tails = vec![[("ACCUMULATE", 1.0), ("EPILOGUE", 0.0), ("SAVE_PRE", 0.0)]];
                tails.push([("ACCUMULATE", 0.0), ("EPILOGUE", 0.0), ("SAVE_PRE", 0.0)]);
                for act in 1..=3 {
                    for save in bools {
                        tails.push([("ACCUMULATE", 0.0), ("EPILOGUE", act as f64), ("SAVE_PRE", save)]);
                    }
                }
                for tail in tails {
                    let base: Constants = layout.iter().copied().chain(tail).collect();
                    for &v in c_vec4 {
                        out.push(base.iter().copied().chain([("C_VEC4", v)]).collect());
                    }
                    if c_vec4.is_empty() {
                        out.push(base);
                    }
                }
            }
            // The wide variants' weight gradient with the bias gradient (gemm_row_sums):
            // op(A) = dYᵀ, accumulated, no bias or epilogue.
            if entry.starts_with("matmul_wide") && shader != Shader::MatmulCoop {
                for c in out.iter_mut() {
                    c.push(("ROW_SUMS", 0.0));
                }
                out.push(WEIGHT_GRADIENT.iter().copied().chain([("ROW_SUMS", 1.0)]).collect());
            }
            out
        }
        // The pair (gemm_pair): a linear layer's dW (op(A) = dYᵀ, accumulated, with or without
        // the bias gradient) and its dX (assigned, through the activation's derivative, or
        // accumulated into the residual's gradient).
        (Shader::Matmul | Shader::MatmulF16, "matmul_wide_pair" | "matmul_wide64_pair") => {
            let mut seconds = vec![[("ACCUMULATE2", 1.0), ("GRAD_EPILOGUE", 0.0)]];
            seconds.extend((0..=3).map(|g| [("ACCUMULATE2", 0.0), ("GRAD_EPILOGUE", g as f64)]));
            let mut out = Vec::new();
            for sums in bools {
                for second in &seconds {
                    let mut c: Constants = WEIGHT_GRADIENT.to_vec();
                    c.push(("ROW_SUMS", sums));
                    c.extend([("TRANS_A2", 0.0), ("TRANS_B2", 0.0)]);
                    c.extend(second.iter().copied());
                    out.push(c);
                }
            }
            out
        }
        // ops::matmul::panel: the packing kernels take the product's layout constants less the
        // epilogue's, and whether their operand is vec4-aligned.
        (Shader::Matmul | Shader::MatmulF16, "pack_a" | "pack_b") => product(&[
            ("TRANS_A", &bools),
            ("TRANS_B", &bools),
            ("HAS_BIAS", &bools),
            ("ACCUMULATE", &bools),
            ("PACK_VEC4", &bools),
        ]),
        // ops::gelu: the activation (GeluKind as u32).
        (Shader::Gelu, "gelu_fwd" | "gelu_bwd") => product(&[("ACT", &[0.0, 1.0, 2.0])]),
        // ops::layernorm: add & norm with or without dropout, saving the sum when training.
        // The subgroup build holds the other variants' kernels too; only its own are built from it.
        (Shader::LayernormSubgroup, e) if !e.ends_with("_sg") => vec![],
        (Shader::SoftmaxSubgroup, e) if !e.ends_with("_sg") => vec![],
        (Shader::Layernorm, "ln_fwd_add" | "ln_fwd_add_rows") | (Shader::LayernormSubgroup, "ln_fwd_add_sg") => {
            product(&[("DROPOUT", &bools), ("SAVE_SUM", &bools)])
        }
        // ops::attention: the softmax with or without dropout on its probabilities.
        (Shader::Softmax, "softmax_fwd" | "softmax_bwd")
        | (Shader::SoftmaxSubgroup, "softmax_fwd_sg" | "softmax_bwd_sg") => product(&[("DROPOUT", &bools)]),
        // ... and its backward, dropping the sub-layer's gradient in the same pass.
        (Shader::Layernorm, "ln_bwd_input" | "ln_bwd_input_rows") | (Shader::LayernormSubgroup, "ln_bwd_input_sg") => {
            product(&[("DROPOUT", &bools)])
        }
        // ops::attention_fused: head size / 4 (head sizes 4..=64 in steps of 4), dropout on the
        // probabilities; the packing kernels never drop. The subgroup build differs in the three
        // CPU kernels only; only those are built from it.
        (Shader::AttentionSubgroup, e) if !matches!(e, "attn_fwd" | "attn_bwd_dq" | "attn_bwd_dkdv") => vec![],
        (Shader::Attention | Shader::AttentionSubgroup, _) => {
            let hs4: Vec<f64> = (1..=16).map(|v| v as f64).collect();
            let drop: &[f64] = if entry.starts_with("pack_") { &[0.0] } else { &bools };
            product(&[("HS4", &hs4), ("DROPOUT", drop)])
        }
        // ops::reduce: assign or accumulate the final sums.
        (Shader::Reduce, "col_sum_final" | "sum_final") => product(&[("ACCUMULATE", &bools)]),
        _ => vec![vec![]],
    }
}

/// Every combination of the named values, in order.
fn product(axes: &[(&'static str, &[f64])]) -> Vec<Constants> {
    axes.iter().fold(vec![vec![]], |acc, (name, values)| {
        acc.iter().flat_map(|c| values.iter().map(move |&v| c.iter().copied().chain([(*name, v)]).collect())).collect()
    })
}
