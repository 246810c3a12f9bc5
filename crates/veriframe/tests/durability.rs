//! A server killed with SIGKILL loses no accepted upload and finishes every job after restart.
//!
//! The first server has no workers, so when it dies every verification job is still pending in
//! the database and every capture exists only in the encrypted blob store; nothing can have been
//! finished in memory. The second server must pick the jobs up and finish the onboarding.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use veriframe_testkit::flow::Page;
use veriframe_testkit::synth::{Holder, frontal, jpeg, passport, photo, subject};

/// `veriframe serve` on an ephemeral port with `workers` verification workers.
fn serve(data_dir: &Path, workers: usize) -> (Child, Value) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_veriframe"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--json", "serve", "--listen", "127.0.0.1:0"])
        .env_remove("VERIFRAME_DATABASE_URL")
        .env_remove("RUST_LOG")
        .env("VERIFRAME_MODELS_DIR", veriframe_testkit::models_dir())
        .env("VERIFRAME_WORKERS", workers.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let banner = serde_json::from_str(&line).unwrap_or_else(|e| panic!("banner {line:?}: {e}"));
    (child, banner)
}

#[test]
fn a_killed_server_finishes_every_accepted_onboarding_after_restart() {
    if veriframe_testkit::engines().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (mut first, banner) = serve(dir.path(), 0);
    let base = banner["baseUrl"].as_str().unwrap().trim_end_matches('/').to_owned();
    let key = banner["demoTenant"]["apiKey"].as_str().unwrap().to_owned();
    let flow = banner["demoTenant"]["configurationId"].as_str().unwrap().to_owned();
    let runtime = tokio::runtime::Runtime::new().unwrap();

    let holder = Holder::valid("LINDQVIST", "SARA");
    let document = jpeg(&passport(&photo("faces/obama_3.jpg"), &holder));
    let face = photo("faces/obama_1.jpg");
    let selfie = jpeg(&frontal(&face).0);

    let session_token = runtime.block_on(async {
        let client = veriframe_client::Client::new(&base).unwrap().with_api_key(&key);
        let started = client
            .start(&veriframe_api_types::StartRequest { configuration_id: Some(flow), ..Default::default() })
            .await
            .unwrap();
        let url = client.session(&started.token).onboarding_url().await.unwrap().url;
        let (page, _) = Page::open(&base, &url).await;
        page.onboard(document.clone(), selfie.clone(), &subject(&face), 5).await;
        let status = client.session(&started.token).status().await.unwrap().onboarding_status;
        assert_ne!(status, "ONBOARDING_FINISHED", "nothing can finish without workers");
        started.token
    });

    // SIGKILL: no shutdown hook, no flush, no chance to finish anything.
    first.kill().unwrap();
    first.wait().unwrap();

    let (mut second, banner) = serve(dir.path(), 1);
    let base = banner["baseUrl"].as_str().unwrap().trim_end_matches('/').to_owned();
    let outcome = runtime.block_on(async {
        let session = veriframe_client::Client::new(&base).unwrap().session(&session_token);
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let status = session.status().await.unwrap().onboarding_status;
            if status == "ONBOARDING_FINISHED" {
                break session.score().await.unwrap();
            }
            assert!(Instant::now() < deadline, "still {status} two minutes after restart");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    });
    second.kill().unwrap();
    second.wait().unwrap();
    assert_eq!(outcome.overall.status, "OK", "{outcome:#?}");
    assert_eq!(outcome.liveness.as_ref().unwrap().overall.status, "OK");
}
