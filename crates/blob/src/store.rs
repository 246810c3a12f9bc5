//! [`BlobStore`] over any `object_store` backend, encrypting before the backend sees a byte.

use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use veriframe_core::blob::{BlobError, BlobKey, BlobListing, BlobStore};

use crate::envelope::{self, SealError};
use crate::master_key::Keyring;

/// Where the ciphertext goes; decides what `ping` can check.
#[derive(Debug, Clone)]
pub(crate) enum Backend {
    Local(PathBuf),
    Memory,
    /// Whatever [`EncryptedStore::over`] was given.
    Other,
    #[cfg_attr(not(feature = "s3"), allow(dead_code))]
    S3,
}

/// Encrypted blob storage: every object is sealed with [`envelope`](crate#byte-format) encryption
/// before it is handed to the backend, and authenticated when it is read back, so plaintext never
/// reaches the disk or the bucket.
pub struct EncryptedStore {
    inner: Arc<dyn ObjectStore>,
    keyring: Arc<Keyring>,
    backend: Backend,
}

impl std::fmt::Debug for EncryptedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncryptedStore").field("backend", &self.backend).field("keyring", &self.keyring).finish()
    }
}

impl EncryptedStore {
    /// Objects as files under `root` (created if missing). Each write is fsynced, file and
    /// directory, before `put` returns: an accepted upload survives a crash or power loss, as it
    /// would on S3.
    pub fn local(root: &FsPath, keyring: Keyring) -> Result<Self, BlobError> {
        std::fs::create_dir_all(root)
            .map_err(|e| BlobError::Unavailable(format!("cannot create blob directory {}: {e}", root.display())))?;
        let store = LocalFileSystem::new_with_prefix(root)
            .map_err(|e| BlobError::Unavailable(format!("blob directory {}: {e}", root.display())))?
            .with_automatic_cleanup(true)
            .with_fsync(true);
        Ok(Self::with_backend(Arc::new(store), keyring, Backend::Local(root.to_owned())))
    }

    /// Objects in this process's memory, lost on exit: for tests.
    pub fn in_memory(keyring: Keyring) -> Self {
        Self::with_backend(Arc::new(InMemory::new()), keyring, Backend::Memory)
    }

    /// Over any `object_store` backend (the store sees only ciphertext). Tests use this to reach
    /// the raw objects behind the encryption.
    pub fn over(inner: Arc<dyn ObjectStore>, keyring: Keyring) -> Self {
        Self::with_backend(inner, keyring, Backend::Other)
    }

    pub(crate) fn with_backend(inner: Arc<dyn ObjectStore>, keyring: Keyring, backend: Backend) -> Self {
        Self { inner, keyring: Arc::new(keyring), backend }
    }

    /// The object path for a key. [`BlobKey`] only holds safe relative paths, so this fails only
    /// if that guarantee is ever broken.
    fn path(key: &BlobKey) -> Result<Path, BlobError> {
        Path::parse(key.as_str()).map_err(|e| BlobError::Other(format!("blob key {key} is not an object path: {e}")))
    }
}

fn unavailable(e: object_store::Error) -> BlobError {
    BlobError::Unavailable(e.to_string())
}

/// Runs the CPU-bound cipher work off the async worker threads: sealing 10 MiB takes
/// milliseconds, long enough to stall every other request on that worker.
async fn off_runtime<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, BlobError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| BlobError::Other(format!("encryption task failed: {e}")))
}

#[async_trait]
impl BlobStore for EncryptedStore {
    async fn put(&self, key: &BlobKey, bytes: Vec<u8>) -> Result<(), BlobError> {
        let path = Self::path(key)?;
        let keyring = Arc::clone(&self.keyring);
        let name = key.as_str().to_owned();
        let (header, body) =
            off_runtime(move || envelope::seal(&keyring, &name, bytes)).await?.map_err(|e| match e {
                SealError::Random(_) | SealError::TooLarge => BlobError::Other(e.to_string()),
            })?;
        // Two parts, so the ciphertext is never copied to prepend the header.
        let payload = PutPayload::from_iter([Bytes::copy_from_slice(&header), Bytes::from(body)]);
        self.inner.put(&path, payload).await.map_err(unavailable)?;
        Ok(())
    }

