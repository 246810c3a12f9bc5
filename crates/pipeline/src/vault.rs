//! What was read from a document, kept as JSON inside an encrypted blob: the pipeline writes it
//! after reading the MRZ and reads it to score; the partner API reads it through core's
//! [`DocumentVault`] port.

use std::sync::Arc;

use async_trait::async_trait;
use veriframe_core::blob::{BlobError, BlobKey, BlobStore, DocumentVault};
use veriframe_core::verification::DocumentData;

/// [`DocumentVault`] over the blob store, one JSON document per session.
#[derive(Clone)]
pub struct JsonDocumentVault {
    blobs: Arc<dyn BlobStore>,
}

impl JsonDocumentVault {
    pub fn new(blobs: Arc<dyn BlobStore>) -> Self {
        Self { blobs }
    }
}

impl std::fmt::Debug for JsonDocumentVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonDocumentVault").field("backend", &self.blobs.backend()).finish()
    }
}

#[async_trait]
impl DocumentVault for JsonDocumentVault {
    async fn put(&self, key: &BlobKey, data: &DocumentData) -> Result<(), BlobError> {
        let json = serde_json::to_vec(data).map_err(|e| BlobError::Other(format!("document data: {e}")))?;
        self.blobs.put(key, json).await
    }

    async fn get(&self, key: &BlobKey) -> Result<Option<DocumentData>, BlobError> {
        let Some(bytes) = self.blobs.get(key).await? else { return Ok(None) };
        serde_json::from_slice(&bytes).map(Some).map_err(|e| BlobError::Other(format!("stored document data: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use time::OffsetDateTime;
    use veriframe_core::blob::BlobListing;
    use veriframe_core::ids::{InterviewId, TenantId};

    use super::*;

    /// Plain bytes in memory: the vault's encoding is what is under test, not encryption.
    #[derive(Default)]
    struct Memory(Mutex<HashMap<String, Vec<u8>>>);

    #[async_trait]
    impl BlobStore for Memory {
        async fn put(&self, key: &BlobKey, bytes: Vec<u8>) -> Result<(), BlobError> {
            self.0.lock().unwrap().insert(key.to_string(), bytes);
            Ok(())
        }
        async fn get(&self, key: &BlobKey) -> Result<Option<Vec<u8>>, BlobError> {
            Ok(self.0.lock().unwrap().get(&key.to_string()).cloned())
        }
        async fn delete(&self, key: &BlobKey) -> Result<(), BlobError> {
            self.0.lock().unwrap().remove(&key.to_string());
            Ok(())
        }
        async fn delete_prefix(&self, _prefix: &str) -> Result<u64, BlobError> {
            Ok(0)
        }
        async fn list(&self, _prefix: &str) -> Result<Vec<BlobListing>, BlobError> {
            Ok(Vec::new())
        }
        async fn ping(&self) -> Result<(), BlobError> {
            Ok(())
        }
        fn backend(&self) -> &'static str {
            "memory"
        }
    }

    #[tokio::test]
    async fn round_trips_and_refuses_what_is_not_document_data() {
        let blobs = Arc::new(Memory::default());
        let vault = JsonDocumentVault::new(blobs.clone());
        let now = OffsetDateTime::now_utc();
        let key = BlobKey::for_session(TenantId::generate(now), InterviewId::generate(now), "document-data");
        assert_eq!(vault.get(&key).await.unwrap(), None);
        let data = DocumentData { surname: "ERIKSSON".into(), given_names: "ANNA MARIA".into(), ..Default::default() };
        vault.put(&key, &data).await.unwrap();
        assert_eq!(vault.get(&key).await.unwrap(), Some(data));
        blobs.put(&key, b"\xff not json".to_vec()).await.unwrap();
        let err = vault.get(&key).await.unwrap_err();
        assert!(matches!(&err, BlobError::Other(m) if m.starts_with("stored document data")), "{err}");
    }
}
