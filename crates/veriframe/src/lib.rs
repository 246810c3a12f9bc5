//! The veriframe binary's library half: command-line parsing, configuration, and the
//! composition root that picks storage, blob and model implementations. Integration tests
//! boot the real server through this crate.
#![forbid(unsafe_code)]

pub mod app;
pub mod cli;
pub mod commands;
pub mod config;
pub mod fetch;
pub mod output;
pub mod telemetry;
