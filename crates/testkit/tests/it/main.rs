//! Cross-crate tests against the real application over real HTTP, on SQLite and PostgreSQL.
//! One test binary, so the workspace links it once.

mod architecture;
mod authz;
mod browser;
mod capture_api;
mod durability;
mod embed;
mod errors;
mod guide;
mod pages;
mod robustness;
mod store_conformance;
mod verification;
