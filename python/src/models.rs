//! `Encoder` and `Classifier`: a model loaded once, then called from any Python thread. Each
//! call converts its texts, releases the GIL, runs the library's inference path (the one
//! `wgbert embed` and `wgbert predict` run) and returns numpy arrays.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use numpy::ndarray::Array2;
use numpy::{IntoPyArray, PyArray1, PyArray2};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString, PyTuple};
use wgbert::gpu::Gpu;
use wgbert::infer::{self, Inputs};
use wgbert::model::Pooling;

use crate::errors::to_py;
use crate::gpu::open;

/// A list of texts, or a list of (text, pair) tuples (sentence pairs, encoded
/// `[CLS] a [SEP] b [SEP]`).
pub enum Texts {
    Single(Vec<String>),
    Pairs(Vec<(String, String)>),
}

impl Texts {
    fn extract(texts: &Bound<'_, PyAny>) -> PyResult<Texts> {
        if texts.is_instance_of::<PyString>() {
            return Err(PyValueError::new_err("texts is one string: give a list of texts (or of (text, pair) tuples)"));
        }
        let (mut single, mut pairs) = (Vec::new(), Vec::new());
        for (i, item) in texts.try_iter()?.enumerate() {
            let item = item?;
            if let Ok(s) = item.extract::<String>() {
                single.push(s);
            } else if item.is_instance_of::<PyTuple>() || item.is_instance_of::<PyList>() {
                let pair: (String, String) = item.extract().map_err(|_| {
                    PyValueError::new_err(format!("texts[{i}] is a sequence but not two strings (a text and its pair)"))
                })?;
                pairs.push(pair);
            } else {
                return Err(PyValueError::new_err(format!(
                    "texts[{i}] is a {}, not a string or a (text, pair) tuple",
                    item.get_type().name()?
                )));
            }
            if !single.is_empty() && !pairs.is_empty() {
                return Err(PyValueError::new_err(format!(
                    "texts[{i}]: texts mix single strings and (text, pair) tuples; give one kind"
                )));
            }
        }
        Ok(if pairs.is_empty() { Texts::Single(single) } else { Texts::Pairs(pairs) })
    }

    fn inputs(&self) -> Inputs<'_> {
        match self {
            Texts::Single(t) => Inputs::Texts(t),
            Texts::Pairs(p) => Inputs::Pairs(p),
        }
    }
}

/// The model, one caller at a time: the GPU work of one model is one queue anyway, and this
/// keeps its buffers from being shared by two batches.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn parse_pool(pool: &str) -> PyResult<Pooling> {
    serde_json::from_value(serde_json::Value::String(pool.to_ascii_lowercase()))
        .map_err(|_| PyValueError::new_err(format!("pool={pool:?}: choose \"cls\", \"pooler\" or \"mean\"")))
}

fn pool_name(p: Pooling) -> String {
    serde_json::to_value(p).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

/// An encoder: texts to vectors (`wgbert embed`).
#[pyclass(module = "wgbert._wgbert")]
pub struct Encoder {
    gpu: Arc<Gpu>,
    inner: Mutex<infer::Encoder>,
    #[pyo3(get)]
    pool: String,
    #[pyo3(get)]
    max_len: usize,
    #[pyo3(get)]
    batch_size: usize,
    #[pyo3(get)]
    normalizes: bool,
    #[pyo3(get)]
    hidden_size: usize,
    #[pyo3(get)]
    model_dir: PathBuf,
}

/// "mixed" (f16 products, `infer::run_half`) or "f32"; anything else is a ValueError.
fn is_mixed(precision: &str) -> PyResult<bool> {
    match precision {
        "f32" => Ok(false),
        "mixed" => Ok(true),
        other => Err(PyValueError::new_err(format!("precision must be \"f32\" or \"mixed\", not {other:?}"))),
    }
}

#[pymethods]
impl Encoder {
    #[new]
    #[pyo3(signature = (model_dir, pool=None, max_len=None, batch_size=32, backend=None, adapter=None, precision="f32"))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        model_dir: PathBuf,
        pool: Option<String>,
        max_len: Option<usize>,
        batch_size: usize,
        backend: Option<String>,
        adapter: Option<String>,
        precision: &str,
    ) -> PyResult<Encoder> {
        let pool = pool.as_deref().map(parse_pool).transpose()?;
        let half = is_mixed(precision)?;
        if batch_size == 0 {
            return Err(PyValueError::new_err("batch_size must be at least 1"));
        }
        py.detach(|| {
            let gpu = open(backend, adapter)?;
            let mut e = infer::Encoder::load(&gpu, &model_dir).map_err(to_py)?;
            if half {
                infer::run_half(&gpu, &mut e.model).map_err(|x| to_py(x.into()))?;
            }
            let max_len = infer::embed_max_len(&e.model.config, max_len).map_err(to_py)?;
            let pool = pool.unwrap_or(e.pooling);
            e.check_pooling(pool).map_err(to_py)?;
            Ok(Encoder {
                pool: pool_name(pool),
                max_len,
                batch_size,
                normalizes: e.normalize,
                hidden_size: e.model.config.hidden_size,
                model_dir: e.dir.clone(),
                inner: Mutex::new(e),
                gpu,
            })
        })
    }

    /// (n, hidden) float32.
    #[pyo3(signature = (texts, normalize=false))]
    fn embed<'py>(
        &self,
        py: Python<'py>,
        texts: &Bound<'py, PyAny>,
        normalize: bool,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let texts = Texts::extract(texts)?;
        let pool = parse_pool(&self.pool)?;
        let vectors = py.detach(|| {
            let e = lock(&self.inner);
            let mut v =
                infer::embed(&self.gpu, &e.model, &e.tokenizer, texts.inputs(), self.max_len, pool, self.batch_size)
                    .map_err(|err| to_py(err.into()))?;
            if normalize {
                infer::normalize(&mut v);
            }
            Ok::<_, PyErr>(v)
        })?;
        let n = vectors.len();
        let flat: Vec<f32> = vectors.into_iter().flatten().collect();
        let array =
            Array2::from_shape_vec((n, self.hidden_size), flat).map_err(|e| PyValueError::new_err(e.to_string()))?;
        Ok(array.into_pyarray(py))
    }

    fn __repr__(&self) -> String {
        format!("Encoder({:?}, pool={:?}, max_len={})", self.model_dir.display().to_string(), self.pool, self.max_len)
    }
}

