//! Encrypted blob storage for veriframe: captured images and extracted personal data, stored on
//! the local filesystem or in an S3-compatible bucket through `object_store`, always encrypted
//! before they leave the process.
//!
//! Each object is envelope-encrypted with AES-256-GCM: a fresh data key per object, wrapped by
//! a master key that lives in a file outside the database (see [`MasterKey`]). The object key is
//! authenticated, so a blob moved to another key does not decrypt. The byte format is documented
//! in the `envelope` module and summarised here.
//!
//! # Byte format
//!
//! | offset | length | field |
//! |---|---|---|
//! | 0 | 4 | magic `VFBL` |
//! | 4 | 1 | format version `1` |
//! | 5 | 8 | master key id ([`KeyId`]) |
//! | 13 | 12 | nonce that wraps the data key |
//! | 25 | 48 | data key encrypted under the master key (32) and its GCM tag (16) |
//! | 73 | 12 | content nonce |
//! | 85 | n | content encrypted under the data key |
//! | 85 + n | 16 | content GCM tag |
//!
//! Associated data: bytes 0..13 and the object key for the wrapped data key; bytes 0..85 and the
//! object key for the content.
#![forbid(unsafe_code)]

use std::sync::Arc;

use veriframe_core::blob::{BlobError, BlobStore};

mod envelope;
mod location;
mod master_key;
#[cfg(feature = "s3")]
mod s3;
mod store;

pub use location::{BlobLocation, InvalidBlobUrl, S3Credentials, S3Settings};
pub use master_key::{KEY_ID_LEN, KeyId, Keyring, MASTER_KEY_LEN, MasterKey, MasterKeyError};
pub use object_store;
pub use store::EncryptedStore;

/// Opens the configured backend, encrypting with `keyring`. The composition root's single entry
/// point; nothing here reads configuration itself except S3's standard `AWS_*` variables.
pub fn open_blob_store(location: &BlobLocation, keyring: Keyring) -> Result<Arc<dyn BlobStore>, BlobError> {
    match location {
        BlobLocation::Local(root) => Ok(Arc::new(EncryptedStore::local(root, keyring)?)),
        #[cfg(feature = "s3")]
        BlobLocation::S3(settings) => {
            Ok(Arc::new(EncryptedStore::with_backend(s3::open(settings)?, keyring, store::Backend::S3)))
        }
        #[cfg(not(feature = "s3"))]
        BlobLocation::S3(_) => Err(BlobError::Other("this build has no S3 support (feature `s3`)".into())),
    }
}
