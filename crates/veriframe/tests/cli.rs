//! The binary, as an operator uses it: first start, restart, graceful shutdown, provisioning
//! commands with `--json` and exit codes, and logs that never carry secrets or personal data.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use veriframe_api_types::OnboardingLinkSecret;

fn veriframe(data_dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_veriframe"));
    command.arg("--data-dir").arg(data_dir).env_remove("VERIFRAME_DATABASE_URL").env_remove("RUST_LOG");
    // `serve` loads the models; every test shares the repository's fetched copy instead of
    // fetching its own into a temporary data directory.
    command.env("VERIFRAME_MODELS_DIR", veriframe_testkit::models_dir());
    command
}

fn run_json(data_dir: &Path, args: &[&str]) -> (i32, Value) {
    let output = veriframe(data_dir).arg("--json").args(args).output().unwrap();
    let code = output.status.code().unwrap_or(-1);
    let value = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    (code, value)
}

/// A `veriframe serve` child on an ephemeral port; killed on drop.
struct Server {
    child: Child,
    banner: Value,
}

impl Server {
    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Server {
    fn start(data_dir: &Path, extra_env: &[(&str, &str)]) -> Self {
        let mut command = veriframe(data_dir);
        command.args(["--json", "serve", "--listen", "127.0.0.1:0"]).stdout(Stdio::piped()).stderr(Stdio::piped());
        for (k, v) in extra_env {
            command.env(k, v);
        }
        let mut child = command.spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let banner: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("banner {line:?}: {e}"));
        Self { child, banner }
    }

    fn base(&self) -> String {
        self.banner["baseUrl"].as_str().unwrap().to_owned()
    }

    /// SIGTERM, then the exit status and everything logged.
    fn terminate(mut self) -> (Option<i32>, String) {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(std::time::Instant::now() < deadline, "server did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut logs = String::new();
        std::io::Read::read_to_string(self.child.stderr.as_mut().unwrap(), &mut logs).unwrap();
        (status.code(), logs)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

#[test]
fn first_start_prints_the_demo_credentials_once_and_restarts_reuse_them() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("fresh/nested");
    let server = Server::start(&data, &[]);
    let demo = server.banner["demoTenant"].clone();
    assert_eq!(demo["clientId"], "demo");
    let key = demo["apiKey"].as_str().unwrap().to_owned();
    assert!(key.starts_with("vfk_"));
    assert!(data.join("veriframe.db").exists());
    let (code, _) = server.terminate();
    assert_eq!(code, Some(0), "graceful shutdown exits 0");

    let server = Server::start(&data, &[]);
    assert!(server.banner.get("demoTenant").is_none(), "the key is never printed again");
    // The stored hash still accepts the key shown on the first start.
    let flow = demo["configurationId"].as_str().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client = veriframe_client::Client::new(&server.base()).unwrap().with_api_key(&key);
    let started =
        runtime
            .block_on(client.start(&veriframe_api_types::StartRequest {
                configuration_id: Some(flow.into()),
                ..Default::default()
            }))
            .unwrap();
    assert_eq!(started.client_id, "demo");
    server.terminate();
}

#[test]
fn logs_never_carry_secrets_or_personal_data() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[("RUST_LOG", "trace")]);
    let key = server.banner["demoTenant"]["apiKey"].as_str().unwrap().to_owned();
    let flow = server.banner["demoTenant"]["configurationId"].as_str().unwrap().to_owned();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client = veriframe_client::Client::new(&server.base()).unwrap().with_api_key(&key);
    let (token, link) = runtime.block_on(async {
        let started = client
            .start(&veriframe_api_types::StartRequest {
                configuration_id: Some(flow.clone()),
                external_customer_id: Some("person-4711@example.org".into()),
                custom_fields: Some(json!({"lastName": "Featherstonehaugh"})),
                ..Default::default()
            })
            .await
            .unwrap();
        let session = client.session(&started.token);
        let url = session.onboarding_url().await.unwrap().url;
        session.status().await.unwrap();
        session.finish().await.unwrap();
        // Failed attempts log too; they must not echo what was presented.
        let _ = client.session("vfs_presented-but-wrong-token").status().await;
        let _ = reqwest::Client::new().get(&url).send().await;
        (started.token, OnboardingLinkSecret::from_url(&url).unwrap().expose().to_owned())
    });
    let (_, logs) = server.terminate();
    assert!(logs.contains("request"), "trace logging was on: {logs}");
    assert!(!logs.contains('\u{1b}'), "no colour codes when stderr is not a terminal");
    for secret in [key.as_str(), &token, &link, "person-4711", "Featherstonehaugh", "presented-but-wrong"] {
        assert!(!logs.contains(secret), "{secret:?} reached the logs");
    }
}

