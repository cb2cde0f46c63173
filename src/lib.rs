//! st2-rs: a StackStorm-compatible pack manager and action runner.
//!
//! The library holds all the logic; the `st2` and `st2ctl` binaries call [`entry`]. Layers
//! depend in one direction: [`cli`] (argument definitions) -> [`commands`] (one module per
//! command) -> domain modules ([`pack`], [`index`], [`git`], [`register`], [`store`],
//! [`venv`], [`runner`]) -> I/O. See `ARCHITECTURE.md`.
#![warn(missing_docs)]

pub mod action;
pub mod cli;
pub mod commands;
pub mod config;
pub mod crypto;
pub mod datastore;
pub mod entry;
pub mod execution;
pub mod expressions;
pub mod failpoint;
pub mod fs;
pub mod git;
pub mod index;
pub mod lock;
pub mod native;
pub mod oauth;
pub(crate) mod ops;
pub mod output;
pub mod pack;
pub mod redact;
pub mod register;
pub mod runner;
pub mod schema;
pub mod settings;
pub mod store;
pub(crate) mod sys;
pub mod venv;
pub mod yaml;
