//! Pages the test serves itself: fixed HTML on a port of its own, and a customer's page that
//! embeds the hosted flow cross-site.

use serde_json::Value;
use tokio::sync::oneshot;

// ---------------------------------------------------------------------------------------------
// Pages served by the test
// ---------------------------------------------------------------------------------------------

/// Serves `router` on `127.0.0.1:0` until the returned sender is dropped or fired; returns the
/// port it got.
pub async fn serve_on_free_port(router: axum::Router) -> (u16, oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.expect("bind a test site");
    let port = listener.local_addr().expect("local addr").port();
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await;
    });
    (port, tx)
}

/// A tiny web server of fixed HTML pages on `127.0.0.1:0`, stopped on drop.
#[derive(Debug)]
pub struct StaticSite {
    pub port: u16,
    shutdown: Option<oneshot::Sender<()>>,
}

impl StaticSite {
    /// Serves each `(path, html)` pair as `text/html`, with no caching.
    pub async fn serve(pages: Vec<(String, String)>) -> Self {
        let mut router = axum::Router::new();
        for (path, html) in pages {
            router = router.route(
                &path,
                axum::routing::get(move || {
                    let html = html.clone();
                    async move { ([("content-type", "text/html; charset=utf-8"), ("cache-control", "no-store")], html) }
                }),
            );
        }
        let (port, shutdown) = serve_on_free_port(router).await;
        Self { port, shutdown: Some(shutdown) }
    }

    /// The site's origin under the name `localhost` — a different site from `127.0.0.1`.
    pub fn localhost_origin(&self) -> String {
        format!("http://localhost:{}", self.port)
    }

    /// The site's origin under the name `127.0.0.1`.
    pub fn loopback_origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for StaticSite {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// What the customer's page delegates to our iframe. The integration guide's list.
pub const ALLOW_ALL: &str = "camera *; microphone *; geolocation *; accelerometer *; gyroscope *";

/// A customer's page on `http://localhost:PORT` that embeds `src` in an iframe filling the
/// window and records every `message` event (`{origin, data}`) in `window.__msgs`.
#[derive(Debug)]
pub struct ParentPage {
    pub url: String,
    pub origin: String,
    _site: StaticSite,
}

impl ParentPage {
    /// `allow`: the iframe's `allow` attribute, set before the iframe is inserted (a policy set
    /// later has no effect); `None` leaves it out, which denies the camera to the iframe.
    pub async fn serve(src: &str, allow: Option<&str>) -> Self {
        let literal = |s: &str| Value::from(s).to_string().replace("</", "<\\/");
        let allow_js = allow.map_or_else(String::new, |a| format!("frame.setAttribute('allow', {});", literal(a)));
        let html = format!(
            r#"<!doctype html>
<html><head><meta charset="utf-8"><title>Customer page</title>
<style>html,body{{margin:0;height:100%}}#host{{height:100%}}iframe{{border:0;display:block}}</style></head>
<body><div id="host"></div>
<script>
window.__msgs = [];
addEventListener('message', function (ev) {{ window.__msgs.push({{origin: ev.origin, data: ev.data}}); }});
var frame = document.createElement('iframe');
frame.id = 'app-iframe';
frame.width = '100%';
frame.height = '100%';
{allow_js}
frame.src = {src};
document.getElementById('host').appendChild(frame);
</script></body></html>"#,
            src = literal(src),
        );
        let site = StaticSite::serve(vec![("/".to_owned(), html)]).await;
        let origin = site.localhost_origin();
        Self { url: format!("{origin}/"), origin, _site: site }
    }
}

// ---------------------------------------------------------------------------------------------
// The browser
// ---------------------------------------------------------------------------------------------