#[test]
fn provisioning_commands_print_json_and_use_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let (code, tenant) = run_json(data, &["tenants", "create", "--client-id", "acme", "--name", "Acme Bank"]);
    assert_eq!(code, 0);
    assert_eq!(tenant["clientId"], "acme");
    let (code, _) = run_json(data, &["tenants", "create", "--client-id", "acme", "--name", "Again"]);
    assert_eq!(code, 4, "already exists");
    let (code, _) = run_json(data, &["tenants", "create", "--client-id", "Not Valid", "--name", "x"]);
    assert_eq!(code, 2, "bad input");
    let (_, tenants) = run_json(data, &["tenants", "list"]);
    assert_eq!(tenants.as_array().unwrap().len(), 1);

    let (code, key) = run_json(data, &["keys", "create", "--client-id", "acme", "--label", "backend"]);
    assert_eq!(code, 0);
    assert!(key["apiKey"].as_str().unwrap().starts_with("vfk_"));
    let key_id = key["id"].as_str().unwrap().to_owned();
    let (_, keys) = run_json(data, &["keys", "list", "--client-id", "acme"]);
    assert_eq!(keys[0]["id"], key_id);
    assert!(keys[0].get("apiKey").is_none(), "listings never show keys");
    let (code, _) = run_json(data, &["keys", "revoke", "--client-id", "acme", &key_id]);
    assert_eq!(code, 0);
    let (code, _) = run_json(data, &["keys", "revoke", "--client-id", "acme", &key_id]);
    assert_eq!(code, 3, "already revoked: no active key with that id");
    let (code, _) = run_json(data, &["keys", "list", "--client-id", "nobody"]);
    assert_eq!(code, 3);

    let config = dir.path().join("flow.json");
    std::fs::write(&config, r#"{"modules":{"liveness":false},"allowedOrigins":["https://shop.example.com"],"redirectionUrl":"https://shop.example.com/done"}"#).unwrap();
    let (code, flow) = run_json(
        data,
        &["flows", "create", "--client-id", "acme", "--name", "KYC", "--file", config.to_str().unwrap()],
    );
    assert_eq!(code, 0);
    let flow_id = flow["configurationId"].as_str().unwrap().to_owned();
    let (_, shown) = run_json(data, &["flows", "show", "--client-id", "acme", &flow_id]);
    assert_eq!(shown["config"]["modules"]["liveness"], false);
    assert_eq!(shown["config"]["allowedOrigins"][0], "https://shop.example.com");
    assert_eq!(shown["config"]["capture"]["idCaptureRetries"], 3);
    std::fs::write(&config, r#"{"modules":{"selfie":false}}"#).unwrap();
    let output = veriframe(data)
        .args(["flows", "create", "--client-id", "acme", "--name", "Bad", "--file", config.to_str().unwrap()])
        .output()
        .unwrap();
    assert_ne!(output.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&output.stderr).contains("modules.faceMatch"));

    let set_origins = |origins: &[&str]| {
        let mut args = vec!["flows", "set-origins", "--client-id", "acme", flow_id.as_str()];
        for origin in origins {
            args.extend(["--origin", origin]);
        }
        run_json(data, &args)
    };
    let (code, flow) = set_origins(&["https://a.example", "http://localhost:3000/"]);
    assert_eq!(code, 0);
    assert_eq!(flow["config"]["allowedOrigins"], json!(["https://a.example", "http://localhost:3000"]));
    let (code, flow) = set_origins(&[]);
    assert_eq!(code, 0);
    assert_eq!(flow["config"]["allowedOrigins"], json!([]), "framable by no other site");
    assert_eq!(set_origins(&["https://a.example/path"]).0, 2, "an origin has no path");

    let output = veriframe(data)
        .args(["--json", "admins", "create", "--client-id", "acme", "--email", "ops@acme.example"])
        .env("VERIFRAME_ADMIN_PASSWORD", "correct horse battery staple")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let output = veriframe(data)
        .args(["admins", "create", "--client-id", "acme", "--email", "short@acme.example"])
        .env("VERIFRAME_ADMIN_PASSWORD", "short")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn config_example_and_help() {
    let dir = tempfile::tempdir().unwrap();
    let output = veriframe(dir.path()).args(["config", "example"]).output().unwrap();
    assert!(output.status.success());
    let example = String::from_utf8(output.stdout).unwrap();
    let file = dir.path().join("veriframe.toml");
    std::fs::write(&file, &example).unwrap();
    // The example is a valid configuration file.
    let output =
        veriframe(dir.path()).args(["--config", file.to_str().unwrap(), "--json", "config", "show"]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let shown: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(shown["listen"], "127.0.0.1:8080");
    // Environment beats the file.
    let output = veriframe(dir.path())
        .args(["--config", file.to_str().unwrap(), "--json", "config", "show"])
        .env("VERIFRAME_LISTEN", "127.0.0.1:9999")
        .output()
        .unwrap();
    let shown: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(shown["listen"], "127.0.0.1:9999");
    // A broken file is a configuration error (exit 2) that names the problem.
    std::fs::write(&file, "listen = 12").unwrap();
    let output = veriframe(dir.path()).args(["--config", file.to_str().unwrap(), "config", "show"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("listen"));
    for args in [
        &["--help"][..],
        &["serve", "--help"],
        &["keys", "--help"],
        &["flows", "create", "--help"],
        &["models", "fetch", "--help"],
    ] {
        let output = veriframe(dir.path()).args(args).output().unwrap();
        assert!(output.status.success(), "{args:?}");
        assert!(!output.stdout.is_empty());
    }
}

/// Serves `files` (name → bytes) over plain HTTP on an ephemeral port until the test ends;
/// anything else is a 404. Returns the base URL.
fn serve_files(files: Vec<(String, Vec<u8>)>) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/models", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = String::new();
            let _ = BufReader::new(&stream).read_line(&mut request);
            let path = request.split_whitespace().nth(1).unwrap_or("");
            let found = files.iter().find(|(name, _)| path == format!("/models/{name}"));
            let (status, body): (&str, &[u8]) = match found {
                Some((_, bytes)) => ("200 OK", bytes),
                None => ("404 Not Found", b"not found"),
            };
            let head = format!("HTTP/1.0 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
            let _ = std::io::Write::write_all(&mut stream, head.as_bytes());
            let _ = std::io::Write::write_all(&mut stream, body);
        }
    });
    base
}

