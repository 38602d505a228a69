//! What a run records: one row per epoch (like Keras' History) and the loss of every step.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct EpochRow {
    pub epoch: usize,
    pub loss: f64,
    pub accuracy: f64,
    pub val_loss: Option<f64>,
    pub val_accuracy: Option<f64>,
    pub seconds: f64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct History {
    pub epochs: Vec<EpochRow>,
    /// (global step, training loss of that step's batch).
    pub steps: Vec<(u64, f64)>,
}

impl History {
    pub fn to_csv(&self) -> String {
        let opt = |v: Option<f64>| v.map(|x| format!("{x:.6}")).unwrap_or_default();
        let mut s = String::from("epoch,loss,accuracy,val_loss,val_accuracy,seconds\n");
        for r in &self.epochs {
            s += &format!(
                "{},{:.6},{:.6},{},{},{:.1}\n",
                r.epoch,
                r.loss,
                r.accuracy,
                opt(r.val_loss),
                opt(r.val_accuracy),
                r.seconds
            );
        }
        s
    }

    /// history.json and history.csv in `dir`, written atomically.
    pub fn save(&self, dir: &std::path::Path) -> std::io::Result<()> {
        let json = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        crate::fsio::write_atomic(&dir.join("history.json"), &json)?;
        crate::fsio::write_atomic(&dir.join("history.csv"), self.to_csv().as_bytes())
    }
}
