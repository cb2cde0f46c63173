//! Command implementations: one module per command. Each receives resolved [`Settings`] and a
//! [`Printer`], orchestrates the domain modules, and reports through the printer.

pub(crate) mod action;
pub(crate) mod auth;
pub(crate) mod completion;
pub(crate) mod execution;
pub(crate) mod key;
pub(crate) mod pack;
pub(crate) mod reload;
pub(crate) mod run;

use crate::cli::{St2Command, St2ctlCommand};
use crate::ops::Backend;
use crate::output::Printer;
use crate::settings::Settings;

/// How a command ended; mapped to the process exit code in one place ([`ExitStatus::code`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExitStatus {
    /// Everything asked for was done.
    Success,
    /// The operation failed (some or all of it).
    Failure,
    /// The command line or the input was invalid.
    Usage,
}

impl ExitStatus {
    /// The process exit code.
    pub(crate) fn code(self) -> u8 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Failure => 1,
            ExitStatus::Usage => 2,
        }
    }
}

/// A command line that cannot be carried out as written (exit 2, like clap's own errors):
/// return it from a command as an error, `entry` maps it to [`ExitStatus::Usage`].
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct UsageError(pub String);

/// What every command gets.
pub(crate) struct Context {
    /// Resolved settings.
    pub settings: Settings,
    /// The printer.
    pub printer: Printer,
    /// Where the operations are carried out ([`crate::ops`]).
    pub(crate) backend: Box<dyn Backend>,
}

impl Context {
    /// The backend the operations go to.
    pub(crate) fn backend(&self) -> &dyn Backend {
        self.backend.as_ref()
    }
}

/// Run an `st2` subcommand.
pub(crate) fn run_st2(command: St2Command, context: &Context) -> anyhow::Result<ExitStatus> {
    match command {
        St2Command::Pack(command) => pack::run(command, context),
        St2Command::Reload(args) => reload::run(&args, context),
        St2Command::Key(command) => key::run(command, context),
        St2Command::Run(args) => run::run(&args, &["run"], context),
        St2Command::Action(command) => action::run(command, context),
        St2Command::Execution(command) => execution::run(command, context),
        St2Command::Login(args) => auth::login(&args, context),
        St2Command::Auth(args) => auth::auth(&args, context),
        St2Command::Whoami => auth::whoami(context),
        St2Command::Completion { shell } => completion::completion(shell, context),
        St2Command::Man { page, output_dir } => {
            completion::man(&page, output_dir.as_deref(), context)
        }
    }
}

/// Run an `st2ctl` subcommand.
pub(crate) fn run_st2ctl(command: St2ctlCommand, context: &Context) -> anyhow::Result<ExitStatus> {
    match command {
        St2ctlCommand::Reload(args) => reload::run(&args, context),
    }
}
