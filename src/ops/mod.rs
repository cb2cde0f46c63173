//! Operations: what `st2` and `st2ctl` can do, each written once, below the commands (cargo's
//! `ops` is the model). A command parses its arguments into a request, calls one operation on
//! the [`Backend`] its `commands::Context` holds, and prints the views the
//! operation answers; an operation never prints.
//!
//! # The boundary
//!
//! [`Backend`] is the set of operation traits, one per area: packs (install, remove, list,
//! get, search, show, register, configs), executions (run, get, list, cancel, output), keys
//! and actions. Requests and answers are plain data (views), so that a second backend can
//! fill them:
//!
//! - [`local::Local`] is the embedded backend: the StackStorm layout on this machine, the
//!   SQLite store, virtualenvs, runners in child processes. One module per operation under
//!   `ops/local/`.
//! - [`remote::Remote`] (`../shared/spec/remote-api.md` §4) implements the same traits over a
//!   cluster's REST API, filling the same views, so the commands and the printer's layouts are
//!   the same in both modes: `entry` picks the backend by the mode switch
//!   (`settings::client`). [`AuthOps`] (`st2 login/auth/whoami`) only means something there.
//!
//! What a command shows while an operation runs (an install's steps, a run's output as it
//! comes) goes through observer traits the command implements and the operation calls.
//!
//! Errors: operations answer `anyhow::Result`; a request that cannot be carried out as
//! written is an [`InvalidRequest`] in the chain, which `entry` maps to exit code 2 (a remote
//! backend maps a 400 answer to it).

pub(crate) mod actions;
pub(crate) mod auth;
pub(crate) mod executions;
pub(crate) mod keys;
pub(crate) mod local;
pub(crate) mod packs;
pub(crate) mod remote;

pub(crate) use actions::ActionOps;
pub(crate) use auth::AuthOps;
pub(crate) use executions::ExecutionOps;
pub(crate) use keys::KeyOps;
pub(crate) use packs::PackOps;

/// Every operation a backend offers. Commands hold a `&dyn Backend`.
pub(crate) trait Backend: PackOps + ExecutionOps + KeyOps + ActionOps + AuthOps {}

impl<T: PackOps + ExecutionOps + KeyOps + ActionOps + AuthOps> Backend for T {}

/// A request that cannot be carried out as written (exit 2, like clap's own errors): an
/// unknown parameter, a bad value, an option that does not apply. Operations return it in
/// their error chain; `entry` maps it to `ExitStatus::Usage`.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct InvalidRequest(pub String);
