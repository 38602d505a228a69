//! Binary and softmax cross-entropy, mean over examples, and the count of correct predictions.

/// (mean loss, correct, dlogits of the mean loss). `classes` = 1 means binary with logits.
pub fn loss(logits: &[f64], labels: &[f64], classes: usize) -> (f64, f64, Vec<f64>) {
    let n = labels.len();
    let (mut total, mut correct) = (0.0, 0.0);
    let mut d = vec![0.0; logits.len()];
    for i in 0..n {
        if classes == 1 {
            let (z, y) = (logits[i], labels[i]);
            total += z.max(0.0) - z * y + (1.0 + (-z.abs()).exp()).ln();
            correct += ((z > 0.0) == (y > 0.5)) as u32 as f64;
            d[i] = (1.0 / (1.0 + (-z).exp()) - y) / n as f64;
        } else {
            let row = &logits[i * classes..(i + 1) * classes];
            let y = labels[i] as usize;
            let mx = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let s: f64 = row.iter().map(|v| (v - mx).exp()).sum();
            total += s.ln() + mx - row[y];
            let arg = (0..classes).fold(0, |a, k| if row[k] > row[a] { k } else { a });
            correct += (arg == y) as u32 as f64;
            for k in 0..classes {
                d[i * classes + k] = ((row[k] - mx).exp() / s - (k == y) as u32 as f64) / n as f64;
            }
        }
    }
    (total / n as f64, correct, d)
}
