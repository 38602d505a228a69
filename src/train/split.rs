//! A job's data, from files (the CLI) or from text (a browser): the seeded train/validation
//! split, class-balanced samples, and test data relabelled to the training classes.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use crate::data::{sample, Dataset};

/// The data of a job: training, validation and (when there is one) test sets.
pub struct JobData {
    pub classes: Vec<String>,
    pub train: Dataset,
    pub validation: Dataset,
    pub test: Option<Dataset>,
    pub notices: Vec<String>,
}

/// Relabels `d` to `classes` by name; a label that is not a class is an error naming it.
pub fn align_classes(d: Dataset, classes: &[String], path: &Path) -> Result<Dataset> {
    let mut map = Vec::with_capacity(d.classes.len());
    for c in &d.classes {
        match classes.iter().position(|k| k == c) {
            Some(i) => map.push(i),
            None => bail!("{}: label {c:?} is not one of the model's classes ({})", path.display(), classes.join(", ")),
        }
    }
    let examples = d.examples.into_iter().map(|mut e| {
        e.label = map[e.label];
        e
    });
    Ok(Dataset { classes: classes.to_vec(), examples: examples.collect(), notices: d.notices })
}

/// How a job's examples are split and sampled (the CLI's --limit-train / --limit-test).
#[derive(Clone, Debug)]
pub struct Split {
    /// The fraction of the training data held out for validation.
    pub validation_fraction: f32,
    pub limit_train: Option<usize>,
    pub limit_test: Option<usize>,
    pub seed: u64,
}

/// A job's data from its tables: `all` (read from `data`) split into training and validation,
/// seeded; `test` (with where it came from) relabelled to `all`'s classes; both sampled when
/// limited. The CLI reads the files, a browser hands over their text: the split is the same.
pub fn split_data(all: Dataset, data: &Path, test: Option<(Dataset, PathBuf)>, split: &Split) -> Result<JobData> {
    let classes = all.classes.clone();
    for (c, n) in classes.iter().zip(all.counts()) {
        if n == 0 {
            bail!("{}: class {c:?} has no examples", data.display());
        }
    }
    let mut notices = all.notices.clone();
    let seed = split.seed;
    let (mut train, mut validation) = sample::train_validation_split(all, split.validation_fraction, seed);
    if let Some(n) = split.limit_train {
        train = sample::balanced_sample(&train, n, seed);
        let n_val =
            ((n as f64) * split.validation_fraction as f64 / (1.0 - split.validation_fraction as f64)).round() as usize;
        validation = sample::balanced_sample(&validation, n_val.max(1), seed);
    }
    let test = match test {
        Some((t, p)) => {
            notices.extend(t.notices.iter().cloned());
            let t = align_classes(t, &classes, &p)?;
            Some(match split.limit_test {
                Some(n) => sample::balanced_sample(&t, n, seed),
                None => t,
            })
        }
        None => None,
    };
    notices.dedup();
    Ok(JobData { classes, train, validation, test, notices })
}
