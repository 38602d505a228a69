//! Our own tensor files (exported models, optimizer state): named f32 tensors in safetensors,
//! written atomically, read back by name exactly as written (no BERT name mapping).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use super::{CheckpointError, HostTensor, Result};

/// Writes `tensors` (f32) with string `metadata` to `path`, atomically.
pub fn save_tensors(path: &Path, tensors: &[(String, HostTensor)], metadata: HashMap<String, String>) -> Result<()> {
    let data = serialize_tensors(path, tensors, metadata)?;
    crate::fsio::write_atomic(path, &data).map_err(|e| super::files::io_error(path, e))
}

/// The bytes `save_tensors` writes (a browser hands them to a download); `path` names them in
/// errors.
pub fn serialize_tensors(
    path: &Path,
    tensors: &[(String, HostTensor)],
    metadata: HashMap<String, String>,
) -> Result<Vec<u8>> {
    let bytes: Vec<Vec<u8>> = tensors.iter().map(|(_, t)| bytemuck::cast_slice::<f32, u8>(&t.data).to_vec()).collect();
    let mut views = Vec::with_capacity(tensors.len());
    for ((name, t), b) in tensors.iter().zip(&bytes) {
        let view = TensorView::new(Dtype::F32, t.shape.clone(), b).map_err(|e| CheckpointError::Malformed {
            file: path.to_path_buf(),
            field: format!("tensor {name}"),
            detail: e.to_string(),
        })?;
        views.push((name.clone(), view));
    }
    safetensors::tensor::serialize(views, Some(metadata)).map_err(|e| CheckpointError::Malformed {
        file: path.to_path_buf(),
        field: "header".into(),
        detail: e.to_string(),
    })
}

/// Reads every f32 tensor of a file written by `save_tensors`, with its metadata.
pub fn load_tensors(path: &Path) -> Result<(BTreeMap<String, HostTensor>, HashMap<String, String>)> {
    let bytes = super::files::read_file(path)?;
    let malformed =
        |detail: String| CheckpointError::Malformed { file: path.to_path_buf(), field: "tensors".into(), detail };
    let (_, meta) = SafeTensors::read_metadata(&bytes).map_err(|e| malformed(e.to_string()))?;
    let st = SafeTensors::deserialize(&bytes).map_err(|e| malformed(e.to_string()))?;
    let mut out = BTreeMap::new();
    for (name, view) in st.tensors() {
        if view.dtype() != Dtype::F32 {
            return Err(malformed(format!("tensor {name} is {:?}, expected F32", view.dtype())));
        }
        let data: Vec<f32> =
            view.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        out.insert(name, HostTensor::new(view.shape().to_vec(), data));
    }
    Ok((out, meta.metadata().clone().unwrap_or_default()))
}
