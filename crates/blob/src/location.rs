//! Where blobs live, parsed from one configuration string (`blob_url`).

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// A configured blob backend.
///
/// Parsed from:
/// - `file:///var/lib/veriframe/blobs`, or a plain path (`./veriframe-data/blobs`): a directory;
/// - `s3://bucket`, `s3://bucket/some/prefix`, optionally with `?endpoint=http://127.0.0.1:9000`
///   and/or `&region=eu-west-1` for S3-compatible servers (MinIO, Ceph, Garage, moto). Credentials
///   never go in the URL: they come from the standard AWS environment (`AWS_ACCESS_KEY_ID`,
///   `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, instance or container roles) or from
///   [`S3Settings::credentials`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobLocation {
    Local(PathBuf),
    S3(S3Settings),
}

/// An S3-compatible bucket. Unset fields fall back to the standard `AWS_*` environment variables
/// (read by `object_store`'s `AmazonS3Builder::from_env`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct S3Settings {
    pub bucket: String,
    /// Key prefix inside the bucket, without leading or trailing `/`, so one bucket can hold
    /// several deployments.
    pub prefix: Option<String>,
    /// For S3-compatible servers, e.g. `http://127.0.0.1:9000`. An `http://` endpoint allows
    /// plain HTTP; path-style requests are used.
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub credentials: Option<S3Credentials>,
}

/// Static S3 credentials. `Debug` hides the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl fmt::Debug for S3Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"***")
            .finish()
    }
}

/// A `blob_url` that cannot be used. The URL itself is not repeated, in case it holds a secret.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid blob_url: {0}")]
pub struct InvalidBlobUrl(String);

impl FromStr for BlobLocation {
    type Err = InvalidBlobUrl;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |reason: &str| InvalidBlobUrl(reason.to_owned());
        let s = s.trim();
        if s.is_empty() {
            return Err(bad("empty"));
        }
        if !s.contains("://") {
            return Ok(Self::Local(PathBuf::from(s)));
        }
        let url = url::Url::parse(s).map_err(|e| InvalidBlobUrl(e.to_string()))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad("credentials do not belong in the URL; use AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"));
        }
        if url.fragment().is_some() {
            return Err(bad("a fragment (#...) has no meaning here"));
        }
        match url.scheme() {
            "file" => {
                if url.query().is_some() {
                    return Err(bad("file URLs take no query"));
                }
                if url.host_str().is_some_and(|h| !h.is_empty() && h != "localhost") {
                    return Err(bad("file URLs name a local directory: file:///absolute/path"));
                }
                let path = url.to_file_path().map_err(|()| bad("file URLs need an absolute path"))?;
                Ok(Self::Local(path))
            }
            "s3" => {
                let bucket = url.host_str().filter(|b| !b.is_empty()).ok_or_else(|| bad("s3 URLs name a bucket"))?;
                let prefix = url.path().trim_matches('/');
                let mut settings = S3Settings {
                    bucket: bucket.to_owned(),
                    prefix: (!prefix.is_empty()).then(|| prefix.to_owned()),
                    ..S3Settings::default()
                };
                for (name, value) in url.query_pairs() {
                    match &*name {
                        "endpoint" if settings.endpoint.is_none() => settings.endpoint = Some(value.into_owned()),
                        "region" if settings.region.is_none() => settings.region = Some(value.into_owned()),
                        _ => {
                            return Err(InvalidBlobUrl(format!(
                                "unknown or repeated query parameter {name:?} (known: endpoint, region)"
                            )));
                        }
                    }
                }
                Ok(Self::S3(settings))
            }
            other => Err(InvalidBlobUrl(format!("unsupported scheme {other:?} (use file:// or s3://)"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_local_and_s3_locations() {
        assert_eq!("/var/lib/vf/blobs".parse(), Ok(BlobLocation::Local("/var/lib/vf/blobs".into())));
        assert_eq!("./data/blobs".parse(), Ok(BlobLocation::Local("./data/blobs".into())));
        assert_eq!("file:///var/lib/vf/blobs".parse(), Ok(BlobLocation::Local("/var/lib/vf/blobs".into())));
        assert_eq!(
            "s3://images".parse(),
            Ok(BlobLocation::S3(S3Settings { bucket: "images".into(), ..S3Settings::default() }))
        );
        assert_eq!(
            "s3://images/prod/eu/?endpoint=http://127.0.0.1:9000&region=eu-west-1".parse(),
            Ok(BlobLocation::S3(S3Settings {
                bucket: "images".into(),
                prefix: Some("prod/eu".into()),
                endpoint: Some("http://127.0.0.1:9000".into()),
                region: Some("eu-west-1".into()),
                credentials: None,
            }))
        );
    }

    #[test]
    fn rejects_what_it_cannot_honour() {
        for bad in [
            "",
            "  ",
            "gs://bucket",
            "s3://",
            "s3://key:secret@bucket",
            "s3://bucket?endpont=x",
            "s3://bucket?region=a&region=b",
            "file://host/dir",
            "file:///dir?x=1",
        ] {
            assert!(bad.parse::<BlobLocation>().is_err(), "{bad}");
        }
        let err = "s3://key:secret@bucket".parse::<BlobLocation>().unwrap_err();
        assert!(!err.to_string().contains("secret@"), "{err}");
    }

    #[test]
    fn debug_hides_the_secret_key() {
        let creds = S3Credentials { access_key_id: "AKIDEXAMPLE".into(), secret_access_key: "wJalrXUtnFEMI".into() };
        let shown = format!("{creds:?}");
        assert!(shown.contains("AKIDEXAMPLE") && !shown.contains("wJalr"), "{shown}");
    }
}
