//! The browser side of veriframe, embedded in the binary: the hosted onboarding page (HTML, CSS,
//! ES modules and translation catalogues, no build step) and `embed.js` for integrators.
//!
//! This crate knows no HTTP: it hands out bytes, content types and names, and
//! `veriframe-http` serves them. Assets are addressed as `/flow/assets/{version}/{name}` where
//! `version` is a hash of every asset, so they can be cached forever, and the modules can import
//! each other (and fetch their catalogues) by relative URL without any rewriting.
#![forbid(unsafe_code)]

use std::sync::LazyLock;

use sha2::{Digest, Sha256};

/// Where the page's assets are served; the version and the asset name follow.
pub const ASSETS_PREFIX: &str = "/flow/assets/";

/// Languages with a catalogue; the first is the fallback.
pub const LANGUAGES: [&str; 2] = ["en-US", "es-ES"];

/// One embedded file of the hosted page.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    /// Path below the versioned prefix, e.g. `app.js` or `i18n/es-ES.json`.
    pub name: &'static str,
    pub content_type: &'static str,
    pub bytes: &'static [u8],
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const JSON: &str = "application/json; charset=utf-8";

macro_rules! asset {
    ($name:literal, $content_type:expr) => {
        Asset { name: $name, content_type: $content_type, bytes: include_bytes!(concat!("../assets/flow/", $name)) }
    };
}

static ASSETS: &[Asset] = &[
    asset!("app.js", JS),
    asset!("api.js", JS),
    asset!("camera.js", JS),
    asset!("capture.js", JS),
    asset!("dom.js", JS),
    asset!("events.js", JS),
    asset!("handoff.js", JS),
    asset!("i18n.js", JS),
    asset!("liveness.js", JS),
    asset!("screens.js", JS),
    asset!("app.css", CSS),
    asset!("i18n/en-US.json", JSON),
    asset!("i18n/es-ES.json", JSON),
];

const PAGE_TEMPLATE: &str = include_str!("../assets/page.html");
const ERROR_TEMPLATE: &str = include_str!("../assets/error.html");
const EMBED_JS: &str = include_str!("../assets/embed.js");

/// Every asset of the hosted page.
pub fn assets() -> &'static [Asset] {
    ASSETS
}

/// A hash of every asset (names and bytes): a new build with any change gets new URLs, an
/// unchanged one keeps them, so browsers and CDNs may cache assets for a year.
pub fn version() -> &'static str {
    static VERSION: LazyLock<String> = LazyLock::new(|| {
        let mut hash = Sha256::new();
        for asset in ASSETS {
            hash.update((asset.name.len() as u64).to_le_bytes());
            hash.update(asset.name.as_bytes());
            hash.update((asset.bytes.len() as u64).to_le_bytes());
            hash.update(asset.bytes);
        }
        hex::encode(&hash.finalize()[..8])
    });
    &VERSION
}

/// `/flow/assets/{version}/`: the base every asset URL starts with.
pub fn assets_base() -> String {
    format!("{ASSETS_PREFIX}{}/", version())
}

/// The asset at `path` below [`ASSETS_PREFIX`] (`{version}/{name}`). Another version's path is
/// `None`: its content would not match what its URL promises.
pub fn asset(path: &str) -> Option<&'static Asset> {
    let (version, name) = path.split_once('/')?;
    if version != self::version() {
        return None;
    }
    ASSETS.iter().find(|a| a.name == name)
}

/// The catalogue of `language` (one of [`LANGUAGES`]).
pub fn catalogue(language: &str) -> Option<&'static serde_json::Map<String, serde_json::Value>> {
    static CATALOGUES: LazyLock<Vec<(&'static str, serde_json::Map<String, serde_json::Value>)>> =
        LazyLock::new(|| {
            LANGUAGES
                .iter()
                .map(|lang| {
                    let name = format!("i18n/{lang}.json");
                    let asset = ASSETS.iter().find(|a| a.name == name).expect("every language has a catalogue");
                    let map = serde_json::from_slice(asset.bytes).expect("catalogues are JSON objects (tested)");
                    (*lang, map)
                })
                .collect()
        });
    CATALOGUES.iter().find(|(lang, _)| *lang == language).map(|(_, map)| map)
}

/// A catalogue string, falling back to the first language (empty when neither has it; a test
/// checks that every key the server renders exists).
pub fn text(language: &str, key: &str) -> &'static str {
    [language, LANGUAGES[0]].iter().find_map(|lang| catalogue(lang)?.get(key)?.as_str()).unwrap_or("")
}

/// The best language with a catalogue for a language tag (`es`, `es-MX`, `en-GB`...), or for an
/// `Accept-Language` header value (in the order given; quality values are not weighed, because
/// browsers list languages in preference order anyway).
pub fn pick_language(tags: &str) -> &'static str {
    for tag in tags.split(',') {
        let tag = tag.split(';').next().unwrap_or_default().trim().replace('_', "-");
        if tag.is_empty() {
            continue;
        }
        if let Some(exact) = LANGUAGES.iter().find(|l| l.eq_ignore_ascii_case(&tag)) {
            return exact;
        }
        let base = tag.split('-').next().unwrap_or_default();
        if let Some(same) = LANGUAGES.iter().find(|l| l.split('-').next().is_some_and(|b| b.eq_ignore_ascii_case(base)))
        {
            return same;
        }
    }
    LANGUAGES[0]
}

/// Escapes text for HTML content and double-quoted attributes.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn render(template: &str, language: &str, fields: &[(&str, &str)]) -> String {
    let mut html = template.replace("{{base}}", &assets_base()).replace("{{lang}}", language);
    for (name, value) in fields {
        html = html.replace(&format!("{{{{{name}}}}}"), &escape(value));
    }
    html
}

