//! LayerNorm over the last dimension.

pub struct Saved {
    pub mean: Vec<f64>,
    pub rstd: Vec<f64>,
}

pub fn forward(x: &[f64], gamma: &[f64], beta: &[f64], cols: usize, eps: f64) -> (Vec<f64>, Saved) {
    let rows = x.len() / cols;
    let mut y = vec![0.0; x.len()];
    let (mut mean, mut rstd) = (vec![0.0; rows], vec![0.0; rows]);
    for r in 0..rows {
        let row = &x[r * cols..(r + 1) * cols];
        let mu = row.iter().sum::<f64>() / cols as f64;
        let var = row.iter().map(|v| (v - mu) * (v - mu)).sum::<f64>() / cols as f64;
        let rs = 1.0 / (var + eps).sqrt();
        for c in 0..cols {
            y[r * cols + c] = (row[c] - mu) * rs * gamma[c] + beta[c];
        }
        mean[r] = mu;
        rstd[r] = rs;
    }
    (y, Saved { mean, rstd })
}

/// (dx, dgamma, dbeta).
pub fn backward(dy: &[f64], x: &[f64], gamma: &[f64], s: &Saved, cols: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let rows = x.len() / cols;
    let mut dx = vec![0.0; x.len()];
    let (mut dg, mut db) = (vec![0.0; cols], vec![0.0; cols]);
    for r in 0..rows {
        let xhat = |c: usize| (x[r * cols + c] - s.mean[r]) * s.rstd[r];
        let (mut sg, mut sgx) = (0.0, 0.0);
        for c in 0..cols {
            let g = dy[r * cols + c] * gamma[c];
            sg += g;
            sgx += g * xhat(c);
            dg[c] += dy[r * cols + c] * xhat(c);
            db[c] += dy[r * cols + c];
        }
        let (sg, sgx) = (sg / cols as f64, sgx / cols as f64);
        for c in 0..cols {
            let g = dy[r * cols + c] * gamma[c];
            dx[r * cols + c] = s.rstd[r] * (g - sg - xhat(c) * sgx);
        }
    }
    (dx, dg, db)
}
