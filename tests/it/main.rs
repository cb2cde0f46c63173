//! The one integration-test binary: every test drives the real `st2`/`st2ctl` binaries against
//! a temporary StackStorm home, real git repositories and a loopback HTTP server.

mod common;

mod bad_input;
mod cli;
mod concurrency;
mod conformance;
mod install;
mod key;
mod network;
mod pack_commands;
mod reliability;
mod reload;
mod run;
mod secrets;
mod twitter;
