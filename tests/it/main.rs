//! The one integration-test binary: every test drives the real `st2`/`st2ctl` binaries against
//! a temporary StackStorm home, real git repositories and a loopback HTTP server.
#![allow(
    unsafe_code,
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "the tests' harness signals and inspects processes, and prints seeds and skips"
)]

mod common;
mod st2server;

mod bad_input;
mod cli;
mod concurrency;
mod conformance;
mod exchange_workflows;
mod execution_rerun;
mod install;
mod install_failures;
mod jinja_differential;
mod key;
mod network;
mod orquesta_differential;
mod orquesta_run;
mod pack_commands;
mod pack_lifecycle;
mod packaging;
mod params_differential;
mod reliability;
mod reload;
mod remote;
mod remote_parity;
mod remote_runner;
mod run;
mod run_experience;
mod secrets;
mod snapshots;
mod twitter;
mod upstream_action_chain;
mod upstream_cli_action;
mod upstream_config_loader;
mod upstream_core_sendmail;
mod upstream_local_runner;
mod upstream_orquesta_cancel;
mod upstream_orquesta_context;
mod upstream_orquesta_data_flow;
mod upstream_orquesta_delay;
mod upstream_orquesta_error_handling;
mod upstream_orquesta_functions;
mod upstream_orquesta_runner;
mod upstream_orquesta_with_items;
mod upstream_param_utils;
mod upstream_python_runner;
mod upstream_registrar;
mod upstream_st2client_auth;
mod upstream_st2client_client;
mod upstream_st2client_config_parser;
mod upstream_st2client_execution_tail_command;
mod upstream_st2client_shell;
mod upstream_st2client_ssl;
mod upstream_st2client_util_date;
mod yaml_differential;
mod yaql_differential;
