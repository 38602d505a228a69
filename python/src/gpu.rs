//! Adapters and devices: `wgbert.adapters()` lists what `wgbert info` lists, and every model
//! opened on the same (backend, adapter) shares one device, so that its compiled pipelines and
//! buffer pool serve them all (compiling the kernels is most of a model's first call).

use std::sync::{Arc, Mutex};

use pyo3::prelude::*;
use pyo3::types::PyDict;
use wgbert::gpu::{enumerate_adapters, Gpu, GpuOptions};

use crate::errors::{gpu_to_py, to_py};

/// Every adapter of the chosen backend (all backends when None), in the order `adapter=N`
/// indexes them: index, name, backend, device type, driver and PCI bus id ("" where the backend
/// gives none).
#[pyfunction]
#[pyo3(signature = (backend=None))]
pub fn adapters(py: Python<'_>, backend: Option<String>) -> PyResult<Vec<Bound<'_, PyDict>>> {
    let opts = GpuOptions { backend, ..Default::default() };
    let list = py.detach(|| enumerate_adapters(&opts)).map_err(gpu_to_py)?;
    list.into_iter()
        .map(|(_, s)| {
            let d = PyDict::new(py);
            d.set_item("index", s.index)?;
            d.set_item("name", s.name)?;
            d.set_item("backend", s.backend)?;
            d.set_item("device_type", format!("{:?}", s.device_type))?;
            d.set_item("driver", s.driver)?;
            d.set_item("pci_bus_id", s.pci_bus_id)?;
            Ok(d)
        })
        .collect()
}

/// Devices opened so far, by what was asked (backend, adapter, tuning).
type Opened = Vec<((Option<String>, Option<String>, Option<String>), Arc<Gpu>)>;
static OPENED: Mutex<Opened> = Mutex::new(Vec::new());

/// The device for `backend` / `adapter` (the environment's `WGBERT_*` where None), opened once
/// per process. Call without the GIL: opening a device takes a while.
pub fn open(backend: Option<String>, adapter: Option<String>) -> PyResult<Arc<Gpu>> {
    let opts = GpuOptions::given(backend, adapter, None);
    let key = (opts.backend.clone(), opts.adapter.clone(), opts.tune.clone());
    // A panic elsewhere cannot leave this list half-written: a poisoned lock is still usable.
    let mut opened = OPENED.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, gpu)) = opened.iter().find(|(k, _)| *k == key) {
        return Ok(gpu.clone());
    }
    let gpu = Gpu::new(&opts).map_err(|e| to_py(e.into()))?;
    opened.push((key, gpu.clone()));
    Ok(gpu)
}