/// The hosted page's HTML, its loading text in `language` (the page switches to the session's
/// language once it has opened the session).
pub fn page(language: &str) -> &'static str {
    static PAGES: LazyLock<Vec<(&'static str, String)>> = LazyLock::new(|| {
        LANGUAGES
            .iter()
            .map(|lang| {
                let html = render(
                    PAGE_TEMPLATE,
                    lang,
                    &[
                        ("title", text(lang, "page.title")),
                        ("loading", text(lang, "page.loading")),
                        ("noscript", text(lang, "page.noscript")),
                    ],
                );
                (*lang, html)
            })
            .collect()
    });
    let language = pick_language(language);
    PAGES.iter().find(|(lang, _)| *lang == language).map_or("", |(_, html)| html.as_str())
}

/// Why a page could not be shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorPage {
    /// An unknown client, flow or page.
    NotFound,
    /// A malformed parameter (an `externalId` that is not acceptable, say).
    BadRequest,
    /// Storage is unavailable or failed.
    Unavailable,
}

impl ErrorPage {
    fn key(self) -> &'static str {
        match self {
            ErrorPage::NotFound => "notFound",
            ErrorPage::BadRequest => "badRequest",
            ErrorPage::Unavailable => "unavailable",
        }
    }
}

/// A small self-contained error page in `language` (a tag or an `Accept-Language` value). It
/// uses the page's stylesheet and no script.
pub fn error_page(language: &str, which: ErrorPage) -> String {
    let language = pick_language(language);
    let title = text(language, &format!("errorPage.{}.title", which.key()));
    let body = text(language, &format!("errorPage.{}.text", which.key()));
    render(ERROR_TEMPLATE, language, &[("title", title), ("text", body)])
}

/// `embed.js`: a classic script that defines `window.VeriframeEmbed`.
pub fn embed_script() -> &'static str {
    EMBED_JS
}

/// `embed.mjs`: the same code as an ES module exporting `mount` and `VeriframeEmbed`.
pub fn embed_module() -> &'static str {
    static MODULE: LazyLock<String> = LazyLock::new(|| {
        format!(
            "{EMBED_JS}\nexport const VeriframeEmbed = globalThis.VeriframeEmbed;\nexport const mount = VeriframeEmbed.mount;\nexport default VeriframeEmbed;\n"
        )
    });
    &MODULE
}

/// A validator for `embed.js` and `embed.mjs` (they change only with a new build).
pub fn embed_etag() -> &'static str {
    static ETAG: LazyLock<String> =
        LazyLock::new(|| format!("\"{}\"", hex::encode(&Sha256::digest(EMBED_JS.as_bytes())[..8])));
    &ETAG
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assets_are_found_only_under_the_current_version() {
        let v = version();
        assert_eq!(v.len(), 16);
        assert_eq!(asset(&format!("{v}/app.js")).unwrap().content_type, JS);
        assert_eq!(asset(&format!("{v}/i18n/es-ES.json")).unwrap().content_type, JSON);
        assert!(asset("0000000000000000/app.js").is_none());
        assert!(asset(&format!("{v}/nope.js")).is_none());
        assert!(asset(&format!("{v}/../Cargo.toml")).is_none());
        assert!(asset("app.js").is_none());
    }

    #[test]
    fn the_page_points_at_versioned_assets_and_is_translated() {
        let html = page("es-ES");
        assert!(html.contains(&format!("src=\"{}app.js\"", assets_base())), "{html}");
        assert!(html.contains(&format!("href=\"{}app.css\"", assets_base())));
        assert!(html.contains("<html lang=\"es-ES\">"));
        assert!(html.contains("Cargando"));
        assert!(!html.contains("{{"), "an unfilled placeholder: {html}");
        assert!(page("fr-FR").contains("<html lang=\"en-US\">"));
        assert!(html.contains(r#"<main id="app" data-step="loading""#));
    }

    #[test]
    fn every_asset_the_modules_import_is_embedded() {
        for asset in ASSETS.iter().filter(|a| a.name.ends_with(".js")) {
            let source = std::str::from_utf8(asset.bytes).unwrap();
            for line in source.lines().filter(|l| l.starts_with("import ")) {
                let target = line.rsplit("\"./").next().unwrap().trim_end_matches("\";");
                assert!(
                    ASSETS.iter().any(|a| a.name == target),
                    "{} imports {target}, which is not embedded",
                    asset.name
                );
            }
        }
    }

    #[test]
    fn languages_are_picked_from_tags_and_headers() {
        assert_eq!(pick_language("es"), "es-ES");
        assert_eq!(pick_language("es-MX"), "es-ES");
        assert_eq!(pick_language("en-GB"), "en-US");
        assert_eq!(pick_language("fr-FR,fr;q=0.9,es;q=0.8"), "es-ES");
        assert_eq!(pick_language("de"), "en-US");
        assert_eq!(pick_language(""), "en-US");
    }

    #[test]
    fn error_pages_escape_and_translate() {
        assert_eq!(escape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
        let html = error_page("es", ErrorPage::NotFound);
        assert!(html.contains("Página no encontrada"));
        assert!(html.contains("data-step=\"error\""));
        assert!(!html.contains("{{"));
        assert!(error_page("en-US", ErrorPage::Unavailable).contains("Temporarily unavailable"));
    }

    #[test]
    fn embed_module_exports_mount() {
        assert!(embed_script().contains("global.VeriframeEmbed = "));
        assert!(!embed_script().contains("export "), "embed.js must stay a classic script");
        assert!(embed_module().contains("export const mount"));
        assert!(embed_etag().starts_with('"'));
    }
}
