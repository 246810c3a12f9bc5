//! Verification latency, end to end over HTTP: N people go through the hosted flow's API at the
//! same time (synthetic passport, selfie, head turn), and the server's own workers verify them.
//! Prints how long each capture answer took and how long from submit to `ONBOARDING_FINISHED`.
//!
//! `cargo run --release -p veriframe-testkit --example pipeline_latency -- [sessions] [workers] [pause_ms]`
//! (defaults: 4 sessions, one worker per core, no pause). `pause_ms` is how long each person
//! takes between captures; verification of the document starts as soon as it is accepted, so a
//! human pace hides it behind the selfie and the head turn. Needs the models (`veriframe models fetch`) and
//! `../shared/testdata`.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use veriframe_testkit::synth::{Act, Holder, film_for, frontal, jpeg, passport, photo, subject};
use veriframe_testkit::{Backend, TestApp};

struct Inputs {
    document: Vec<u8>,
    selfie: Vec<u8>,
    /// Who turns their head (each challenge's film is rendered before its upload is timed).
    face: veriframe_synth::camera::Subject,
}

#[derive(Default)]
struct Timings {
    front: Duration,
    selfie: Duration,
    liveness: Duration,
    verify: Duration,
}

async fn onboard(app: &TestApp, inputs: &Inputs, pause: Duration) -> Timings {
    let http = app.http();
    let (token, _) = app.start_session().await;
    let session = app.client.session(&token);
    let url = session.onboarding_url().await.unwrap().url;
    let opened = app.open_link(&url).await;
    let flow = opened["flowToken"].as_str().unwrap().to_owned();
    let post = |path: &str| http.post(app.url(&format!("flow/api/{path}"))).bearer_auth(&flow);
    post("consent").json(&json!({"accepted": true})).send().await.unwrap();
    let mut t = Timings::default();
    for (kind, bytes, slot) in [("front", &inputs.document, &mut t.front), ("selfie", &inputs.selfie, &mut t.selfie)] {
        let started = Instant::now();
        let answer: Value = post(&format!("capture/{kind}"))
            .header("content-type", "image/jpeg")
            .body(bytes.clone())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        *slot = started.elapsed();
        assert_eq!(answer["accepted"], true, "{kind}: {answer}");
        // A person needs a moment before the next capture (turn the document, face the camera).
        tokio::time::sleep(pause).await;
    }
    let challenge: Value = post("challenge").send().await.unwrap().json().await.unwrap();
    let form = film_for(&inputs.face, &challenge, Act::Genuine, 1).form();
    let started = Instant::now();
    let id = challenge["challengeId"].as_str().unwrap();
    let answer: Value =
        post(&format!("challenge/{id}/frames")).multipart(form).send().await.unwrap().json().await.unwrap();
    t.liveness = started.elapsed();
    assert_eq!(answer["accepted"], true, "{answer}");
    let started = Instant::now();
    post("submit").send().await.unwrap();
    loop {
        if session.status().await.unwrap().onboarding_status == "ONBOARDING_FINISHED" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    t.verify = started.elapsed();
    assert_eq!(session.score().await.unwrap().overall.status, "OK");
    t
}

fn summary(name: &str, mut values: Vec<Duration>) {
    values.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{name:<28} min {:>7.0} ms   median {:>7.0} ms   max {:>7.0} ms",
        ms(values[0]),
        ms(values[values.len() / 2]),
        ms(values[values.len() - 1])
    );
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let sessions: usize = args.next().map(|a| a.parse().expect("sessions")).unwrap_or(4);
    let cores = std::thread::available_parallelism().map(std::num::NonZero::get).unwrap_or(1);
    let workers: usize = args.next().map(|a| a.parse().expect("workers")).unwrap_or(cores);
    let pause = Duration::from_millis(args.next().map(|a| a.parse().expect("pause_ms")).unwrap_or(0));
    veriframe_testkit::engines().expect("models: run `veriframe models fetch`");

    let face = photo("faces/obama_1.jpg");
    let inputs = Inputs {
        document: jpeg(&passport(&photo("faces/obama_3.jpg"), &Holder::valid("ERIKSSON", "ANNA"))),
        selfie: jpeg(&frontal(&face).0),
        face: subject(&face),
    };
    let app = TestApp::spawn_with_workers(Backend::Sqlite, workers).await;
    // One warm-up onboarding, so model pages and connection pools are hot.
    onboard(&app, &inputs, Duration::ZERO).await;

    println!(
        "{sessions} concurrent onboardings, {workers} workers, {cores} cores, SQLite, {} ms between captures",
        pause.as_millis()
    );
    let wall = Instant::now();
    let runs = join_all((0..sessions).map(|_| onboard(&app, &inputs, pause)).collect()).await;
    let wall = wall.elapsed();
    summary("front capture answer", runs.iter().map(|t| t.front).collect());
    summary("selfie capture answer", runs.iter().map(|t| t.selfie).collect());
    summary("head-turn answer", runs.iter().map(|t| t.liveness).collect());
    summary("submit -> ONBOARDING_FINISHED", runs.iter().map(|t| t.verify).collect());
    println!("all {sessions} onboardings in {:.1} s", wall.as_secs_f64());
    app.stop().await;
}

/// Polls every onboarding on this one task, so they progress together while each waits on the
/// server; a minimal join-all that needs no extra dependency.
async fn join_all<F: std::future::Future<Output = Timings>>(futures: Vec<F>) -> Vec<Timings> {
    let mut handles: Vec<std::pin::Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut results: Vec<Option<Timings>> = handles.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, handle) in handles.iter_mut().enumerate() {
            if results[i].is_none() {
                match handle.as_mut().poll(cx) {
                    std::task::Poll::Ready(t) => results[i] = Some(t),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending { std::task::Poll::Pending } else { std::task::Poll::Ready(()) }
    })
    .await;
    results.into_iter().map(Option::unwrap).collect()
}
