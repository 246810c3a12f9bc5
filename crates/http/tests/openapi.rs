//! The committed `openapi.json` is what the routes generate. Regenerate it with
//! `UPDATE_OPENAPI=1 cargo test -p veriframe-http --test openapi`.

use std::path::Path;

#[test]
fn committed_openapi_matches_the_routes() {
    let generated = serde_json::to_string_pretty(&veriframe_http::openapi()).unwrap() + "\n";
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../openapi.json");
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "openapi.json is out of date with the routes; regenerate it with \
         UPDATE_OPENAPI=1 cargo test -p veriframe-http --test openapi"
    );
}

#[test]
fn every_session_endpoint_exists_in_both_forms() {
    let api = serde_json::to_value(veriframe_http::openapi()).unwrap();
    let paths = api["paths"].as_object().unwrap();
    for keyed in paths.keys().filter(|p| p.starts_with("/omni/") && *p != "/omni/start") {
        assert!(paths.contains_key(&format!("/0{keyed}")), "{keyed} has no /0 form");
    }
    for path in
        ["/omni/start", "/0/omni/onboarding-url", "/0/omni/get/onboarding/status", "/executive/log-in", "/healthz"]
    {
        assert!(paths.contains_key(path), "{path} missing");
    }
}
