//! The BERT encoder, pooler and classification head, written once against the tape:
//! inference is the same code on a tape that does not record.

mod bert;
mod init;
mod pooling;

pub use bert::{BertClassifier, Dropouts, Head, Rows};
pub use init::normal_init;
pub use pooling::Pooling;
