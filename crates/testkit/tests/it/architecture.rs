//! ARCHITECTURE.md's invariants, checked: which crate may depend on which, and a code map that
//! names every crate.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn crates() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root().join("crates"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.path().join("Cargo.toml").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Normal (non-dev) dependencies of a crate.
fn dependencies(krate: &str) -> BTreeSet<String> {
    let text = std::fs::read_to_string(root().join("crates").join(krate).join("Cargo.toml")).unwrap();
    let manifest: toml::Table = text.parse().unwrap();
    manifest.get("dependencies").and_then(|d| d.as_table()).map(|d| d.keys().cloned().collect()).unwrap_or_default()
}

#[test]
fn crates_depend_only_on_what_they_may() {
    // (crate, dependencies it must never have)
    let server_only = ["tokio", "axum", "sqlx", "tower", "tower-http", "reqwest", "image", "rten", "object_store"];
    let rules: Vec<(&str, Vec<&str>)> = vec![
        ("core", [&server_only[..], &["veriframe-api-types", "veriframe-http", "veriframe-vision"]].concat()),
        ("api-types", [&server_only[..], &["veriframe-core"]].concat()),
        (
            "client",
            vec![
                "veriframe-core",
                "veriframe-http",
                "veriframe-store-sqlite",
                "veriframe-store-postgres",
                "axum",
                "sqlx",
            ],
        ),
        ("vision", vec!["tokio", "axum", "sqlx", "veriframe-core", "veriframe-http", "reqwest"]),
        ("http", vec!["sqlx", "veriframe-store-sqlite", "veriframe-store-postgres", "rten", "image"]),
        ("store-sqlite", vec!["axum", "veriframe-http", "veriframe-api-types", "rten", "image"]),
        ("store-postgres", vec!["axum", "veriframe-http", "veriframe-api-types", "rten", "image"]),
    ];
    for (krate, forbidden) in rules {
        if !root().join("crates").join(krate).exists() {
            continue;
        }
        let deps = dependencies(krate);
        for f in forbidden {
            assert!(!deps.contains(f), "crates/{krate} must not depend on {f} (see ARCHITECTURE.md)");
        }
    }
}

#[test]
fn the_code_map_names_every_crate() {
    let doc = std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
    for krate in crates() {
        assert!(doc.contains(&format!("`crates/{krate}`")), "ARCHITECTURE.md does not describe crates/{krate}");
    }
}
