//! `embed.js` and `embed.mjs` in a real browser, used the way an integrator uses them: a page on
//! the integrator's own site (`http://localhost:PORT`, another site than the application on
//! `127.0.0.1`) loads the helper from our origin, mounts the hosted flow into a container and
//! records every callback in `window.__log`, which the test reads. The integrator's server also
//! answers the `statusUrl` polls (`/status`) and can send a visitor on to the hosted page from
//! its own origin (`/moved`).
//!
//! SQLite only: the store is not what these tests are about. No captures are made, so the
//! camera never matters; the flow only opens its session (`started`) or finds its link dead
//! (`expired`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use veriframe_testkit::browser::{Browser, Options, STEP_TIMEOUT, serve_on_free_port};
use veriframe_testkit::{Backend, TestApp, engines};

/// How often the status endpoint must be asked before it answers `ONBOARDING_FINISHED`.
const POLLS_UNTIL_FINISHED: usize = 3;
/// The `pollMs` the module test asks for: the smallest `embed.js` accepts.
const POLL_MS: u64 = 500;

/// How the integrator's page gets `mount`.
#[derive(Debug, Clone, Copy)]
enum Loader {
    /// `<script src=".../embed.js">` and `VeriframeEmbed.mount`.
    Classic,
    /// `import { mount } from ".../embed.mjs"` (a cross-origin module, so it needs CORS).
    Module,
}

/// The integrator's page. It defines `mountInto(id, url, options)`, which makes a container
/// `#id` of a fixed size and mounts the flow into it with callbacks that append `{mount, kind,
/// value}` to `window.__log`; every `message` event the window receives is also kept, unfiltered,
/// in `window.__raw`, so a test can tell "ignored by embed.js" from "never sent".
fn integrator_page(app_origin: &str, loader: Loader) -> String {
    let literal = |s: &str| Value::from(s).to_string().replace("</", "<\\/");
    let load = match loader {
        Loader::Classic => format!(
            "<script src={}></script>\n<script>window.__mount = VeriframeEmbed.mount; window.__ready = 'classic';</script>",
            literal(&format!("{app_origin}/embed.js"))
        ),
        Loader::Module => format!(
            "<script type=\"module\">import {{ mount }} from {};\nwindow.__mount = mount; window.__ready = 'module';</script>",
            literal(&format!("{app_origin}/embed.mjs"))
        ),
    };
    format!(
        r#"<!doctype html>
<html><head><meta charset="utf-8"><title>Integrator</title>
<style>html,body{{margin:0}} .box{{width:480px;height:360px}}</style></head>
<body>
<script>
window.__log = [];
window.__raw = [];
window.__handles = {{}};
// Timers still to fire, by id, with their delay: whether embed.js will poll again is then a fact
// the page can state, not something a test waits to see.
window.__timers = {{}};
(function () {{
  var set = window.setTimeout, clear = window.clearTimeout;
  window.setTimeout = function (fn, delay) {{
    var args = Array.prototype.slice.call(arguments, 2), id;
    id = set(function () {{ delete window.__timers[id]; return fn.apply(this, args); }}, delay);
    window.__timers[id] = Number(delay) || 0;
    return id;
  }};
  window.clearTimeout = function (id) {{ delete window.__timers[id]; return clear(id); }};
}})();
addEventListener('message', function (ev) {{ window.__raw.push({{origin: ev.origin, data: ev.data}}); }});
window.mountInto = function (id, url, options) {{
  var box = document.createElement('div');
  box.id = id;
  box.className = 'box';
  document.body.appendChild(box);
  function record(kind) {{
    return function (value) {{ window.__log.push({{mount: id, kind: kind, value: value === undefined ? null : value}}); }};
  }}
  var opts = {{onEvent: record('event'), onStatus: record('status'), onFinish: record('finish'), onError: record('error')}};
  for (var k in options) opts[k] = options[k];
  window.__handles[id] = window.__mount(box, url, opts);
}};
</script>
{load}
</body></html>"#
    )
}

#[derive(Clone)]
struct SiteState {
    classic: Arc<str>,
    module: Arc<str>,
    polls: Arc<AtomicUsize>,
    moved_to: Arc<str>,
}

/// The integrator's web server on `127.0.0.1:0`, stopped on drop.
struct Integrator {
    port: u16,
    polls: Arc<AtomicUsize>,
    shutdown: Option<oneshot::Sender<()>>,
}

