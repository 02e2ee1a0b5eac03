//! vcall: a command-line video-call client and embedded SFU server.
pub mod admin;
pub mod auth;
pub mod cli;
pub mod client;
pub mod codec;
pub mod config;
pub mod congestion;
pub mod demo;
pub mod exit;
pub mod impair;
pub mod jsonl;
pub mod media;
pub mod peer;
pub mod record;
pub mod server;
pub mod session;
pub mod signaling;
