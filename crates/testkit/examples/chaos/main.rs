//! Chaos and load: many people onboard at once through the real capture API with real images
//! while the server is SIGKILLed at random moments and restarted, optionally under an anonymous
//! flood and an executive log-in storm. At the end every accepted upload must be retrievable and
//! every submitted session final. Prints what was lost, what answered 5xx, the server's peak RSS
//! and the latency of the legitimate requests.
//!
//! ```text
//! cargo build --release -p veriframe --bin veriframe -p veriframe-testkit --example chaos
//! target/release/examples/chaos [--sessions 200] [--kills 5] [--flood 0] [--storm 0] \
//!     [--postgres postgres://postgres@127.0.0.1:5432/postgres] [--seed 1] [--server target/release/veriframe]
//! ```
//!
//! The exit status is 1 when an upload was lost, a session stranded or a request answered 5xx
//! other than admission's 503, so `.ci/run` can run a short form. Needs the models and
//! `../shared/testdata`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use reqwest::{RequestBuilder, StatusCode};
use serde_json::{Value, json};
use veriframe_api_types::OnboardingLinkSecret;
use veriframe_synth::rng::Rng;
use veriframe_testkit::synth::{Act, FilmUpload, Holder, film_for, frontal, jpeg, passport, photo, subject};

mod server;

use server::{LEASE_SECONDS, Server, config_file};

struct Options {
    sessions: usize,
    kills: usize,
    flood: usize,
    storm: usize,
    postgres: Option<String>,
    seed: u64,
    server: PathBuf,
}

impl Options {
    fn parse() -> anyhow::Result<Self> {
        let mut o = Options {
            sessions: 200,
            kills: 5,
            flood: 0,
            storm: 0,
            postgres: None,
            seed: 1,
            server: std::env::current_exe()?
                .parent()
                .and_then(Path::parent)
                .map(|dir| dir.join("veriframe"))
                .context("no directory for the server binary")?,
        };
        let mut args = std::env::args().skip(1);
        while let Some(flag) = args.next() {
            let mut value = || args.next().with_context(|| format!("{flag} needs a value"));
            match flag.as_str() {
                "--sessions" => o.sessions = value()?.parse()?,
                "--kills" => o.kills = value()?.parse()?,
                "--flood" => o.flood = value()?.parse()?,
                "--storm" => o.storm = value()?.parse()?,
                "--postgres" => o.postgres = Some(value()?),
                "--seed" => o.seed = value()?.parse()?,
                "--server" => o.server = value()?.into(),
                other => bail!("unknown argument {other} (see the doc comment of examples/chaos/main.rs)"),
            }
        }
        Ok(o)
    }
}

/// What the demo tenant's first-start banner gave.
#[derive(Clone)]
struct Tenant {
    api_key: String,
    client_id: String,
    flow: String,
}

/// Counts and latencies of everything the harness sent.
#[derive(Default)]
struct Tally {
    /// Legitimate requests that got an answer, in milliseconds.
    latencies_ms: Mutex<Vec<f64>>,
    /// 5xx answers other than admission's 503, by request.
    errors: Mutex<Vec<String>>,
    refused_503: AtomicU32,
    throttled_429: AtomicU32,
    interrupted: AtomicU32,
    flood_requests: AtomicU32,
    flood_by_status: Mutex<BTreeMap<u16, u32>>,
}

struct Harness {
    server: Server,
    tally: Tally,
    http: reqwest::Client,
    tenant: Tenant,
    inputs: Inputs,
    done: AtomicBool,
    started: Instant,
}

/// One person's images (one face for everybody: the server does not compare sessions).
struct Inputs {
    document: Vec<u8>,
    selfie: Vec<u8>,
    /// Films for a left and a right challenge, rendered once.
    films: Mutex<BTreeMap<String, FilmUpload>>,
    face: veriframe_synth::camera::Subject,
}

/// What one onboarding left behind: what the server accepted, and whether it was submitted.
#[derive(Default)]
struct Outcome {
    person: usize,
    token: String,
    accepted: Vec<&'static str>,
    submitted: bool,
    refused: Vec<String>,
}

