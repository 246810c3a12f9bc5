//! The S3-compatible backend (feature `s3`).

use std::sync::Arc;
use std::time::Duration;

use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{BackoffConfig, ObjectStore, RetryConfig};
use veriframe_core::blob::BlobError;

use crate::location::S3Settings;

/// Builds the S3 client: the standard `AWS_*` environment first, then the explicit settings.
/// Retries are bounded to about 15 s (object_store's default is 3 minutes), because a put runs
/// inside a request that a person is waiting on.
pub(crate) fn open(settings: &S3Settings) -> Result<Arc<dyn ObjectStore>, BlobError> {
    let mut builder = AmazonS3Builder::from_env().with_bucket_name(&settings.bucket).with_retry(RetryConfig {
        backoff: BackoffConfig::default(),
        max_retries: 3,
        retry_timeout: Duration::from_secs(15),
    });
    if let Some(endpoint) = &settings.endpoint {
        builder = builder.with_endpoint(endpoint);
        if endpoint.starts_with("http://") {
            builder = builder.with_allow_http(true);
        }
    }
    if let Some(region) = &settings.region {
        builder = builder.with_region(region);
    }
    if let Some(credentials) = &settings.credentials {
        builder = builder
            .with_access_key_id(&credentials.access_key_id)
            .with_secret_access_key(&credentials.secret_access_key);
    }
    let store = builder.build().map_err(|e| BlobError::Other(format!("S3 configuration: {e}")))?;
    Ok(match &settings.prefix {
        None => Arc::new(store),
        Some(prefix) => {
            let prefix = Path::parse(prefix).map_err(|e| BlobError::Other(format!("S3 key prefix: {e}")))?;
            Arc::new(PrefixStore::new(store, prefix))
        }
    })
}
