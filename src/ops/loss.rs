//! Classification losses (loss.wgsl): binary cross-entropy on one logit, softmax cross-entropy
//! on N, each with its gradient, plus accuracy — reduced on the GPU to two floats.

use std::sync::Arc;

use super::{f, reduce};
use crate::gpu::{shape_err, Arg, Gpu, GpuError, Kernel, Shader, Tensor};

fn examples(logits: &Tensor, labels: &Tensor) -> Result<(usize, usize), GpuError> {
    let n = labels.numel();
    if n == 0 || !logits.numel().is_multiple_of(n) {
        return Err(shape_err(format!("loss: logits {:?} do not match {} labels", logits.shape(), n)));
    }
    Ok((n, logits.numel() / n))
}

fn is_binary(classes: usize) -> bool {
    classes == 1
}

/// Returns (2): [mean loss, number of correct predictions]. One logit per example → binary
/// cross-entropy with logits; N logits → softmax cross-entropy (labels are class indices).
pub fn loss_forward(gpu: &Arc<Gpu>, logits: &Tensor, labels: &Tensor) -> Result<Tensor, GpuError> {
    let (n, classes) = examples(logits, labels)?;
    let per_loss = gpu.empty("per-example loss", &[n])?;
    let per_correct = gpu.empty("per-example correct", &[n])?;
    let entry = if is_binary(classes) { "bce_fwd" } else { "ce_fwd" };
    gpu.launch(
        &Kernel::new(Shader::Loss, entry),
        &[n as u32, classes as u32, f(1.0), 0],
        &[Arg::R(logits), Arg::R(labels), Arg::W(&per_loss), Arg::W(&per_correct)],
        [n.div_ceil(64) as u32, 1, 1],
    )?;
    let out = gpu.empty("loss and correct", &[2])?;
    reduce::sum_into(gpu, &per_loss, &out, 0, 1.0 / n as f32, false)?;
    reduce::sum_into(gpu, &per_correct, &out, 1, 1.0, false)?;
    Ok(out)
}

/// dlogits of `scale` · mean loss (assigned); scale is 1 unless gradients are accumulated
/// over micro-batches.
pub fn loss_backward(gpu: &Arc<Gpu>, logits: &Tensor, labels: &Tensor, scale: f32) -> Result<Tensor, GpuError> {
    backward(gpu, logits, labels, scale, None)
}

/// `loss_backward` times a loss scale the GPU holds: u32 word `at` of `control` (the
/// optimizer's control words, `ops::adamw::control`), an f32 by its bits.
pub fn loss_backward_scaled(
    gpu: &Arc<Gpu>,
    logits: &Tensor,
    labels: &Tensor,
    scale: f32,
    control: &Tensor,
    at: usize,
) -> Result<Tensor, GpuError> {
    if at >= control.numel() {
        return Err(shape_err(format!("loss scale: word {at} of {} with {} words", control.name(), control.numel())));
    }
    backward(gpu, logits, labels, scale, Some((control, at)))
}

fn backward(
    gpu: &Arc<Gpu>,
    logits: &Tensor,
    labels: &Tensor,
    scale: f32,
    control: Option<(&Tensor, usize)>,
) -> Result<Tensor, GpuError> {
    let (n, classes) = examples(logits, labels)?;
    let dlogits = gpu.empty("logit gradient", logits.shape())?;
    let entry = match (is_binary(classes), control.is_some()) {
        (true, false) => "bce_bwd",
        (true, true) => "bce_bwd_scaled",
        (false, false) => "ce_bwd",
        (false, true) => "ce_bwd_scaled",
    };
    let mut args = vec![Arg::R(logits), Arg::R(labels), Arg::W(&dlogits)];
    args.extend(control.map(|(c, _)| Arg::R(c)));
    gpu.launch(
        &Kernel::new(Shader::Loss, entry),
        &[n as u32, classes as u32, f(scale / n as f32), control.map_or(0, |(_, at)| at as u32)],
        &args,
        [n.div_ceil(64) as u32, 1, 1],
    )?;
    Ok(dlogits)
}