/// A classifier: texts to classes, scores and probabilities (`wgbert predict`).
#[pyclass(module = "wgbert._wgbert")]
pub struct Classifier {
    gpu: Arc<Gpu>,
    inner: Mutex<infer::Classifier>,
    /// Class names, index = class id.
    #[pyo3(get)]
    labels: Vec<String>,
    #[pyo3(get)]
    text_pairs: bool,
    #[pyo3(get)]
    max_len: usize,
    #[pyo3(get)]
    batch_size: usize,
    #[pyo3(get)]
    model_dir: PathBuf,
    /// What the engine would print as a notice (a max_len clamped to the model's).
    #[pyo3(get)]
    notice: Option<String>,
}

type Scored<'py> = (Bound<'py, PyArray1<i64>>, Bound<'py, PyArray1<f32>>, Bound<'py, PyArray2<f32>>);

#[pymethods]
impl Classifier {
    #[new]
    #[pyo3(signature = (path, max_len=128, batch_size=32, backend=None, adapter=None, precision="f32"))]
    fn new(
        py: Python<'_>,
        path: PathBuf,
        max_len: usize,
        batch_size: usize,
        backend: Option<String>,
        adapter: Option<String>,
        precision: &str,
    ) -> PyResult<Classifier> {
        let half = is_mixed(precision)?;
        if batch_size == 0 {
            return Err(PyValueError::new_err("batch_size must be at least 1"));
        }
        py.detach(|| {
            let gpu = open(backend, adapter)?;
            let mut c = infer::Classifier::load(&gpu, &path).map_err(to_py)?;
            if half {
                infer::run_half(&gpu, &mut c.model).map_err(|x| to_py(x.into()))?;
            }
            let (max_len, notice) = infer::max_len_for(&c.model.config, max_len);
            if max_len < 2 {
                return Err(PyValueError::new_err(format!(
                    "max_len {max_len} leaves no room for a token between [CLS] and [SEP]"
                )));
            }
            Ok(Classifier {
                labels: c.classes.clone(),
                text_pairs: c.model.text_pairs,
                max_len,
                batch_size,
                model_dir: c.dir.clone(),
                notice,
                inner: Mutex::new(c),
                gpu,
            })
        })
    }

    /// (class ids (n,) int64, scores of those classes (n,) float32, every class's probability
    /// (n, classes) float32), in the order of `texts`.
    fn predict<'py>(&self, py: Python<'py>, texts: &Bound<'py, PyAny>) -> PyResult<Scored<'py>> {
        let texts = Texts::extract(texts)?;
        match (&texts, self.text_pairs) {
            (Texts::Single(t), true) if !t.is_empty() => return Err(PyValueError::new_err(
                "this model reads sentence pairs (it was trained with --text-pair-column): give (text, pair) tuples",
            )),
            (Texts::Pairs(_), false) => {
                return Err(PyValueError::new_err("this model reads single texts, not pairs: give strings, not tuples"))
            }
            _ => {}
        }
        let (logits, k) = py.detach(|| {
            let c = lock(&self.inner);
            let enc = texts.inputs().encode(&c.tokenizer, self.max_len);
            let z = infer::logits(&self.gpu, &c.model, &enc, c.tokenizer.pad_id(), self.batch_size, |_| {})
                .map_err(to_py)?;
            Ok::<_, PyErr>((z, c.model.num_labels))
        })?;
        let predictions = infer::predictions(&logits, k);
        let probabilities = infer::probabilities(&logits, k);
        let n = predictions.len();
        let ids: Vec<i64> = predictions.iter().map(|p| p.0 as i64).collect();
        let scores: Vec<f32> = predictions.iter().map(|p| p.1).collect();
        let width = self.labels.len();
        let flat: Vec<f32> = probabilities.into_iter().flatten().collect();
        let probs = Array2::from_shape_vec((n, width), flat).map_err(|e| PyValueError::new_err(e.to_string()))?;
        Ok((ids.into_pyarray(py), scores.into_pyarray(py), probs.into_pyarray(py)))
    }

    fn __repr__(&self) -> String {
        format!("Classifier({:?}, labels={:?})", self.model_dir.display().to_string(), self.labels)
    }
}