impl Harness {
    /// Sends a legitimate request until it gets an answer that is not a restart, a throttle or an
    /// admission refusal; 5xx answers are recorded (and retried: a client would).
    async fn call(&self, what: &str, ip: &str, build: impl Fn(&reqwest::Client, &str) -> RequestBuilder) -> Value {
        let mut pause = Duration::from_millis(100);
        loop {
            let base = self.server.base();
            let started = Instant::now();
            let sent =
                build(&self.http, &base).header("x-forwarded-for", ip).timeout(Duration::from_secs(90)).send().await;
            let Ok(response) = sent else {
                // The server is down (killed) or restarting.
                self.tally.interrupted.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(2));
                continue;
            };
            let status = response.status();
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(1);
            let body = response.json::<Value>().await;
            let elapsed = started.elapsed().as_secs_f64() * 1000.0;
            match status {
                StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => {
                    let counter = if status == StatusCode::TOO_MANY_REQUESTS {
                        &self.tally.throttled_429
                    } else {
                        &self.tally.refused_503
                    };
                    counter.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_secs(retry_after.clamp(1, 10))).await;
                }
                s if s.is_server_error() => {
                    self.tally.errors.lock().expect("errors").push(format!("{what}: {s}"));
                    tokio::time::sleep(pause).await;
                }
                _ => match body {
                    Ok(body) => {
                        self.tally.latencies_ms.lock().expect("latencies").push(elapsed);
                        return json!({"status": status.as_u16(), "body": body});
                    }
                    // The connection broke while the answer was read: the server died.
                    Err(_) => {
                        self.tally.interrupted.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(pause).await;
                    }
                },
            }
        }
    }

    fn film(&self, challenge: &Value) -> FilmUpload {
        let direction = challenge["direction"].as_str().unwrap_or_default().to_owned();
        let mut films = self.inputs.films.lock().expect("films");
        films.entry(direction).or_insert_with(|| film_for(&self.inputs.face, challenge, Act::Genuine, 7)).clone()
    }

    /// One person through the hosted flow's API, retrying across restarts as the page does.
    async fn onboard(&self, person: usize) -> Outcome {
        let ip = format!("10.{}.{}.{}", person / 65_536 % 256, person / 256 % 256, person % 256);
        let key = self.tenant.api_key.clone();
        let flow = self.tenant.flow.clone();
        let started = self
            .call("start", &ip, |h, b| {
                h.post(format!("{b}/omni/start"))
                    .header("x-api-key", &key)
                    .header("api-version", "1.0")
                    .json(&json!({"configurationId": flow, "countryCode": "ALL"}))
            })
            .await;
        let mut outcome = Outcome { person, ..Outcome::default() };
        let Some(token) = started["body"]["token"].as_str().map(str::to_owned) else {
            outcome.refused.push(format!("start: {started}"));
            return outcome;
        };
        outcome.token = token.clone();
        let url = self
            .call("onboarding-url", &ip, |h, b| {
                h.get(format!("{b}/0/omni/onboarding-url"))
                    .header("X-Incode-Hardware-Id", &token)
                    .header("api-version", "1.0")
            })
            .await;
        let link = url["body"]["url"]
            .as_str()
            .and_then(OnboardingLinkSecret::from_url)
            .map(|l| l.expose().to_owned())
            .unwrap_or_default();
        let opened =
            self.call("open", &ip, |h, b| h.post(format!("{b}/flow/api/open")).json(&json!({"link": link}))).await;
        let Some(flow_token) = opened["body"]["flowToken"].as_str().map(str::to_owned) else {
            outcome.refused.push(format!("open: {opened}"));
            return outcome;
        };
        let post =
            |h: &reqwest::Client, b: &str, path: &str| h.post(format!("{b}/flow/api/{path}")).bearer_auth(&flow_token);
        self.call("consent", &ip, |h, b| post(h, b, "consent").json(&json!({"accepted": true}))).await;
        for (kind, bytes) in [("front", &self.inputs.document), ("selfie", &self.inputs.selfie)] {
            let answer = self
                .call(kind, &ip, |h, b| {
                    post(h, b, &format!("capture/{kind}"))
                        .header("content-type", "image/jpeg")
                        .header("idempotency-key", format!("{person}-{kind}"))
                        .body(bytes.clone())
                })
                .await;
            if answer["body"]["accepted"] == true {
                outcome.accepted.push(kind);
            } else {
                outcome.refused.push(format!("{kind}: {answer}"));
            }
        }
        // A head turn: a new challenge after each restart that lost the answer, like the page.
        for attempt in 0..4 {
            let challenge = self.call("challenge", &ip, |h, b| post(h, b, "challenge")).await;
            let Some(id) = challenge["body"]["challengeId"].as_str().map(str::to_owned) else {
                outcome.refused.push(format!("challenge: {challenge}"));
                break;
            };
            let film = self.film(&challenge["body"]);
            let answer = self
                .call("frames", &ip, |h, b| {
                    post(h, b, &format!("challenge/{id}/frames"))
                        .header("idempotency-key", format!("{person}-turn-{attempt}"))
                        .multipart(film.form())
                })
                .await;
            if answer["body"]["accepted"] == true {
                outcome.accepted.push("liveness");
                break;
            }
            outcome.refused.push(format!("frames: {answer}"));
        }
        let submitted = self.call("submit", &ip, |h, b| post(h, b, "submit")).await;
        outcome.submitted = submitted["status"] == 200;
        if !outcome.submitted {
            outcome.refused.push(format!("submit: {submitted}"));
        }
        outcome
    }

    /// Anonymous traffic: sessions from the static flow URL, bogus links and a large PNG on
    /// whatever flow token it gets, from a few addresses.
    async fn flood(&self, worker: usize) {
        let ip = format!("203.0.113.{}", worker % 4 + 1);
        let big = big_png();
        let mut i = 0u64;
        while !self.done.load(Ordering::Relaxed) {
            i += 1;
            let base = self.server.base();
            let request = match i % 3 {
                0 => self.http.get(format!("{base}/{}/flow/{}", self.tenant.client_id, self.tenant.flow)),
                1 => self.http.post(format!("{base}/flow/api/open")).json(&json!({"link": format!("vfl_bogus{i}")})),
                _ => self
                    .http
                    .post(format!("{base}/flow/api/capture/front"))
                    .bearer_auth(format!("vft_bogus{i}"))
                    .header("content-type", "image/png")
                    .body(big.clone()),
            };
            self.anonymous(request, &ip).await;
        }
    }

    /// Executive log-in guesses with the tenant's key and wrong passwords.
    async fn storm(&self, worker: usize) {
        let ip = format!("198.51.100.{}", worker % 4 + 1);
        let mut i = 0u64;
        while !self.done.load(Ordering::Relaxed) {
            i += 1;
            let base = self.server.base();
            let request = self
                .http
                .post(format!("{base}/executive/log-in"))
                .header("x-api-key", &self.tenant.api_key)
                .json(&json!({"email": format!("guess{}@example.com", i % 3), "password": format!("p{i}")}));
            self.anonymous(request, &ip).await;
        }
    }

    async fn anonymous(&self, request: RequestBuilder, ip: &str) {
        self.tally.flood_requests.fetch_add(1, Ordering::Relaxed);
        let redirect_safe = request.header("x-forwarded-for", ip).timeout(Duration::from_secs(60));
        match redirect_safe.send().await {
            Ok(r) => {
                let status = r.status();
                *self.tally.flood_by_status.lock().expect("flood").entry(status.as_u16()).or_default() += 1;
                if status.is_server_error() && status != StatusCode::SERVICE_UNAVAILABLE {
                    self.tally.errors.lock().expect("errors").push(format!("anonymous: {status}"));
                }
                let _ = r.bytes().await;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }

    /// Whether an accepted capture's image can be fetched.
    async fn has_image(&self, token: &str, kind: &str) -> bool {
        let name = match kind {
            "front" => "fullFrameFrontID",
            "selfie" => "selfie",
            _ => return true,
        };
        let answer = self
            .call("images", "10.255.255.254", |h, b| {
                h.post(format!("{b}/0/omni/get/images"))
                    .header("X-Incode-Hardware-Id", token)
                    .header("api-version", "1.0")
                    .json(&json!({"images": [name]}))
            })
            .await;
        answer["body"][name].as_str().is_some_and(|s| !s.is_empty())
    }

    async fn status(&self, token: &str) -> String {
        let answer = self
            .call("status", "10.255.255.253", |h, b| {
                h.get(format!("{b}/0/omni/get/onboarding/status"))
                    .header("X-Incode-Hardware-Id", token)
                    .header("api-version", "1.0")
            })
            .await;
        answer["body"]["onboardingStatus"].as_str().unwrap_or_default().to_owned()
    }
}

/// A 7000×7000 PNG of one colour: 0.2 MB on the wire, 147 MB decoded.
fn big_png() -> Vec<u8> {
    let image = image::RgbImage::from_pixel(7000, 7000, image::Rgb([200, 190, 180]));
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).expect("png");
    out.into_inner()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn main() -> anyhow::Result<()> {
    let options = Options::parse()?;
    let dir = tempfile::tempdir()?;
    let server = Server {
        binary: options.server.clone(),
        data_dir: dir.path().to_owned(),
        config: config_file(dir.path())?,
        database_url: options.postgres.clone(),
        running: Mutex::new(None),
        base: RwLock::new(String::new()),
        peak_rss_kib: AtomicU64::new(0),
    };
    let banner = server.start()?;
    let demo = &banner["demoTenant"];
    let tenant = Tenant {
        api_key: demo["apiKey"].as_str().context("the store must be empty: no demo tenant")?.to_owned(),
        client_id: demo["clientId"].as_str().context("clientId")?.to_owned(),
        flow: demo["configurationId"].as_str().context("configurationId")?.to_owned(),
    };
    let face = photo("faces/obama_1.jpg");
    let inputs = Inputs {
        document: jpeg(&passport(&photo("faces/obama_3.jpg"), &Holder::valid("LINDQVIST", "SARA"))),
        selfie: jpeg(&frontal(&face).0),
        films: Mutex::new(BTreeMap::new()),
        face: subject(&face),
    };
    let harness = Arc::new(Harness {
        server,
        tally: Tally::default(),
        http: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?,
        tenant,
        inputs,
        done: AtomicBool::new(false),
        started: Instant::now(),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let store = if options.postgres.is_some() { "PostgreSQL" } else { "SQLite" };
    println!(
        "chaos: {} onboardings at once, {} SIGKILLs, flood {}, log-in storm {}, {store}, seed {}",
        options.sessions, options.kills, options.flood, options.storm, options.seed
    );
    let started = Instant::now();
    let report = runtime.block_on(run(harness.clone(), &options))?;
    let wall = started.elapsed().as_secs_f64();
    harness.server.kill();
    let tally = &harness.tally;
    let mut latencies = tally.latencies_ms.lock().expect("latencies").clone();
    latencies.sort_by(f64::total_cmp);
    let errors = tally.errors.lock().expect("errors").clone();
    println!("wall time                          {wall:.0} s");
    println!("onboardings submitted              {}/{}", report.submitted, options.sessions);
    println!("accepted uploads                   {}", report.accepted);
    println!("accepted uploads lost              {}", report.lost.len());
    println!("sessions not final after restart   {}", report.stranded.len());
    println!("requests answered 5xx (not 503)    {}", errors.len());
    println!(
        "503 admission / 429 throttle       {} / {}",
        tally.refused_503.load(Ordering::Relaxed),
        tally.throttled_429.load(Ordering::Relaxed)
    );
    println!("requests cut by a kill             {}", tally.interrupted.load(Ordering::Relaxed));
    println!(
        "legitimate requests p50/p99/max    {:.0} / {:.0} / {:.0} ms ({} requests)",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(f64::NAN),
        latencies.len()
    );
    println!(
        "anonymous requests                 {} {:?}",
        tally.flood_requests.load(Ordering::Relaxed),
        tally.flood_by_status.lock().expect("flood")
    );
    println!(
        "peak RSS of the server             {:.0} MiB",
        harness.server.peak_rss_kib.load(Ordering::Relaxed) as f64 / 1024.0
    );
    for line in errors.iter().take(10).chain(report.lost.iter().take(10)).chain(report.stranded.iter().take(10)) {
        println!("  {line}");
    }
    for line in report.refused.iter().take(5) {
        println!("  refused: {line}");
    }
    if !report.lost.is_empty()
        || !report.stranded.is_empty()
        || !errors.is_empty()
        || report.submitted < options.sessions
    {
        std::process::exit(1);
    }
    Ok(())
}

struct Report {
    submitted: usize,
    accepted: usize,
    lost: Vec<String>,
    stranded: Vec<String>,
    refused: Vec<String>,
}

async fn run(harness: Arc<Harness>, options: &Options) -> anyhow::Result<Report> {
    let mut background = Vec::new();
    for worker in 0..options.flood {
        let h = harness.clone();
        background.push(tokio::spawn(async move { h.flood(worker).await }));
    }
    for worker in 0..options.storm {
        let h = harness.clone();
        background.push(tokio::spawn(async move { h.storm(worker).await }));
    }
    let rss = {
        let h = harness.clone();
        tokio::spawn(async move {
            while !h.done.load(Ordering::Relaxed) {
                if let Some(pid) = h.server.pid() {
                    h.server.sample_rss(pid);
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };
    let people: Vec<_> = (0..options.sessions)
        .map(|person| {
            let h = harness.clone();
            tokio::spawn(async move { h.onboard(person).await })
        })
        .collect();
    // The killer: SIGKILL at random moments while people are still onboarding, restart at once.
    let finished = Arc::new(AtomicU32::new(0));
    let killer = {
        let h = harness.clone();
        let finished = finished.clone();
        let (kills, total, seed) = (options.kills, options.sessions as u32, options.seed);
        tokio::spawn(async move {
            let mut rng = Rng::new(seed);
            let mut done = 0;
            while done < kills && finished.load(Ordering::Relaxed) < total {
                let wait = Duration::from_millis(rng.range(2_000.0, 12_000.0) as u64);
                tokio::time::sleep(wait).await;
                if finished.load(Ordering::Relaxed) >= total {
                    break;
                }
                let h2 = h.clone();
                tokio::task::spawn_blocking(move || {
                    h2.server.kill();
                    h2.server.start()
                })
                .await??;
                done += 1;
                println!("  [{:>4.0} s] SIGKILL {done}/{kills}, restarted", h.started.elapsed().as_secs_f64());
            }
            anyhow::Ok(done)
        })
    };
    let mut outcomes = Vec::new();
    for person in people {
        outcomes.push(person.await?);
        finished.fetch_add(1, Ordering::Relaxed);
    }
    let kills = killer.await??;
    if kills < options.kills {
        println!("  the onboardings finished after {kills} of {} kills", options.kills);
    }
    // One more kill after the last answer, so that the final state is what a restart finds.
    {
        let h = harness.clone();
        tokio::task::spawn_blocking(move || {
            h.server.kill();
            h.server.start()
        })
        .await??;
    }
    // Every submitted session must become final: wait while any session still makes progress.
    let mut pending: Vec<&Outcome> = outcomes.iter().filter(|o| o.submitted).collect();
    let mut last_progress = Instant::now();
    while !pending.is_empty() && last_progress.elapsed() < Duration::from_secs(LEASE_SECONDS + 120) {
        let mut still = Vec::new();
        for outcome in pending {
            let status = harness.status(&outcome.token).await;
            if status == "ONBOARDING_FINISHED" {
                last_progress = Instant::now();
            } else {
                still.push(outcome);
            }
        }
        pending = still;
        if !pending.is_empty() {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
    harness.done.store(true, Ordering::Relaxed);
    for task in background {
        task.await?;
    }
    rss.await?;
    let stranded = pending.iter().map(|o| format!("stranded: session {} is not final", o.person)).collect();
    let mut lost = Vec::new();
    let mut accepted = 0;
    for outcome in &outcomes {
        for kind in &outcome.accepted {
            accepted += 1;
            if !harness.has_image(&outcome.token, kind).await {
                lost.push(format!("lost: session {}'s accepted {kind} has no image", outcome.person));
            }
        }
    }
    Ok(Report {
        submitted: outcomes.iter().filter(|o| o.submitted).count(),
        accepted,
        lost,
        stranded,
        refused: outcomes.iter().flat_map(|o| o.refused.iter().cloned()).collect(),
    })
}
