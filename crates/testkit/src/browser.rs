//! End-to-end browser harness: headless Chromium driven over WebDriver (chromedriver +
//! fantoccini), a fake camera fed from a y4m file the test rewrites between steps, and a
//! cross-site parent page that embeds the hosted flow in an iframe and records its
//! `postMessage` events.
//!
//! Why these choices (measured facts, see `../shared/reference/browser-testing.md`):
//! - WebDriver keeps the tests inside `cargo test`, and Debian ships chromedriver from the same
//!   source package as Chromium, so the two never drift apart.
//! - Chromium's fake camera replays a y4m file and starts it again at frame 0 whenever the page
//!   stops every track and opens the camera again. It opens the file by path on each start, so
//!   the test swaps content between steps by *renaming* a new file over the old one: a stream
//!   that is still live keeps reading the old file (even across loops), and the next opening
//!   reads the new one. Rewriting the file in place while a stream reads it is not safe: the
//!   capture process then delivers black frames or the next opening fails with `NotFoundError`.
//! - The parent page is served as `http://localhost:PORT` and the application as
//!   `http://127.0.0.1:PORT`: both are secure contexts over plain HTTP (so the camera API
//!   exists), and they are different sites, as a customer's site and ours are in production.
//!
//! When Chromium or chromedriver is missing the browser tests are skipped with a message, except
//! under `CI=true`, where that is a failure.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::in_ci;

/// The WebDriver client's crate, for tests that go past the helpers through
/// [`Browser::client`] without depending on it themselves.
pub use fantoccini;

mod camera;
pub mod flow;
mod site;

pub use camera::{Camera, Video, i420, letterbox, on_surface};
pub use site::{ALLOW_ALL, ParentPage, StaticSite, serve_on_free_port};

/// How long a page gets to reach a screen before a wait gives up.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(20);
const POLL: Duration = Duration::from_millis(100);

/// The Chromium binary: `VERIFRAME_CHROMIUM`, else Debian's real binary behind the
/// `/usr/bin/chromium` wrapper (the wrapper only adds flags and noise).
pub fn chromium_path() -> PathBuf {
    if let Some(path) = std::env::var_os("VERIFRAME_CHROMIUM") {
        return path.into();
    }
    ["/usr/lib/chromium/chromium", "/usr/bin/chromium"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .unwrap_or_else(|| "/usr/bin/chromium".into())
}

/// The chromedriver binary: `VERIFRAME_CHROMEDRIVER`, else `/usr/bin/chromedriver`.
pub fn chromedriver_path() -> PathBuf {
    std::env::var_os("VERIFRAME_CHROMEDRIVER").map_or_else(|| "/usr/bin/chromedriver".into(), PathBuf::from)
}

/// Whether browser tests can run here. Prints why not; panics under `CI=true`.
pub fn available() -> bool {
    let missing: Vec<String> = [chromium_path(), chromedriver_path()]
        .into_iter()
        .filter(|p| !p.is_file())
        .map(|p| p.display().to_string())
        .collect();
    if missing.is_empty() {
        return true;
    }
    let why = format!("{} not found (apt-get install chromium chromium-driver)", missing.join(" and "));
    if in_ci() {
        panic!("browser tests are required under CI=true: {why}");
    }
    eprintln!("skipping browser test: {why}");
    false
}

/// Whether the browser grants the camera when a page asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CameraPermission {
    /// `--use-fake-ui-for-media-stream`: the prompt is accepted at once.
    Granted,
    /// `--use-fake-ui-for-media-stream=deny`: the page gets `NotAllowedError`, as when a person
    /// refuses. (CDP or WebDriver denials do not work together with the fake-UI flag.)
    Denied,
}

#[derive(Debug, Clone)]
pub struct Options {
    pub camera: CameraPermission,
    /// Window size; the new headless mode takes a simulated toolbar off the height.
    pub window: (u32, u32),
    /// CSS selector of the iframe that holds the hosted page: `#app-iframe` on a
    /// [`ParentPage`]; an integrator's own page names its iframe as it likes.
    pub app_frame: String,
}

impl Default for Options {
    fn default() -> Self {
        Self { camera: CameraPermission::Granted, window: (1280, 1000), app_frame: "#app-iframe".into() }
    }
}