impl Integrator {
    /// `moved_to`: where `/moved` redirects (a hosted page on our origin).
    async fn serve(app_origin: &str, moved_to: &str) -> Self {
        async fn page(html: Arc<str>) -> impl IntoResponse {
            ([("cache-control", "no-store")], Html(html.to_string()))
        }
        let polls = Arc::new(AtomicUsize::new(0));
        let state = SiteState {
            classic: integrator_page(app_origin, Loader::Classic).into(),
            module: integrator_page(app_origin, Loader::Module).into(),
            polls: polls.clone(),
            moved_to: moved_to.into(),
        };
        let router = axum::Router::new()
            .route("/classic", axum::routing::get(|State(s): State<SiteState>| page(s.classic)))
            .route("/module", axum::routing::get(|State(s): State<SiteState>| page(s.module)))
            // The integrator's backend would ask the partner API; this one finishes after a few
            // polls, so the test knows exactly which statuses embed.js must report.
            .route(
                "/status",
                axum::routing::get(|State(s): State<SiteState>| async move {
                    let n = s.polls.fetch_add(1, Ordering::SeqCst) + 1;
                    let status = if n >= POLLS_UNTIL_FINISHED { "ONBOARDING_FINISHED" } else { "ONBOARDING_STARTED" };
                    ([("cache-control", "no-store")], axum::Json(json!({"onboardingStatus": status})))
                }),
            )
            .route("/moved", axum::routing::get(|State(s): State<SiteState>| async move { Redirect::to(&s.moved_to) }))
            .with_state(state);
        let (port, shutdown) = serve_on_free_port(router).await;
        Self { port, polls, shutdown: Some(shutdown) }
    }

    /// The page, on the integrator's site (`localhost`, not our `127.0.0.1`).
    fn page_url(&self, loader: Loader) -> String {
        let path = match loader {
            Loader::Classic => "classic",
            Loader::Module => "module",
        };
        format!("http://localhost:{}/{path}", self.port)
    }

    fn polls(&self) -> usize {
        self.polls.load(Ordering::SeqCst)
    }
}

