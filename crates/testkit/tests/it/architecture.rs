//! ARCHITECTURE.md's invariants, checked: the crate graph is an allow-list read from
//! `cargo metadata` (a new edge or a new crate fails until it is written down here and in the
//! document), the code map names every crate, and every path the document names exists.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Each workspace crate and the workspace crates it may depend on (normal dependencies; tests
/// and build scripts may use more). Written once: the one statement of the layering.
const ALLOWED: &[(&str, &[&str])] = &[
    ("veriframe-core", &[]),
    ("veriframe-api-types", &[]),
    ("veriframe-web", &[]),
    ("veriframe-vision", &[]),
    ("veriframe-client", &["veriframe-api-types"]),
    ("veriframe-blob", &["veriframe-core"]),
    ("veriframe-store", &["veriframe-core"]),
    ("veriframe-pipeline", &["veriframe-core", "veriframe-vision"]),
    ("veriframe-http", &["veriframe-api-types", "veriframe-core", "veriframe-web"]),
    (
        "veriframe",
        &[
            "veriframe-blob",
            "veriframe-core",
            "veriframe-http",
            "veriframe-pipeline",
            "veriframe-store",
            "veriframe-vision",
        ],
    ),
    // The integrator's reference backend uses the SDK only, as a customer would.
    ("veriframe-integrator", &["veriframe-client"]),
    ("veriframe-synth", &["veriframe-vision"]),
    (
        "veriframe-eval",
        &[
            "veriframe",
            "veriframe-api-types",
            "veriframe-client",
            "veriframe-core",
            "veriframe-http",
            "veriframe-synth",
            "veriframe-vision",
        ],
    ),
    (
        "veriframe-testkit",
        &[
            "veriframe",
            "veriframe-api-types",
            "veriframe-client",
            "veriframe-core",
            "veriframe-http",
            "veriframe-pipeline",
            "veriframe-synth",
            "veriframe-vision",
        ],
    ),
];

/// Crates outside the workspace that only the server's edges may use: the domain, the wire
/// types and the SDK stay free of runtimes, web frameworks, databases and models.
const SERVER_ONLY: &[&str] =
    &["tokio", "axum", "sqlx", "tower", "tower-http", "reqwest", "image", "rten", "object_store"];
const FREE_OF_SERVER_CRATES: &[&str] = &["veriframe-core", "veriframe-api-types"];

/// Further outside crates a layer must not reach for: inference runs no runtime or database,
/// the HTTP layer no SQL or models, the stores no web framework or models.
const FORBIDDEN_OUTSIDE: &[(&str, &[&str])] = &[
    ("veriframe-vision", &["tokio", "axum", "sqlx", "reqwest"]),
    ("veriframe-http", &["sqlx", "rten", "image"]),
    ("veriframe-store", &["axum", "rten", "image"]),
    ("veriframe-client", &["axum", "sqlx", "rten", "image"]),
];

/// Every workspace package with its normal dependencies, from `cargo metadata`.
fn workspace_graph() -> BTreeMap<String, BTreeSet<String>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .current_dir(root())
        .output()
        .expect("run cargo metadata");
    assert!(output.status.success(), "cargo metadata: {}", String::from_utf8_lossy(&output.stderr));
    let metadata: Value = serde_json::from_slice(&output.stdout).expect("cargo metadata's JSON");
    let packages = metadata["packages"].as_array().expect("packages");
    packages
        .iter()
        .map(|package| {
            let normal = package["dependencies"]
                .as_array()
                .expect("dependencies")
                .iter()
                .filter(|d| d["kind"].is_null())
                .map(|d| d["name"].as_str().expect("dependency name").to_owned())
                .collect();
            (package["name"].as_str().expect("package name").to_owned(), normal)
        })
        .collect()
}

#[test]
fn every_crate_and_edge_is_on_the_allow_list() {
    let graph = workspace_graph();
    let members: BTreeSet<&str> = graph.keys().map(String::as_str).collect();
    let listed: BTreeSet<&str> = ALLOWED.iter().map(|(name, _)| *name).collect();
    assert_eq!(members, listed, "the workspace's crates and the allow-list differ: write the new crate's place down");
    for (krate, allowed) in ALLOWED {
        let internal: BTreeSet<&str> =
            graph[*krate].iter().map(String::as_str).filter(|d| members.contains(d)).collect();
        let allowed: BTreeSet<&str> = allowed.iter().copied().collect();
        let extra: Vec<_> = internal.difference(&allowed).collect();
        assert!(extra.is_empty(), "{krate} depends on {extra:?}, which ARCHITECTURE.md does not allow");
    }
    let forbidden_lists =
        FREE_OF_SERVER_CRATES.iter().map(|k| (*k, SERVER_ONLY)).chain(FORBIDDEN_OUTSIDE.iter().copied());
    for (krate, forbidden) in forbidden_lists {
        let found: Vec<_> = graph[krate].iter().filter(|d| forbidden.contains(&d.as_str())).collect();
        assert!(found.is_empty(), "{krate} must not depend on {found:?} (see ARCHITECTURE.md)");
    }
    // Nothing the server runs depends on the lab or its synthetic inputs.
    for (krate, deps) in &graph {
        if krate != "veriframe-eval" && krate != "veriframe-testkit" && krate != "veriframe-synth" {
            assert!(
                !deps.contains("veriframe-synth") && !deps.contains("veriframe-eval"),
                "{krate} must not depend on the lab"
            );
        }
    }
}

#[test]
fn the_code_map_names_every_crate() {
    let doc = std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
    let crates = std::fs::read_dir(root().join("crates")).unwrap().filter_map(Result::ok);
    for krate in crates.filter(|e| e.path().join("Cargo.toml").exists()) {
        let name = krate.file_name().to_string_lossy().into_owned();
        assert!(doc.contains(&format!("`crates/{name}`")), "ARCHITECTURE.md does not describe crates/{name}");
    }
}

/// Every repository path ARCHITECTURE.md names in backticks (`crates/…`, `docs/…`, …) exists.
#[test]
fn every_path_the_document_names_exists() {
    let doc = std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
    let roots = ["crates/", "docs/", "examples/", "scripts/", "notes/", "eval/", ".ci/"];
    let mut checked = 0;
    // Inline code, line by line (a fenced block's ``` would upset the pairing of backticks).
    let mut fenced = false;
    let prose = doc.lines().filter(|line| {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            return false;
        }
        !fenced
    });
    for quoted in prose.flat_map(|line| line.split('`').skip(1).step_by(2)) {
        if roots.iter().any(|r| quoted.starts_with(r)) && !quoted.contains(' ') {
            let path = quoted.trim_end_matches(['.', ',', ':', ')']);
            assert!(root().join(path).exists(), "ARCHITECTURE.md names {path}, which does not exist");
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} paths found in ARCHITECTURE.md: did its format change?");
}
