//! The backends the scenarios run on, each with raw access to what is stored, beneath the
//! encryption.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use veriframe_blob::object_store::memory::InMemory;
use veriframe_blob::object_store::path::Path;
use veriframe_blob::object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use veriframe_blob::{BlobLocation, EncryptedStore, Keyring, open_blob_store};
use veriframe_core::blob::BlobStore;

#[async_trait]
pub trait Backend: Send + Sync {
    /// A store over this backend's storage, encrypting with `keyring`. Every store made by one
    /// backend sees the same objects.
    fn store(&self, keyring: Keyring) -> Arc<dyn BlobStore>;
    /// The stored bytes, as the backend holds them.
    async fn raw_get(&self, key: &str) -> Option<Vec<u8>>;
    async fn raw_put(&self, key: &str, bytes: Vec<u8>);
    fn name(&self) -> &'static str;
}

pub struct Local {
    pub dir: tempfile::TempDir,
}

impl Local {
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("blobs")
    }
}

pub async fn local() -> Option<Local> {
    Some(Local { dir: tempfile::tempdir().unwrap() })
}

#[async_trait]
impl Backend for Local {
    fn store(&self, keyring: Keyring) -> Arc<dyn BlobStore> {
        open_blob_store(&BlobLocation::Local(self.root()), keyring).unwrap()
    }

    async fn raw_get(&self, key: &str) -> Option<Vec<u8>> {
        std::fs::read(self.root().join(key)).ok()
    }

    async fn raw_put(&self, key: &str, bytes: Vec<u8>) {
        let path = self.root().join(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    fn name(&self) -> &'static str {
        "local"
    }
}

/// A backend reached through `object_store` for the raw side.
pub struct Raw {
    inner: Arc<dyn ObjectStore>,
    open: Box<dyn Fn(Keyring) -> Arc<dyn BlobStore> + Send + Sync>,
    name: &'static str,
}

pub async fn memory() -> Option<Raw> {
    let inner: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let shared = Arc::clone(&inner);
    Some(Raw {
        inner,
        open: Box::new(move |keyring| Arc::new(EncryptedStore::over(Arc::clone(&shared), keyring))),
        name: "object_store",
    })
}

#[cfg(feature = "s3")]
/// The S3-compatible test server: `VERIFRAME_TEST_S3_ENDPOINT` (default `http://127.0.0.1:9000`),
/// bucket `VERIFRAME_TEST_S3_BUCKET` (default `veriframe-test`, created by
/// `scripts/s3-test-server`). Each call gets its own random key prefix in that bucket.
pub async fn s3() -> Option<Raw> {
    use rand::Rng;
    use std::time::Duration;

    let endpoint = std::env::var("VERIFRAME_TEST_S3_ENDPOINT").unwrap_or_else(|_| "http://127.0.0.1:9000".into());
    let bucket = std::env::var("VERIFRAME_TEST_S3_BUCKET").unwrap_or_else(|_| "veriframe-test".into());
    let url = url::Url::parse(&endpoint).expect("VERIFRAME_TEST_S3_ENDPOINT is a URL");
    let addr = format!("{}:{}", url.host_str().unwrap_or("127.0.0.1"), url.port_or_known_default().unwrap_or(80));
    let reachable = tokio::time::timeout(Duration::from_secs(3), tokio::net::TcpStream::connect(&addr)).await;
    if !matches!(reachable, Ok(Ok(_))) {
        assert!(
            !veriframe_synth::testenv::in_ci(),
            "an S3-compatible server is required under CI=true but none answers at {endpoint}; start one with scripts/s3-test-server"
        );
        eprintln!("skipping S3 test: no server at {endpoint} (start one with scripts/s3-test-server)");
        return None;
    }
    let prefix = format!("test-{}", hex::encode(rand::rng().random::<[u8; 8]>()));
    use veriframe_blob::{S3Credentials, S3Settings};
    let settings = S3Settings {
        bucket,
        prefix: Some(prefix.clone()),
        endpoint: Some(endpoint.clone()),
        region: Some("us-east-1".into()),
        credentials: Some(S3Credentials {
            access_key_id: std::env::var("VERIFRAME_TEST_S3_ACCESS_KEY").unwrap_or_else(|_| "veriframe".into()),
            secret_access_key: std::env::var("VERIFRAME_TEST_S3_SECRET_KEY")
                .unwrap_or_else(|_| "veriframe-test-secret".into()),
        }),
    };
    // The raw side: a plain client on the same bucket, outside our prefix handling, so the tests
    // also see that the prefix is applied.
    let raw = veriframe_blob::object_store::aws::AmazonS3Builder::new()
        .with_bucket_name(&settings.bucket)
        .with_endpoint(&endpoint)
        .with_allow_http(true)
        .with_region("us-east-1")
        .with_access_key_id(&settings.credentials.as_ref().unwrap().access_key_id)
        .with_secret_access_key(&settings.credentials.as_ref().unwrap().secret_access_key)
        .build()
        .unwrap();
    let inner: Arc<dyn ObjectStore> =
        Arc::new(veriframe_blob::object_store::prefix::PrefixStore::new(raw, Path::from(prefix.as_str())));
    let location = BlobLocation::S3(settings);
    Some(Raw { inner, open: Box::new(move |keyring| open_blob_store(&location, keyring).unwrap()), name: "s3" })
}

#[async_trait]
impl Backend for Raw {
    fn store(&self, keyring: Keyring) -> Arc<dyn BlobStore> {
        (self.open)(keyring)
    }

    async fn raw_get(&self, key: &str) -> Option<Vec<u8>> {
        match self.inner.get(&Path::from(key)).await {
            Ok(result) => Some(result.bytes().await.unwrap().to_vec()),
            Err(veriframe_blob::object_store::Error::NotFound { .. }) => None,
            Err(e) => panic!("raw get {key}: {e}"),
        }
    }

    async fn raw_put(&self, key: &str, bytes: Vec<u8>) {
        self.inner.put(&Path::from(key), PutPayload::from(bytes)).await.unwrap();
    }

    fn name(&self) -> &'static str {
        self.name
    }
}
