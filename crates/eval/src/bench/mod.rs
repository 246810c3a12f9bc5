//! `veriframe-eval bench`: how fast the server and its engines are.
//!
//! `bench poll` measures the hot path, status polling, in the two ways that matter:
//! open loop (a fixed arrival rate, like 1,000 integrators' pollers; latency counted from each
//! request's scheduled time, so a stall is not hidden by the client slowing down) and closed
//! loop (as many requests as N connections can push). The trivial endpoint `/healthz` of the
//! same server is measured the same way in the same run, as the yardstick.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::{Args, Subcommand};
use serde::Serialize;
use tokio::net::TcpListener;

use veriframe_http::throttle::{Rate, TenantLimits};

use veriframe::app::{App, open_store, provisioning};
use veriframe::cli::Context;
use veriframe::output::emit;

mod mrz;
mod vision;

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Status polling: open loop at a fixed rate, then closed loop at full speed.
    Poll(PollArgs),
    /// The face engine's stages: decode, detection, alignment, descriptor, PAD.
    Vision(vision::BenchVisionArgs),
    /// MRZ reading: model load, detection, recognition, interpretation, band check.
    Mrz(mrz::BenchMrzArgs),
}

#[derive(Debug, Args)]
pub struct PollArgs {
    /// A running server's base URL. Without it, a server is started in this process (on its
    /// own runtime threads) over --database-url, or over a fresh SQLite file.
    #[arg(long)]
    pub url: Option<String>,
    /// API key (with --url).
    #[arg(long, env = "VERIFRAME_BENCH_API_KEY")]
    pub api_key: Option<String>,
    /// Flow id to start sessions with (with --url).
    #[arg(long)]
    pub configuration_id: Option<String>,
    /// Database for the in-process server.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Sessions to create and poll.
    #[arg(long, default_value_t = 1000)]
    pub sessions: usize,
    /// Open loop: requests per second in total.
    #[arg(long, default_value_t = 1000)]
    pub rate: u32,
    /// Open loop: seconds per endpoint.
    #[arg(long, default_value_t = 30)]
    pub duration: u64,
    /// Closed loop: concurrent connections.
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// Closed loop: seconds per endpoint.
    #[arg(long, default_value_t = 10)]
    pub closed_duration: u64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct LatencyReport {
    endpoint: String,
    requests: usize,
    errors: usize,
    achieved_rps: f64,
    p50_ms: f64,
    p90_ms: f64,
    p99_ms: f64,
    p999_ms: f64,
    max_ms: f64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ThroughputReport {
    endpoint: String,
    connections: usize,
    requests: usize,
    errors: usize,
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct PollReport {
    server: String,
    backend: String,
    sessions: usize,
    open_loop: Vec<LatencyReport>,
    closed_loop: Vec<ThroughputReport>,
    /// Closed-loop status throughput as a share of the trivial endpoint's.
    status_vs_trivial: f64,
}

pub fn run(ctx: &Context, command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Poll(args) => veriframe::commands::runtime()?.block_on(poll(ctx, args)),
        BenchCommand::Vision(args) => vision::bench_vision(&args, ctx),
        BenchCommand::Mrz(args) => mrz::run(&args, ctx),
    }
}

/// A server for the benchmark: either given, or started here on a dedicated runtime.
struct Target {
    base: String,
    api_key: String,
    configuration_id: String,
    backend: String,
    _server: Option<InProcess>,
}

struct InProcess {
    runtime: Option<tokio::runtime::Runtime>,
    _dir: Option<tempfile::TempDir>,
}

impl Drop for InProcess {
    /// The target is dropped inside the load generator's runtime, where a blocking shutdown
    /// of the server's runtime is not allowed.
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

async fn target(ctx: &Context, args: &PollArgs) -> anyhow::Result<Target> {
    if let Some(url) = &args.url {
        let api_key = args.api_key.clone().context("--api-key is required with --url")?;
        let configuration_id = args.configuration_id.clone().context("--configuration-id is required with --url")?;
        return Ok(Target {
            base: url.trim_end_matches('/').to_owned(),
            api_key,
            configuration_id,
            backend: "external".into(),
            _server: None,
        });
    }
    let mut config = ctx.config.clone();
    let dir = if let Some(url) = &args.database_url {
        config.database_url = Some(url.clone());
        None
    } else {
        let dir = tempfile::tempdir()?;
        config.data_dir = dir.path().to_owned();
        config.database_url = None;
        Some(dir)
    };
    // The server gets its own runtime so its work is not scheduled behind the load generator's.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("bench-server")
        .enable_all()
        .build()?;
    let (addr, api_key, configuration_id, backend) = runtime
        .spawn(async move {
            let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
            let bound = listener.local_addr()?;
            let store = open_store(&config).await?;
            let backend = store.backend().to_owned();
            let p = provisioning(store);
            let suffix: u32 = rand_suffix();
            let client_id = format!("bench-{suffix}");
            let tenant = p.create_tenant(veriframe_core::ClientId::parse(&client_id)?, "Benchmark").await?;
            // Setting up creates sessions back to back, faster than the default per-key rate:
            // the benchmark's own tenant is not throttled (status polling never is).
            let unthrottled = Rate::new(0, 0);
            config.limits.tenants.insert(client_id, TenantLimits { api_key: Some(unthrottled), session_token: None });
            let (_, key) = p.create_api_key(&tenant, "bench").await?;
            let flow = p.create_flow(&tenant, "bench", veriframe_core::flow::FlowConfig::default()).await?;
            let app = App::build(&config, bound).await?;
            tokio::spawn(async move {
                let _ = app.serve(listener, std::future::pending()).await;
            });
            anyhow::Ok((bound, key.expose().to_owned(), flow.id.to_string(), backend))
        })
        .await??;
    Ok(Target {
        base: format!("http://{addr}"),
        api_key,
        configuration_id,
        backend,
        _server: Some(InProcess { runtime: Some(runtime), _dir: dir }),
    })
}

fn rand_suffix() -> u32 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0)
}

async fn poll(ctx: &Context, args: PollArgs) -> anyhow::Result<()> {
    let target = target(ctx, &args).await?;
    let http = reqwest::Client::builder().pool_max_idle_per_host(256).timeout(Duration::from_secs(10)).build()?;
    let client = veriframe_client::Client::with_http_client(&target.base, http.clone())?.with_api_key(&target.api_key);

    eprintln!("creating {} sessions on {} ({})", args.sessions, target.base, target.backend);
    let mut tokens = Vec::with_capacity(args.sessions);
    for _ in 0..args.sessions {
        let started = client
            .start(&veriframe_api_types::StartRequest {
                configuration_id: Some(target.configuration_id.clone()),
                ..Default::default()
            })
            .await
            .context("creating a session")?;
        tokens.push(started.token);
    }
    let tokens = Arc::new(tokens);
    let status_url = format!("{}/0/omni/get/onboarding/status", target.base);
    let trivial_url = format!("{}/healthz", target.base);

    // Warm the connection pool and the database cache.
    for token in tokens.iter().take(100) {
        let _ = request(&http, &status_url, Some(token)).await;
    }

    let mut open_loop = Vec::new();
    for (name, url, with_token) in [("status", &status_url, true), ("healthz", &trivial_url, false)] {
        eprintln!("open loop: {name}, {} req/s for {} s", args.rate, args.duration);
        open_loop
            .push(open_loop_run(&http, name, url, with_token.then(|| tokens.clone()), args.rate, args.duration).await);
    }
    let mut closed_loop = Vec::new();
    for (name, url, with_token) in [("status", &status_url, true), ("healthz", &trivial_url, false)] {
        eprintln!("closed loop: {name}, {} connections for {} s", args.connections, args.closed_duration);
        closed_loop.push(
            closed_loop_run(
                &http,
                name,
                url,
                with_token.then(|| tokens.clone()),
                args.connections,
                args.closed_duration,
            )
            .await,
        );
    }
    let status_vs_trivial = closed_loop[0].rps / closed_loop[1].rps.max(f64::EPSILON);
    let report = PollReport {
        server: target.base.clone(),
        backend: target.backend.clone(),
        sessions: args.sessions,
        open_loop,
        closed_loop,
        status_vs_trivial,
    };
    emit(ctx.json, &report, |r| {
        let mut out = format!("backend: {}, sessions: {}\n\nopen loop\n", r.backend, r.sessions);
        out += "endpoint   requests errors   rps      p50 ms  p90 ms  p99 ms  p99.9 ms  max ms\n";
        for l in &r.open_loop {
            out += &format!(
                "{:<10} {:>8} {:>6} {:>7.0} {:>8.3} {:>7.3} {:>7.3} {:>9.3} {:>7.3}\n",
                l.endpoint, l.requests, l.errors, l.achieved_rps, l.p50_ms, l.p90_ms, l.p99_ms, l.p999_ms, l.max_ms
            );
        }
        out += "\nclosed loop\nendpoint   conns requests errors   rps      p50 ms  p99 ms\n";
        for c in &r.closed_loop {
            out += &format!(
                "{:<10} {:>5} {:>8} {:>6} {:>8.0} {:>7.3} {:>7.3}\n",
                c.endpoint, c.connections, c.requests, c.errors, c.rps, c.p50_ms, c.p99_ms
            );
        }
        out += &format!("\nstatus throughput = {:.0} % of the trivial endpoint's", r.status_vs_trivial * 100.0);
        out
    })
}

async fn request(http: &reqwest::Client, url: &str, token: Option<&str>) -> bool {
    let mut builder = http.get(url).header("api-version", "1.0");
    if let Some(token) = token {
        builder = builder.header("X-Incode-Hardware-Id", token);
    }
    match builder.send().await {
        Ok(response) => response.status().is_success() && response.bytes().await.is_ok(),
        Err(_) => false,
    }
}

async fn open_loop_run(
    http: &reqwest::Client,
    name: &str,
    url: &str,
    tokens: Option<Arc<Vec<String>>>,
    rate: u32,
    seconds: u64,
) -> LatencyReport {
    let total = usize::try_from(u64::from(rate) * seconds).unwrap_or(usize::MAX);
    let interval = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
    let started = tokio::time::Instant::now();
    let mut tasks = Vec::with_capacity(total);
    for i in 0..total {
        let due = started + interval.mul_f64(i as f64);
        tokio::time::sleep_until(due).await;
        let http = http.clone();
        let url = url.to_owned();
        let token = tokens.as_ref().map(|t| t[i % t.len()].clone());
        tasks.push(tokio::spawn(async move {
            let ok = request(&http, &url, token.as_deref()).await;
            (ok, due.elapsed())
        }));
    }
    let mut latencies = Vec::with_capacity(total);
    let mut errors = 0;
    for task in tasks {
        match task.await {
            Ok((ok, latency)) => {
                errors += usize::from(!ok);
                latencies.push(latency);
            }
            Err(_) => errors += 1,
        }
    }
    let wall = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    LatencyReport {
        endpoint: name.to_owned(),
        requests: total,
        errors,
        achieved_rps: total as f64 / wall,
        p50_ms: percentile(&latencies, 0.50),
        p90_ms: percentile(&latencies, 0.90),
        p99_ms: percentile(&latencies, 0.99),
        p999_ms: percentile(&latencies, 0.999),
        max_ms: latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
    }
}

async fn closed_loop_run(
    http: &reqwest::Client,
    name: &str,
    url: &str,
    tokens: Option<Arc<Vec<String>>>,
    connections: usize,
    seconds: u64,
) -> ThroughputReport {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut workers = Vec::new();
    for w in 0..connections {
        let http = http.clone();
        let url = url.to_owned();
        let tokens = tokens.clone();
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0usize;
            let mut i = w;
            while Instant::now() < deadline {
                let token = tokens.as_ref().map(|t| t[i % t.len()].as_str());
                let t0 = Instant::now();
                if !request(&http, &url, token).await {
                    errors += 1;
                }
                latencies.push(t0.elapsed());
                i += connections;
            }
            (latencies, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for worker in workers {
        if let Ok((l, e)) = worker.await {
            latencies.extend(l);
            errors += e;
        }
    }
    let wall = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    ThroughputReport {
        endpoint: name.to_owned(),
        connections,
        requests: latencies.len(),
        errors,
        rps: latencies.len() as f64 / wall,
        p50_ms: percentile(&latencies, 0.50),
        p99_ms: percentile(&latencies, 0.99),
    }
}

fn percentile(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[rank].as_secs_f64() * 1000.0
}