/// A headless Chromium with a fake camera, its chromedriver, and a fresh profile. Close it with
/// [`Browser::close`]; dropping it (for example when a test panics) kills chromedriver's
/// whole process group, Chromium included.
pub struct Browser {
    client: Client,
    driver: Option<tokio::process::Child>,
    driver_pid: Option<u32>,
    camera: Camera,
    dir: tempfile::TempDir,
    in_app_frame: AtomicBool,
    app_frame: String,
    label: String,
    uploads: AtomicU32,
}

impl std::fmt::Debug for Browser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Browser")
            .field("label", &self.label)
            .field("camera", &self.camera.path())
            .finish_non_exhaustive()
    }
}

impl Browser {
    /// Starts chromedriver and a browser, or returns `None` (after saying why) where Chromium is
    /// not installed. `label` names the screenshots kept when a wait fails.
    pub async fn launch(label: &str, options: Options) -> Option<Self> {
        if !available() {
            return None;
        }
        Some(Self::start(label, options).await.unwrap_or_else(|e| panic!("starting the browser: {e:#}")))
    }

    async fn start(label: &str, options: Options) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new().prefix("veriframe-browser-").tempdir()?;
        let camera = Camera::create(dir.path())?;
        let profile = dir.path().join("profile");
        std::fs::create_dir(&profile)?;

        // `--port=0` lets chromedriver pick a free port; it prints the one it chose.
        let mut driver = tokio::process::Command::new(chromedriver_path())
            .arg("--port=0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .context("spawn chromedriver")?;
        let driver_pid = driver.id();
        let stdout = driver.stdout.take().context("chromedriver stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let port = tokio::time::timeout(Duration::from_secs(15), async {
            while let Some(line) = lines.next_line().await? {
                if let Some(rest) = line.split("started successfully on port ").nth(1) {
                    return Ok::<_, anyhow::Error>(rest.trim_end_matches('.').trim().parse::<u16>()?);
                }
            }
            bail!("chromedriver exited before it listened")
        })
        .await
        .context("chromedriver did not start within 15 s")??;
        // Keep reading, so a chatty chromedriver never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

        let fake_ui = match options.camera {
            CameraPermission::Granted => "--use-fake-ui-for-media-stream",
            CameraPermission::Denied => "--use-fake-ui-for-media-stream=deny",
        };
        let args = vec![
            "--headless=new".to_owned(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--no-first-run".into(),
            "--no-default-browser-check".into(),
            "--disable-sync".into(),
            "--disable-component-update".into(),
            "--disable-background-networking".into(),
            "--disable-quic".into(),
            // The background-networking flags alone still leave DNS lookups of Google hosts.
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1".into(),
            "--hide-scrollbars".into(),
            "--mute-audio".into(),
            format!("--window-size={},{}", options.window.0, options.window.1),
            format!("--user-data-dir={}", profile.display()),
            "--use-fake-device-for-media-stream".into(),
            format!("--use-file-for-fake-video-capture={}", camera.path().display()),
            fake_ui.into(),
        ];
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert(
            "goog:chromeOptions".into(),
            json!({"binary": chromium_path().display().to_string(), "args": args}),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .context("open a WebDriver session")?;
        Ok(Self {
            client,
            driver: Some(driver),
            driver_pid,
            camera,
            dir,
            in_app_frame: AtomicBool::new(false),
            app_frame: options.app_frame,
            label: label.to_owned(),
            uploads: AtomicU32::new(0),
        })
    }

    /// The raw WebDriver client, for anything the helpers do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn camera(&self) -> &Camera {
        &self.camera
    }

    /// Ends the WebDriver session (Chromium quits) and stops chromedriver.
    pub async fn close(mut self) {
        let client = self.client.clone();
        let _ = tokio::time::timeout(Duration::from_secs(10), client.close()).await;
        if let Some(mut driver) = self.driver.take() {
            let _ = driver.start_kill();
            let _ = driver.wait().await;
        }
        self.kill_group();
    }

    fn kill_group(&mut self) {
        // chromedriver leads its own process group (spawned with process_group(0)) and Chromium
        // stays in it, so one signal to the group ends both without touching anything else.
        if let Some(pid) = self.driver_pid.take() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }

    /// Opens `url` in the top-level window.
    pub async fn goto(&self, url: &str) {
        self.top().await;
        self.client.goto(url).await.unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    /// Runs `script` in the current browsing context and returns its value.
    pub async fn eval(&self, script: &str, args: Vec<Value>) -> Value {
        self.client.execute(script, args).await.unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Switches to the top-level page (the customer's), for what the test reads or clicks there.
    /// Works after the customer's page removed the iframe the test was in.
    pub async fn top(&self) {
        if self.in_app_frame.swap(false, Ordering::SeqCst) && self.client.enter_parent_frame().await.is_err() {
            // The frame is gone: switching to the window itself always lands on its top level.
            let window = self.client.window().await.expect("the window");
            self.client.switch_to_window(window).await.expect("back to the top level");
        }
    }

    /// Switches into the embedded page (the iframe named by [`Options::app_frame`]). Idempotent.
    pub async fn app_frame(&self) {
        if self.in_app_frame.load(Ordering::SeqCst) {
            return;
        }
        let deadline = Instant::now() + STEP_TIMEOUT;
        let frame = loop {
            match self.client.find(Locator::Css(&self.app_frame)).await {
                Ok(frame) => break frame,
                Err(e) if Instant::now() > deadline => panic!("no {} on the parent page: {e}", self.app_frame),
                Err(_) => tokio::time::sleep(POLL).await,
            }
        };
        frame.enter_frame().await.expect("enter the iframe");
        self.in_app_frame.store(true, Ordering::SeqCst);
    }

    /// The `postMessage` events the parent page has received so far: `{origin, data}` each.
    pub async fn messages(&self) -> Vec<Value> {
        let was_in_frame = self.in_app_frame.load(Ordering::SeqCst);
        self.top().await;
        let msgs = self.eval("return window.__msgs || []", vec![]).await;
        if was_in_frame {
            self.app_frame().await;
        }
        msgs.as_array().cloned().unwrap_or_default()
    }

    /// Waits until the parent page has received a message whose `data.type` is `kind`.
    pub async fn wait_for_message(&self, kind: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let msgs = self.messages().await;
            if let Some(m) = msgs.iter().find(|m| m["data"]["type"] == kind) {
                return m.clone();
            }
            if Instant::now() > deadline {
                panic!("no {kind:?} message within {timeout:?}; the parent saw {}", Value::from(msgs));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The hosted page's current `#app[data-step]`, if there is an `#app` yet.
    pub async fn step(&self) -> Option<String> {
        self.app_frame().await;
        let v = self
            .eval("var a = document.getElementById('app'); return a ? a.getAttribute('data-step') : null", vec![])
            .await;
        v.as_str().map(str::to_owned)
    }

    /// Waits for `#app[data-step=step]` in the hosted page. Fails at once on an `error` or
    /// `expired` screen that was not asked for, and otherwise after `timeout`, with what the
    /// page showed (text, problem codes, messages) and a screenshot.
    pub async fn wait_for_step(&self, step: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let now = self.step().await;
            if now.as_deref() == Some(step) {
                return;
            }
            let dead_end = matches!(now.as_deref(), Some("error" | "expired"));
            if dead_end || Instant::now() > deadline {
                let why = if dead_end {
                    "the page reached a dead end".to_owned()
                } else {
                    format!("timed out after {timeout:?}")
                };
                panic!("waiting for step {step:?}: {why}\n{}", self.diagnose().await);
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// What the hosted page shows, for failure messages: step, text, problem codes, the parent's
    /// messages, and where the screenshot went.
    pub async fn diagnose(&self) -> String {
        self.app_frame().await;
        let page = self
            .client
            .execute(
                r#"var app = document.getElementById('app');
                   var codes = Array.prototype.map.call(document.querySelectorAll('[data-codes]'),
                       function (e) { return e.getAttribute('data-codes'); });
                   return {step: app ? app.getAttribute('data-step') : null,
                           codes: codes,
                           text: (document.body ? document.body.innerText : '').slice(0, 3000)};"#,
                vec![],
            )
            .await
            .unwrap_or_else(|e| json!({"error": e.to_string()}));
        let screenshot = self.screenshot("failure").await;
        let messages = self.messages().await;
        format!(
            "step: {}\ndata-codes: {}\nmessages to the parent: {}\nscreenshot: {}\npage text:\n{}",
            page["step"],
            page["codes"],
            Value::from(messages),
            screenshot.map_or_else(|| "(none)".into(), |p| p.display().to_string()),
            page["text"].as_str().unwrap_or_default(),
        )
    }

    /// Saves a PNG of the whole window under `VERIFRAME_ARTEFACTS_DIR` (default: the system
    /// temporary directory) and returns its path.
    pub async fn screenshot(&self, name: &str) -> Option<PathBuf> {
        let png = self.client.screenshot().await.ok()?;
        let dir = std::env::var_os("VERIFRAME_ARTEFACTS_DIR")
            .map_or_else(|| std::env::temp_dir().join("veriframe-browser"), PathBuf::from);
        std::fs::create_dir_all(&dir).ok()?;
        let path = dir.join(format!("{}-{name}-{}.png", self.label, std::process::id()));
        std::fs::write(&path, png).ok()?;
        Some(path)
    }

    /// The first element matching `css` in the hosted page that is displayed.
    pub async fn visible(&self, css: &str) -> Option<fantoccini::elements::Element> {
        self.app_frame().await;
        for element in self.client.find_all(Locator::Css(css)).await.unwrap_or_default() {
            if element.is_displayed().await.unwrap_or(false) {
                return Some(element);
            }
        }
        None
    }

    /// Waits until an element matching `css` is displayed in the hosted page.
    pub async fn wait_visible(&self, css: &str, timeout: Duration) -> fantoccini::elements::Element {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(element) = self.visible(css).await {
                return element;
            }
            if Instant::now() > deadline {
                panic!("nothing visible matches {css} within {timeout:?}\n{}", self.diagnose().await);
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Clicks the visible, enabled `[data-action="action"]`, as a person would (a WebDriver
    /// click fails on hidden or covered elements).
    pub async fn click(&self, action: &str) {
        let css = format!("[data-action=\"{action}\"]");
        let deadline = Instant::now() + STEP_TIMEOUT;
        loop {
            if let Some(button) = self.visible(&css).await
                && button.is_enabled().await.unwrap_or(false)
                && button.click().await.is_ok()
            {
                return;
            }
            if Instant::now() > deadline {
                panic!("could not click {css}\n{}", self.diagnose().await);
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Ticks the checkbox with id `id` if it is not ticked yet: on the box itself, or on its
    /// label where the box is styled out of sight.
    pub async fn tick(&self, id: &str) {
        let css = format!("#{id}");
        let deadline = Instant::now() + STEP_TIMEOUT;
        loop {
            self.app_frame().await;
            if let Ok(checkbox) = self.client.find(Locator::Css(&css)).await {
                if checkbox.is_selected().await.unwrap_or(false) {
                    return;
                }
                let target = match self.visible(&css).await {
                    Some(shown) => Some(shown),
                    None => self.visible(&format!("label[for=\"{id}\"]")).await,
                };
                if let Some(target) = target {
                    let _ = target.click().await;
                    if checkbox.is_selected().await.unwrap_or(false) {
                        return;
                    }
                }
            }
            if Instant::now() > deadline {
                panic!("could not tick {css}\n{}", self.diagnose().await);
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The attribute `name` of the first element matching `css` in the hosted page.
    pub async fn attr(&self, css: &str, name: &str) -> Option<String> {
        self.app_frame().await;
        let element = self.client.find(Locator::Css(css)).await.ok()?;
        element.attr(name).await.ok().flatten()
    }

    /// Waits until `css` carries a non-empty attribute `name`, and returns it.
    pub async fn wait_attr(&self, css: &str, name: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(value) = self.attr(css, name).await.filter(|v| !v.trim().is_empty()) {
                return value;
            }
            if Instant::now() > deadline {
                panic!("no {name} on {css} within {timeout:?}\n{}", self.diagnose().await);
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Sets `bytes` (saved as `file_name`) on the upload input of the current step, which
    /// uploads it. The input may be visually hidden; WebDriver accepts files on it anyway.
    pub async fn upload(&self, file_name: &str, bytes: &[u8]) {
        let n = self.uploads.fetch_add(1, Ordering::Relaxed);
        let dir = self.dir.path().join(format!("upload-{n}"));
        std::fs::create_dir_all(&dir).expect("upload dir");
        let path = dir.join(file_name);
        std::fs::write(&path, bytes).expect("write the upload");
        self.app_frame().await;
        let css = "input[type=file][data-role=\"upload\"]";
        let deadline = Instant::now() + STEP_TIMEOUT;
        loop {
            // The current step's input: the first one whose ancestors are all displayed (the
            // input itself may be hidden behind a styled label), else the first one.
            let inputs = self.client.find_all(Locator::Css(css)).await.unwrap_or_default();
            let refs: Vec<Value> = inputs.iter().map(|e| serde_json::to_value(e).expect("element ref")).collect();
            let pick = self
                .client
                .execute(
                    r#"var inputs = arguments[0];
                       for (var i = 0; i < inputs.length; i++) {
                         var e = inputs[i].parentElement, shown = true;
                         for (; e && e !== document.body; e = e.parentElement)
                           if (getComputedStyle(e).display === 'none') { shown = false; break; }
                         if (shown) return i;
                       }
                       return inputs.length ? 0 : -1;"#,
                    vec![Value::from(refs)],
                )
                .await
                .ok()
                .and_then(|v| v.as_i64())
                .unwrap_or(-1);
            let chosen = usize::try_from(pick).ok().and_then(|i| inputs.into_iter().nth(i));
            if let Some(input) = chosen
                && input.send_keys(&path.display().to_string()).await.is_ok()
            {
                return;
            }
            if Instant::now() > deadline {
                panic!("could not set a file on {css}\n{}", self.diagnose().await);
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until the step's live preview (`video[data-role=preview]`) plays camera frames.
    pub async fn wait_preview(&self, timeout: Duration) -> (u32, u32) {
        let deadline = Instant::now() + timeout;
        loop {
            self.app_frame().await;
            let v = self
                .eval(
                    r#"var vs = document.querySelectorAll('video[data-role="preview"]');
                       for (var i = 0; i < vs.length; i++) {
                         var v = vs[i], s = v.srcObject;
                         var live = s && s.getVideoTracks().some(function (t) { return t.readyState === 'live'; });
                         if (live && v.readyState >= 2 && v.videoWidth > 0) return [v.videoWidth, v.videoHeight];
                       }
                       return null;"#,
                    vec![],
                )
                .await;
            if let Some([w, h]) = v.as_array().map(|a| [a[0].as_u64(), a[1].as_u64()])
                && let (Some(w), Some(h)) = (w, h)
            {
                return (w as u32, h as u32);
            }
            if Instant::now() > deadline {
                panic!("the camera preview did not start within {timeout:?}\n{}", self.diagnose().await);
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until the live camera preview has played `at_least` of its stream, by the stream's
    /// own clock: a test that staged a clip which changes over time waits for the part it needs.
    pub async fn wait_camera_played(&self, at_least: Duration, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            self.app_frame().await;
            let played = self
                .eval(
                    r#"var vs = document.querySelectorAll('video[data-role="preview"]'), best = 0;
                       for (var i = 0; i < vs.length; i++) {
                         if (vs[i].srcObject) best = Math.max(best, vs[i].currentTime);
                       }
                       return best;"#,
                    vec![],
                )
                .await;
            if played.as_f64().is_some_and(|t| t >= at_least.as_secs_f64()) {
                return;
            }
            if Instant::now() > deadline {
                panic!("the camera did not play {at_least:?} within {timeout:?}\n{}", self.diagnose().await);
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Whether any camera track of the hosted page is live now.
    pub async fn camera_live(&self) -> bool {
        self.app_frame().await;
        self.eval(
            r#"return Array.prototype.some.call(document.querySelectorAll('video'), function (v) {
                 return v.srcObject && v.srcObject.getVideoTracks().some(function (t) { return t.readyState === 'live'; });
               });"#,
            vec![],
        )
        .await
        .as_bool()
        .unwrap_or(false)
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        self.kill_group();
    }
}
