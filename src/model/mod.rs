//! The BERT encoder, pooler and classification head, written once against the tape:
//! inference is the same code on a tape that does not record.

mod bert;
mod embed;
mod init;

pub use bert::{BertClassifier, Dropouts, Rows};
#[cfg(not(target_arch = "wasm32"))]
pub use embed::embed;
pub use embed::{embed_async, EmbedInputs, Pooling};
pub use init::normal_init;