    async fn get(&self, key: &BlobKey) -> Result<Option<Vec<u8>>, BlobError> {
        let path = Self::path(key)?;
        let stored = match self.inner.get(&path).await {
            Ok(result) => result.bytes().await,
            Err(e) => Err(e),
        };
        let stored = match stored {
            Ok(bytes) => Vec::from(bytes),
            // Also when the object vanished between the request and reading its body.
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(unavailable(e)),
        };
        let keyring = Arc::clone(&self.keyring);
        let name = key.as_str().to_owned();
        match off_runtime(move || envelope::open(&keyring, &name, stored)).await? {
            Ok(plaintext) => Ok(Some(plaintext)),
            Err(reason) => {
                tracing::warn!(blob = %key, %reason, "stored blob failed its integrity check");
                Err(BlobError::Integrity(key.to_string()))
            }
        }
    }

    async fn delete(&self, key: &BlobKey) -> Result<(), BlobError> {
        match self.inner.delete(&Self::path(key)?).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<u64, BlobError> {
        // Only a tenant or session prefix: an empty or malformed prefix must never turn a purge
        // of one session into a purge of everything.
        let trimmed = prefix.strip_suffix('/').unwrap_or(prefix);
        if BlobKey::parse(trimmed).is_none() {
            return Err(BlobError::Other(format!("refusing to delete under {prefix:?}: not a blob key prefix")));
        }
        let prefix = Path::parse(trimmed).map_err(|e| BlobError::Other(format!("prefix {trimmed}: {e}")))?;
        let listed = self.inner.list(Some(&prefix)).map_ok(|meta| meta.location).boxed();
        let mut deleted = self.inner.delete_stream(listed);
        let mut count = 0;
        while let Some(result) = deleted.next().await {
            match result {
                Ok(_) => count += 1,
                // Deleted by someone else meanwhile: the goal is reached all the same.
                Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(unavailable(e)),
            }
        }
        Ok(count)
    }

    async fn list(&self, prefix: &str) -> Result<Vec<BlobListing>, BlobError> {
        let trimmed = prefix.trim_end_matches('/');
        let prefix = (!trimmed.is_empty())
            .then(|| Path::parse(trimmed).map_err(|e| BlobError::Other(format!("prefix {trimmed}: {e}"))))
            .transpose()?;
        let mut listed = self.inner.list(prefix.as_ref());
        let mut out = Vec::new();
        while let Some(meta) = listed.next().await {
            let meta = match meta {
                Ok(meta) => meta,
                Err(object_store::Error::NotFound { .. }) => continue,
                Err(e) => return Err(unavailable(e)),
            };
            if let Some(key) = BlobKey::parse(meta.location.as_ref()) {
                let modified = time::OffsetDateTime::from_unix_timestamp_nanos(
                    meta.last_modified.timestamp_nanos_opt().map_or(0, i128::from),
                )
                .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
                out.push(BlobListing { key, modified });
            }
        }
        Ok(out)
    }

    async fn ping(&self) -> Result<(), BlobError> {
        match &self.backend {
            // A missing root would otherwise look like an empty store.
            Backend::Local(root) => match tokio::fs::metadata(root).await {
                Ok(meta) if meta.is_dir() => Ok(()),
                Ok(_) => Err(BlobError::Unavailable(format!("{} is not a directory", root.display()))),
                Err(e) => Err(BlobError::Unavailable(format!("blob directory {}: {e}", root.display()))),
            },
            // A listing, not a HEAD: S3 answers HEAD on a missing bucket with a bodiless 404
            // that reads like a missing object.
            Backend::Memory | Backend::Other | Backend::S3 => {
                self.inner.list_with_delimiter(Some(&Path::from("ping"))).await.map(drop).map_err(unavailable)
            }
        }
    }

    fn backend(&self) -> &'static str {
        match self.backend {
            Backend::Local(_) => "local",
            Backend::Memory => "memory",
            Backend::Other => "object_store",
            Backend::S3 => "s3",
        }
    }
}
