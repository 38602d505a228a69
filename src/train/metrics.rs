//! Evaluation: loss, accuracy, precision, recall, F1 and the confusion matrix.

use serde::Serialize;

#[derive(Clone, Debug, Serialize)]
pub struct EvalReport {
    pub examples: usize,
    pub loss: f64,
    pub accuracy: f64,
    /// Per class: precision, recall, F1 (for two classes the positive class is 1).
    pub precision: Vec<f64>,
    pub recall: Vec<f64>,
    pub f1: Vec<f64>,
    /// confusion[true][predicted].
    pub confusion: Vec<Vec<usize>>,
    pub classes: Vec<String>,
}

impl EvalReport {
    pub fn new(classes: &[String], truth: &[usize], predicted: &[usize], loss_sum: f64) -> EvalReport {
        let k = classes.len().max(2);
        let mut confusion = vec![vec![0usize; k]; k];
        for (&t, &p) in truth.iter().zip(predicted) {
            confusion[t][p] += 1;
        }
        let n = truth.len().max(1);
        let correct: usize = (0..k).map(|c| confusion[c][c]).sum();
        let (mut precision, mut recall, mut f1) = (Vec::new(), Vec::new(), Vec::new());
        for c in 0..k {
            let tp = confusion[c][c] as f64;
            let pred: usize = (0..k).map(|t| confusion[t][c]).sum();
            let actual: usize = confusion[c].iter().sum();
            let p = if pred > 0 { tp / pred as f64 } else { 0.0 };
            let r = if actual > 0 { tp / actual as f64 } else { 0.0 };
            precision.push(p);
            recall.push(r);
            f1.push(if p + r > 0.0 { 2.0 * p * r / (p + r) } else { 0.0 });
        }
        EvalReport {
            examples: truth.len(),
            loss: loss_sum / n as f64,
            accuracy: correct as f64 / n as f64,
            precision,
            recall,
            f1,
            confusion,
            classes: classes.to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn binary_metrics() {
        let classes = vec!["neg".to_string(), "pos".to_string()];
        let r = super::EvalReport::new(&classes, &[1, 1, 1, 0, 0], &[1, 1, 0, 1, 0], 5.0);
        assert_eq!(r.confusion, vec![vec![1, 1], vec![1, 2]]);
        assert!((r.accuracy - 0.6).abs() < 1e-12);
        assert!((r.precision[1] - 2.0 / 3.0).abs() < 1e-12);
        assert!((r.recall[1] - 2.0 / 3.0).abs() < 1e-12);
        assert!((r.loss - 1.0).abs() < 1e-12);
    }
}
