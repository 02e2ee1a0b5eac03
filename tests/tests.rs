//! All integration tests, built into one binary. Each module is one behaviour; they share
//! the harness in `common`.

mod common;

mod auth_errors;
mod completions;
mod config;
mod congestion;
mod connection;
mod engine;
mod expect;
mod files;
mod hostile;
mod impair;
mod janus;
mod json;
mod layout;
mod livekit;
mod load;
mod media;
mod metrics;
mod network;
mod p2p;
mod package;
mod page;
mod reconnect;
mod report;
mod session;
mod setup;
mod stats;
mod whip;
mod whip_peers;
