//! The translation catalogues: the same keys in every language, every problem code the server
//! can answer (the domain's list and the one documented in docs/capture-api.md), and every key
//! the page's modules ask for.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use veriframe_core::verification::CaptureProblem;
use veriframe_web::{LANGUAGES, assets, catalogue};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn keys(language: &str) -> BTreeSet<String> {
    catalogue(language).unwrap_or_else(|| panic!("no catalogue for {language}")).keys().cloned().collect()
}

/// The codes docs/capture-api.md lists: after "Problem codes:" and after "Head-turn problem
/// codes:".
fn documented_codes() -> BTreeSet<String> {
    let doc = std::fs::read_to_string(repo().join("docs/capture-api.md")).expect("docs/capture-api.md");
    let mut codes = BTreeSet::new();
    for (start, end) in
        [("Problem codes:", "Messages are"), ("Head-turn problem codes:", "A challenge is answered once")]
    {
        let from = doc.find(start).unwrap_or_else(|| panic!("docs/capture-api.md no longer says {start:?}"));
        let rest = &doc[from + start.len()..];
        let to = rest.find(end).unwrap_or_else(|| panic!("docs/capture-api.md: {end:?} after {start:?}"));
        for token in rest[..to].split('`').skip(1).step_by(2) {
            if !token.is_empty() && token.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') {
                codes.insert(token.to_owned());
            }
        }
    }
    assert!(codes.len() >= 10, "too few documented codes found: {codes:?}");
    codes
}

#[test]
fn every_language_has_the_same_keys_and_no_empty_string() {
    let reference = keys(LANGUAGES[0]);
    for language in LANGUAGES {
        let these = keys(language);
        let missing: Vec<_> = reference.difference(&these).collect();
        let extra: Vec<_> = these.difference(&reference).collect();
        assert!(missing.is_empty() && extra.is_empty(), "{language}: missing {missing:?}, extra {extra:?}");
        for (key, value) in catalogue(language).unwrap() {
            let text = value.as_str().unwrap_or_else(|| panic!("{language} {key}: not a string"));
            assert!(!text.trim().is_empty(), "{language} {key}: empty");
        }
    }
}

#[test]
fn every_problem_code_is_translated() {
    let mut codes: BTreeSet<String> = CaptureProblem::ALL.into_iter().map(|p| p.code().to_owned()).collect();
    codes.extend(documented_codes());
    // Problems the page finds itself, before the server sees anything.
    codes.extend(["UPLOAD_TOO_LARGE".to_owned(), "UPLOAD_UNSUPPORTED".to_owned()]);
    for language in LANGUAGES {
        let keys = keys(language);
        let missing: Vec<_> = codes.iter().filter(|c| !keys.contains(&format!("problem.{c}"))).collect();
        assert!(missing.is_empty(), "{language} lacks translations for {missing:?}");
    }
}

#[test]
fn every_documented_code_is_one_the_domain_knows() {
    let known: BTreeSet<String> = CaptureProblem::ALL.into_iter().map(|p| p.code().to_owned()).collect();
    for code in documented_codes() {
        assert!(known.contains(&code), "docs/capture-api.md lists {code}, which the server never answers");
    }
}

/// Keys the modules build at run time; the literal ones are found by reading the sources.
fn dynamic_keys() -> Vec<String> {
    let mut keys = Vec::new();
    for kind in ["front", "back", "selfie"] {
        keys.push(format!("capture.{kind}.title"));
        keys.push(format!("capture.{kind}.hint"));
    }
    for reason in ["denied", "blocked", "missing", "busy", "unsupported", "inapp", "failed", "lost"] {
        keys.push(format!("camera.problem.{reason}"));
    }
    for step in ["consent", "front", "back", "selfie", "liveness", "processing", "done", "expired"] {
        keys.push(format!("step.{step}"));
    }
    for page in ["notFound", "badRequest", "unavailable"] {
        keys.push(format!("errorPage.{page}.title"));
        keys.push(format!("errorPage.{page}.text"));
    }
    keys.extend(["page.title", "page.loading", "page.noscript"].map(str::to_owned));
    keys
}

/// `t("key"` and `t(cond ? "a" : "b"` and `{ X: "error.x" }` style literals: every quoted string
/// in a module that looks like a catalogue key (a known prefix, a dot, no spaces).
fn literal_keys() -> BTreeSet<String> {
    let prefixes = [
        "page.",
        "step.",
        "consent.",
        "capture.",
        "camera.",
        "upload.",
        "handoff.",
        "liveness.",
        "processing.",
        "done.",
        "expired.",
        "error.",
        "problem.",
    ];
    let mut found = BTreeSet::new();
    for asset in assets().iter().filter(|a| a.name.ends_with(".js")) {
        let source = std::str::from_utf8(asset.bytes).unwrap();
        for quoted in source.split('"').skip(1).step_by(2) {
            let looks_like_key = prefixes.iter().any(|p| quoted.starts_with(p))
                && !quoted.contains(' ')
                && !quoted.contains('$')
                && !quoted.ends_with('.')
                && quoted.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_');
            if looks_like_key {
                found.insert(quoted.to_owned());
            }
        }
    }
    assert!(found.len() > 40, "the key scan found too little: {found:?}");
    found
}

#[test]
fn every_key_the_page_uses_exists() {
    let keys = keys(LANGUAGES[0]);
    let mut wanted = literal_keys();
    wanted.extend(dynamic_keys());
    let missing: Vec<_> = wanted.iter().filter(|k| !keys.contains(*k)).collect();
    assert!(missing.is_empty(), "keys used by the page but missing from the catalogues: {missing:?}");
}
