//! `wgbert._wgbert`: the engine's Python face (PyO3, abi3). A thin layer over the library's one
//! path (`wgbert::infer`, `wgbert::train::job`): no engine code lives here, only conversions —
//! Python values in, numpy arrays out, engine errors as Python exceptions (`errors`), and the
//! GIL released around every piece of GPU work. `python/wgbert/__init__.py` wraps these
//! classes with docstrings and defaults; `_wgbert.pyi` types them.

mod errors;
mod gpu;
mod models;
mod train;

use pyo3::prelude::*;

#[pymodule]
fn _wgbert(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(gpu::adapters, m)?)?;
    m.add_function(wrap_pyfunction!(train::train, m)?)?;
    m.add_class::<models::Encoder>()?;
    m.add_class::<models::Classifier>()?;
    Ok(())
}
