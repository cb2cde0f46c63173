//! st2-rs: a StackStorm-compatible pack manager and action runner.
//!
//! The library holds all the logic; the `st2` and `st2ctl` binaries call [`entry`]. Layers
//! depend in one direction: `entry` -> `commands` (one module per command, parsing `cli`'s
//! arguments and printing) -> `ops` (the operations, behind the `Backend` a remote mode can
//! implement) -> domain modules (`pack`, `register`, `action`, `runner`, ...) -> I/O and
//! primitives (`store`, `git`, `fs`, `sys`, ...). See `ARCHITECTURE.md`. The public surface
//! is what the binaries and the integration tests use.
#![warn(missing_docs)]

pub(crate) mod action;
pub(crate) mod casts;
pub(crate) mod cli;
pub(crate) mod commands;
pub(crate) mod config;
pub(crate) mod crypto;
pub(crate) mod datastore;
pub mod entry;
pub(crate) mod execution;
pub mod expressions;
pub(crate) mod failpoint;
pub(crate) mod fs;
pub(crate) mod git;
pub(crate) mod index;
pub(crate) mod lock;
pub(crate) mod native;
pub(crate) mod net;
pub(crate) mod oauth;
pub(crate) mod ops;
pub mod orquesta;
pub(crate) mod output;
pub(crate) mod pack;
pub(crate) mod redact;
pub(crate) mod register;
pub(crate) mod runner;
pub mod schema;
pub(crate) mod settings;
pub(crate) mod store;
pub(crate) mod sys;
#[cfg(test)]
mod test_support;
pub(crate) mod tls;
pub(crate) mod venv;
pub mod yaml;
pub mod yaql;
