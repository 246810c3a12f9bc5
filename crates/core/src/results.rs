//! Reading results: scores, what was read from the document, and images. Personal data comes
//! out of the encrypted blob store only here, for a caller that holds a [`SessionAccess`].

use std::sync::Arc;

use crate::auth::SessionAccess;
use crate::blob::{BlobKey, BlobStore, DocumentVault};
use crate::capture::blob_error;
use crate::image_name::ImageName;
use crate::ports::Store;
use crate::scores::{Scores, score_session};
use crate::service::{Onboarding, ServiceResult};
use crate::verification::{DocumentData, DocumentFindings};

/// Largest total of images one call returns (Incode's limit).
pub const MAX_IMAGES_BYTES: usize = 10 * 1024 * 1024;

/// Result reads.
#[derive(Clone)]
pub struct Results {
    onboarding: Onboarding,
    blobs: Arc<dyn BlobStore>,
    documents: Arc<dyn DocumentVault>,
}

impl std::fmt::Debug for Results {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Results").finish_non_exhaustive()
    }
}

/// Too many bytes asked for at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLarge;

impl Results {
    pub fn new(onboarding: Onboarding, blobs: Arc<dyn BlobStore>, documents: Arc<dyn DocumentVault>) -> Self {
        Self { onboarding, blobs, documents }
    }

    fn store(&self) -> &Arc<dyn Store> {
        self.onboarding.store()
    }

    async fn document_data_of(&self, key: Option<&BlobKey>) -> ServiceResult<Option<DocumentData>> {
        let Some(key) = key else { return Ok(None) };
        self.documents.get(key).await.map_err(blob_error)
    }

    /// The session's scores: as finalised, or — before that — as the findings stand now.
    pub async fn scores(&self, access: &SessionAccess) -> ServiceResult<Scores> {
        let (session, flow) = self.onboarding.session_and_flow(access).await?;
        let results = self.store().results(session.tenant_id, session.id).await?;
        if let Some(scores) = results.scores {
            return Ok(scores);
        }
        let data = self.document_data_of(results.document_data.as_ref()).await?;
        Ok(score_session(&session.custom_fields, &flow, &results, data.as_ref()))
    }

    /// What was read from the document, with the findings it came with; `None` before the
    /// document was processed.
    pub async fn document(
        &self,
        access: &SessionAccess,
    ) -> ServiceResult<Option<(DocumentFindings, Option<DocumentData>)>> {
        let session = self.onboarding.session(access).await?;
        let results = self.store().results(session.tenant_id, session.id).await?;
        let Some(findings) = results.document else { return Ok(None) };
        let data = self.document_data_of(results.document_data.as_ref()).await?;
        Ok(Some((findings, data)))
    }

    /// The latest image of each requested name that exists, decrypted. Names are checked by
    /// the caller; unknown ones simply find nothing.
    pub async fn images(
        &self,
        access: &SessionAccess,
        names: &[ImageName],
    ) -> ServiceResult<Result<Vec<(String, Vec<u8>)>, TooLarge>> {
        let session = self.onboarding.session(access).await?;
        let stored = self.store().images(session.tenant_id, session.id).await?;
        let mut out = Vec::new();
        let mut total = 0usize;
        for (name, key) in stored {
            if !names.iter().any(|n| n.as_str() == name) {
                continue;
            }
            let Some(bytes) = self.blobs.get(&key).await.map_err(blob_error)? else { continue };
            // Base64 grows the payload by a third; the limit applies to what is sent.
            total += bytes.len().div_ceil(3) * 4;
            if total > MAX_IMAGES_BYTES {
                return Ok(Err(TooLarge));
            }
            out.push((name, bytes));
        }
        Ok(Ok(out))
    }
}
