//! Word + position + token-type embeddings.

/// out (B·T, C).
pub fn forward(ids: &[u32], types: &[u32], word: &[f64], pos: &[f64], ttype: &[f64], t: usize, c: usize) -> Vec<f64> {
    let mut out = vec![0.0; ids.len() * c];
    for (tok, (&id, &ty)) in ids.iter().zip(types).enumerate() {
        for j in 0..c {
            out[tok * c + j] = word[id as usize * c + j] + pos[(tok % t) * c + j] + ttype[ty as usize * c + j];
        }
    }
    out
}

/// Gradients of the three tables: (dword, dpos, dtype), shaped like the tables.
pub fn backward(
    ids: &[u32],
    types: &[u32],
    dout: &[f64],
    t: usize,
    c: usize,
    sizes: (usize, usize, usize),
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let (mut dw, mut dp, mut dt) = (vec![0.0; sizes.0 * c], vec![0.0; sizes.1 * c], vec![0.0; sizes.2 * c]);
    for (tok, (&id, &ty)) in ids.iter().zip(types).enumerate() {
        for j in 0..c {
            let g = dout[tok * c + j];
            dw[id as usize * c + j] += g;
            dp[(tok % t) * c + j] += g;
            dt[ty as usize * c + j] += g;
        }
    }
    (dw, dp, dt)
}