impl Drop for Integrator {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A session on the demo flow: its interview id and onboarding URL.
async fn session(app: &TestApp) -> (String, String) {
    let (token, interview_id) = app.start_session().await;
    let url = app.client.session(&token).onboarding_url().await.expect("onboarding url").url;
    (interview_id, url)
}

/// Opens the integrator's page and waits until `mount` is there (a module script runs late).
async fn open(browser: &Browser, site: &Integrator, loader: Loader) {
    browser.goto(&site.page_url(loader)).await;
    let want = match loader {
        Loader::Classic => "classic",
        Loader::Module => "module",
    };
    wait_until(browser, "the embed helper to load", |b| async move {
        (b.eval("return window.__ready || null", vec![]).await == want).then_some(())
    })
    .await;
}

async fn mount(browser: &Browser, id: &str, url: &str, options: Value) {
    browser.eval("mountInto(arguments[0], arguments[1], arguments[2])", vec![json!(id), json!(url), options]).await;
}

/// The callbacks recorded so far: `{mount, kind, value}` each.
async fn log(browser: &Browser) -> Vec<Value> {
    browser.eval("return window.__log", vec![]).await.as_array().cloned().unwrap_or_default()
}

/// The callbacks of `kind` that mount `id` received, with their values.
async fn calls(browser: &Browser, id: &str, kind: &str) -> Vec<Value> {
    log(browser)
        .await
        .into_iter()
        .filter(|e| e["mount"] == id && e["kind"] == kind)
        .map(|e| e["value"].clone())
        .collect()
}

/// Every message the window received, unfiltered: `{origin, data}` each.
async fn raw(browser: &Browser) -> Vec<Value> {
    browser.eval("return window.__raw", vec![]).await.as_array().cloned().unwrap_or_default()
}

/// Polls `check` until it yields a value, or fails after [`STEP_TIMEOUT`] with the log.
async fn wait_until<'a, T, F, Fut>(browser: &'a Browser, what: &str, check: F) -> T
where
    F: Fn(&'a Browser) -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + STEP_TIMEOUT;
    loop {
        if let Some(value) = check(browser).await {
            return value;
        }
        if Instant::now() > deadline {
            let log = browser.eval("return [window.__log || null, window.__raw || null]", vec![]).await;
            panic!("waiting for {what}: timed out after {STEP_TIMEOUT:?}; callbacks and messages: {log}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until mount `id` has had a callback `kind` whose value has `type` `event_type`.
async fn wait_for(browser: &Browser, id: &str, kind: &str, event_type: &str) -> Value {
    let what = format!("{kind}({event_type}) on {id}");
    wait_until(
        browser,
        &what,
        |b| async move { calls(b, id, kind).await.into_iter().find(|v| v["type"] == event_type) },
    )
    .await
}

/// The iframe `mount` made inside `#id`: how it is set up and the size it really has.
async fn frame_of(browser: &Browser, id: &str) -> Value {
    browser
        .eval(
            r#"var box = document.getElementById(arguments[0]);
               var frames = box ? box.querySelectorAll('iframe') : [];
               if (frames.length !== 1) return {count: frames.length};
               var f = frames[0], r = f.getBoundingClientRect(), b = box.getBoundingClientRect();
               return {count: 1, isHandle: f === window.__handles[arguments[0]].iframe,
                       width: f.getAttribute('width'), height: f.getAttribute('height'),
                       styleWidth: f.style.width, styleHeight: f.style.height,
                       allow: f.getAttribute('allow'), src: f.src,
                       size: [r.width, r.height], box: [b.width, b.height]};"#,
            vec![json!(id)],
        )
        .await
}

fn assert_frame_fills_its_box(frame: &Value, url: &str) {
    assert_eq!(frame["count"], 1, "one iframe in the container: {frame}");
    assert_eq!(frame["isHandle"], true, "the handle's iframe is the one in the container: {frame}");
    assert_eq!(frame["src"], url, "{frame}");
    for key in ["width", "height", "styleWidth", "styleHeight"] {
        assert_eq!(frame[key], "100%", "{key}: {frame}");
    }
    // WebDriver writes whole CSS pixels as integers and fractions as floats: compare numbers.
    let pixels = |v: &Value| -> Vec<f64> { v.as_array().into_iter().flatten().filter_map(Value::as_f64).collect() };
    assert_eq!(pixels(&frame["size"]), pixels(&frame["box"]), "the iframe fills its container: {frame}");
    assert_eq!(pixels(&frame["box"]), [480.0, 360.0], "{frame}");
    let allow = frame["allow"].as_str().unwrap_or_default();
    let features: Vec<&str> = allow.split(';').filter_map(|d| d.split_whitespace().next()).collect();
    for feature in ["camera", "microphone", "geolocation", "accelerometer", "gyroscope"] {
        assert!(features.contains(&feature), "allow lacks {feature}: {allow:?}");
    }
}

/// Our origin, as the browser writes it.
fn origin_of(url: &str) -> String {
    reqwest::Url::parse(url).unwrap().origin().ascii_serialization()
}

/// The classic script: the iframe is set up for the camera and fills its container; the flow's
/// `started` event arrives with the session's interview id; a dead link reaches `onError` as
/// `expired`, on its own mount only; a `finished` message the integrator's page forges for
/// itself is ignored; `unmount` takes the iframe out of the page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embed_js_mounts_the_flow_and_trusts_only_its_own_iframe() {
    if engines().is_none() {
        return;
    }
    let Some(browser) = Browser::launch("embed-classic", Options::default()).await else { return };
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (interview_id, url) = session(&app).await;
    let app_origin = origin_of(&app.base_url);
    assert_eq!(origin_of(&url), app_origin, "the onboarding URL is on our origin");
    let site = Integrator::serve(&app_origin, &url).await;
    app.allow_origin(&app.flow_id, &format!("http://localhost:{}", site.port)).await;
    open(&browser, &site, Loader::Classic).await;

    mount(&browser, "live", &url, json!({})).await;
    assert_frame_fills_its_box(&frame_of(&browser, "live").await, &url);
    let started = wait_for(&browser, "live", "event", "started").await;
    assert_eq!(started["source"], "veriframe", "{started}");
    assert_eq!(started["interviewId"], interview_id.as_str(), "{started}");

    // A link nobody issued: the page still loads, finds it dead and says so.
    let dead_url = format!("{app_origin}/flow/vfl_{}", "A".repeat(43));
    mount(&browser, "dead", &dead_url, json!({})).await;
    let expired = wait_for(&browser, "dead", "error", "expired").await;
    assert_eq!(expired["source"], "veriframe", "{expired}");
    assert_eq!(expired["interviewId"], Value::Null, "{expired}");
    wait_for(&browser, "dead", "event", "expired").await;
    // Each mount hears its own iframe only, though both iframes have our origin.
    assert!(calls(&browser, "live", "error").await.is_empty(), "{:?}", log(&browser).await);
    let live_events = calls(&browser, "live", "event").await;
    assert!(live_events.iter().all(|e| e["type"] != "expired"), "{live_events:?}");
    let dead_events = calls(&browser, "dead", "event").await;
    assert!(dead_events.iter().all(|e| e["type"] != "started"), "{dead_events:?}");

    // The integrator's page (or a script on it) forges the end of the flow: right shape, wrong
    // origin and wrong source. Once the window has dispatched it, embed.js has seen it too.
    browser
        .eval(
            "window.postMessage({source: 'veriframe', type: 'finished', interviewId: arguments[0]}, '*')",
            vec![json!(interview_id)],
        )
        .await;
    wait_until(&browser, "the forged message to be dispatched", |b| async move {
        raw(b).await.into_iter().find(|m| m["data"]["type"] == "finished")
    })
    .await;
    let everything = log(&browser).await;
    assert!(everything.iter().all(|e| e["kind"] != "finish"), "a forged message finished the flow: {everything:?}");
    assert!(
        everything.iter().all(|e| e["value"]["type"] != "finished"),
        "a forged message reached onEvent: {everything:?}"
    );
    // The genuine messages came from our origin, which is how embed.js told them apart.
    let genuine = raw(&browser).await.into_iter().find(|m| m["data"]["type"] == "started").expect("started");
    assert_eq!(genuine["origin"], app_origin.as_str());

    // unmount: the iframe leaves the page, and only that one.
    browser.eval("window.__handles.live.unmount()", vec![]).await;
    let gone = browser
        .eval(
            "return {inBox: document.querySelectorAll('#live iframe').length,
                     connected: window.__handles.live.iframe.isConnected,
                     frames: document.querySelectorAll('iframe').length}",
            vec![],
        )
        .await;
    assert_eq!(gone, json!({"inBox": 0, "connected": false, "frames": 1}), "after unmount");
    // A second unmount is harmless.
    browser.eval("window.__handles.live.unmount()", vec![]).await;

    browser.close().await;
    app.stop().await;
}

/// The ES module, with a status URL: `onStatus` sees each new status once, `onFinish` fires
/// once with `ONBOARDING_FINISHED` and polling stops there; an onboarding URL on another origin
/// than the page that ends up in the iframe (a redirect through the integrator's site) gets none
/// of that page's messages; `unmount` takes the iframe out of the page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embed_mjs_polls_the_status_url_until_finished() {
    if engines().is_none() {
        return;
    }
    let Some(browser) = Browser::launch("embed-module", Options::default()).await else { return };
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (interview_id, url) = session(&app).await;
    let (moved_interview_id, moved_target) = session(&app).await;
    let app_origin = origin_of(&app.base_url);
    let site = Integrator::serve(&app_origin, &moved_target).await;
    app.allow_origin(&app.flow_id, &format!("http://localhost:{}", site.port)).await;
    open(&browser, &site, Loader::Module).await;

    let mounted_at = Instant::now();
    mount(&browser, "live", &url, json!({"statusUrl": "/status", "pollMs": POLL_MS})).await;
    assert_frame_fills_its_box(&frame_of(&browser, "live").await, &url);
    let started = wait_for(&browser, "live", "event", "started").await;
    assert_eq!(started["interviewId"], interview_id.as_str(), "{started}");

    let finish = wait_until(&browser, "onFinish", |b| async move { calls(b, "live", "finish").await.pop() }).await;
    let took = mounted_at.elapsed();
    assert_eq!(finish, "ONBOARDING_FINISHED");
    assert_eq!(site.polls(), POLLS_UNTIL_FINISHED, "polling stops at the final status");
    // The first poll waits pollMs, as does each next one.
    let floor = Duration::from_millis(POLL_MS * POLLS_UNTIL_FINISHED as u64);
    assert!(took >= floor, "{POLLS_UNTIL_FINISHED} polls {POLL_MS} ms apart took only {took:?}");
    // No poll is scheduled any more (a poll only ever starts from a timer), so none can follow.
    let scheduled = browser
        .eval("return Object.values(window.__timers).filter(function (d) { return d >= 500; }).length", vec![])
        .await;
    assert_eq!(scheduled, json!(0), "a poll is still scheduled after the final status");
    assert_eq!(site.polls(), POLLS_UNTIL_FINISHED, "no poll after the final status");
    assert_eq!(calls(&browser, "live", "finish").await, vec![json!("ONBOARDING_FINISHED")]);
    assert_eq!(
        calls(&browser, "live", "status").await,
        vec![json!("ONBOARDING_STARTED"), json!("ONBOARDING_FINISHED")],
        "each new status once"
    );
    assert!(calls(&browser, "live", "error").await.is_empty(), "{:?}", log(&browser).await);

    // The onboarding URL is on the integrator's loopback origin and redirects to our page: the
    // messages come from our origin, not the one mount was given, so embed.js drops them.
    let moved_url = format!("http://127.0.0.1:{}/moved", site.port);
    mount(&browser, "moved", &moved_url, json!({})).await;
    wait_until(&browser, "the redirected page's started message", |b| {
        let id = moved_interview_id.clone();
        async move {
            raw(b).await.into_iter().find(|m| m["data"]["type"] == "started" && m["data"]["interviewId"] == id.as_str())
        }
    })
    .await;
    assert!(
        log(&browser).await.iter().all(|e| e["mount"] != "moved"),
        "messages from another origin than the onboarding URL's were accepted: {:?}",
        log(&browser).await
    );

    browser.eval("window.__handles.live.unmount(); window.__handles.moved.unmount()", vec![]).await;
    let frames = browser.eval("return document.querySelectorAll('iframe').length", vec![]).await;
    assert_eq!(frames, 0, "unmount removes the iframes");

    browser.close().await;
    app.stop().await;
}
