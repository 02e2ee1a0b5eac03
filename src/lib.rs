//! vcall: a command-line video-call client and embedded SFU server.
pub mod peer;
pub mod auth;
pub mod session;
pub mod signaling;
pub mod server;
pub mod media;
pub mod codec;
pub mod record;
pub mod admin;
pub mod cli;
pub mod client;
pub mod demo;
pub mod exit;