/// A models directory whose registry models are the repository's (linked), so `fetch` has only
/// the passive PAD files to install.
fn linked_models(dir: &Path) -> std::path::PathBuf {
    let models = dir.join("models");
    std::fs::create_dir_all(&models).unwrap();
    for entry in std::fs::read_dir(veriframe_testkit::models_dir()).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::os::unix::fs::symlink(entry.path(), models.join(entry.file_name())).unwrap();
        }
    }
    models
}

#[test]
fn models_fetch_installs_the_passive_pad_models_from_a_url_checked_against_their_pins() {
    let test_only = veriframe_testkit::testdata_dir().join("models-test-only");
    if !test_only.is_dir() {
        assert!(!veriframe_testkit::in_ci(), "{} is required under CI", test_only.display());
        eprintln!("skipping: {} not found", test_only.display());
        return;
    }
    let names = ["2.7_80x80_MiniFASNetV2.onnx", "4_0_0_80x80_MiniFASNetV1SE.onnx"];
    let genuine: Vec<(String, Vec<u8>)> =
        names.iter().map(|n| (n.to_string(), std::fs::read(test_only.join(n)).unwrap())).collect();
    let dir = tempfile::tempdir().unwrap();
    let models = linked_models(dir.path());
    let fetch = |base: &str| {
        veriframe(dir.path())
            .env("VERIFRAME_MODELS_DIR", &models)
            .args(["models", "fetch", "--pad", base])
            .output()
            .unwrap()
    };

    // Bytes that are not the pinned models are refused, and nothing is installed.
    let forged = serve_files(names.iter().map(|n| (n.to_string(), b"not a model".to_vec())).collect());
    let output = fetch(&forged);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("wrong checksum"), "{stderr}");
    assert!(!models.join("pad").join(names[0]).exists());

    // A server that lacks a file is a clear error naming the URL.
    let partial = serve_files(genuine[..1].to_vec());
    let output = fetch(&partial);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains(names[1]));

    // The genuine files install, and the server then runs passive PAD.
    let output = fetch(&serve_files(genuine.clone()));
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    for (name, bytes) in &genuine {
        assert_eq!(&std::fs::read(models.join("pad").join(name)).unwrap(), bytes);
    }
}

