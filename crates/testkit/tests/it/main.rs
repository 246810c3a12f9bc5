//! Cross-crate tests against the real application over real HTTP, on SQLite and PostgreSQL.
//! One test binary, so the workspace links it once.

mod architecture;
mod authz;
mod errors;
mod guide;
mod store_conformance;
