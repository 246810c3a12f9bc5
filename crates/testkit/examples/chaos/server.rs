//! The server under test: `veriframe serve` as a child process that the harness SIGKILLs and
//! restarts, with its peak memory read from /proc.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};

use anyhow::Context;
use serde_json::Value;

/// Jobs whose worker died are claimed again after this long.
pub const LEASE_SECONDS: u64 = 10;

pub struct Server {
    pub binary: PathBuf,
    pub data_dir: PathBuf,
    pub config: PathBuf,
    pub database_url: Option<String>,
    /// The server process as it is now; replaced on every restart.
    pub running: Mutex<Option<Child>>,
    pub base: RwLock<String>,
    pub peak_rss_kib: AtomicU64,
}

impl Server {
    /// Starts `veriframe serve` and waits for its banner.
    pub fn start(&self) -> anyhow::Result<Value> {
        let mut command = Command::new(&self.binary);
        command
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--config")
            .arg(&self.config)
            .args(["--json", "serve", "--listen", "127.0.0.1:0"])
            .env_remove("RUST_LOG")
            .env("VERIFRAME_MODELS_DIR", veriframe_testkit::models_dir())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(
                std::fs::OpenOptions::new().create(true).append(true).open(self.data_dir.join("server.log"))?,
            ));
        match &self.database_url {
            Some(url) => command.env("VERIFRAME_DATABASE_URL", url),
            None => command.env_remove("VERIFRAME_DATABASE_URL"),
        };
        if let Some(pad) = veriframe_testkit::pad_models_dir() {
            command.env("VERIFRAME_PAD_MODELS_DIR", pad);
        }
        let mut child = command.spawn().with_context(|| format!("starting {}", self.binary.display()))?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().context("stdout")?).read_line(&mut line)?;
        let banner: Value =
            serde_json::from_str(&line).with_context(|| format!("server banner {line:?}; see server.log"))?;
        let base = banner["baseUrl"].as_str().context("baseUrl")?.trim_end_matches('/').to_owned();
        *self.base.write().expect("base") = base;
        *self.running.lock().expect("running") = Some(child);
        Ok(banner)
    }

    /// SIGKILL: no shutdown hook, no flush.
    pub fn kill(&self) {
        if let Some(mut child) = self.running.lock().expect("running").take() {
            self.sample_rss(child.id());
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn pid(&self) -> Option<u32> {
        self.running.lock().expect("running").as_ref().map(Child::id)
    }

    pub fn base(&self) -> String {
        self.base.read().expect("base").clone()
    }

    /// The process's high-water mark of resident memory (it covers the whole life of the process).
    pub fn sample_rss(&self, pid: u32) {
        let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else { return };
        let hwm = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
        if let Some(kib) = hwm {
            self.peak_rss_kib.fetch_max(kib, Ordering::Relaxed);
        }
    }
}

pub fn config_file(dir: &Path) -> anyhow::Result<PathBuf> {
    let path = dir.join("chaos.toml");
    // The harness is the reverse proxy: each person and each attacker has an address of its own.
    std::fs::write(&path, format!("trusted_proxies = [\"127.0.0.1\"]\njob_lease_seconds = {LEASE_SECONDS}\n"))?;
    Ok(path)
}