#[test]
fn output_to_a_closed_pipe_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    // `veriframe config example | head -c 0`: the reader is gone before the first write.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let output =
        veriframe(dir.path()).args(["config", "example"]).stdout(writer).stderr(Stdio::piped()).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(output.status.code(), Some(0), "{stderr}");
}

/// A `/proc/<pid>/status` figure, in KiB.
fn proc_status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap_or_else(|| panic!("no {field} in {status}"));
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Concurrent wrong-password log-ins used to hold ~140 MiB of argon2 state each with no cap, and
/// 200 of them took the server to 17.8 GB. The storm here is smaller (the test machine is
/// shared) and the per-address log-in throttle is off, so only admission control stands between
/// the storm and the heap: memory must stay flat, and the overflow must be told to come back.
#[test]
fn a_log_in_storm_keeps_memory_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("veriframe.toml");
    std::fs::write(&config, "[limits]\nlogin_ip = { per_minute = 0, burst = 0 }\n").unwrap();
    let server = Server::start(&dir.path().join("data"), &[("VERIFRAME_CONFIG", config.to_str().unwrap())]);
    let key = server.banner["demoTenant"]["apiKey"].as_str().unwrap().to_owned();
    let pid = server.pid();
    let url = format!("{}/executive/log-in", server.base());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    // One request first, so lazily built state (the decoy hash, pools) is not counted.
    let http = reqwest::Client::new();
    let login = |i: usize| {
        // Distinct accounts, so no lockout steps in: each attempt costs a full argon2 check.
        let body = json!({"email": format!("nobody{i}@demo.example"), "password": format!("guess {i}")});
        http.post(&url).header("x-api-key", &key).json(&body).send()
    };
    assert_eq!(runtime.block_on(login(0)).unwrap().status(), 401);
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").unwrap(); // resets the peak (VmHWM)
    let before = proc_status_kib(pid, "VmRSS");
    let statuses: Vec<u16> = runtime.block_on(async {
        let storm = (1..=24).map(&login);
        futures_util::future::join_all(storm).await.into_iter().map(|r| r.unwrap().status().as_u16()).collect()
    });
    let peak = proc_status_kib(pid, "VmHWM");
    server.terminate();
    assert!(statuses.iter().all(|s| matches!(s, 401 | 503)), "{statuses:?}");
    assert!(statuses.contains(&503), "the overflow is refused, not queued without bound: {statuses:?}");
    let grown_mib = peak.saturating_sub(before) / 1024;
    eprintln!("log-in storm: RSS {} MiB before, peak {} MiB during 24 log-ins", before / 1024, peak / 1024);
    // Two slots of 19 MiB each, and nothing per queued or refused attempt.
    assert!(grown_mib < 96, "the storm grew the server by {grown_mib} MiB");
}
