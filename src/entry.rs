//! The two programs' `main`: parse the command line, set up logging, resolve settings, run
//! the command, and map the outcome to an exit code in one place. Errors are printed as one
//! `error:` line (the cause chain joined with `: `), never as a panic or a backtrace.

use std::process::ExitCode;

use crate::cli::{GlobalArgs, OutputArgs};
use crate::commands::{self, Context, ExitStatus, UsageError};
use crate::ops::local::Local;
use crate::ops::InvalidRequest;
use crate::output::{Format, Printer};
use crate::settings::{Overrides, Settings};

/// `main` of the `st2` binary, which is also `st2ctl` when called by that name: the release
/// packages install one binary and `st2ctl` as a link to it (`scripts/release.sh`), half the
/// size of two binaries that each hold the whole library.
pub fn main() -> ExitCode {
    crate::sys::confine_name_services();
    let called = std::env::args_os().next().map(std::path::PathBuf::from);
    match called.as_deref().and_then(std::path::Path::file_name) {
        Some(name) if name == "st2ctl" => st2ctl(),
        _ => st2(),
    }
}

/// `main` of `st2`.
pub fn st2() -> ExitCode {
    // `ssh`'s askpass program for the remote runners is `st2` itself.
    if let Some(code) = crate::runner::remote::askpass::answer_if_asked() {
        return code;
    }
    let cli = crate::cli::parse_st2();
    run(&cli.global, cli.output, |context| {
        commands::run_st2(cli.command, context)
    })
}

/// `main` of `st2ctl`.
pub fn st2ctl() -> ExitCode {
    crate::sys::confine_name_services();
    let cli = crate::cli::parse_st2ctl();
    run(&cli.global, cli.output, |context| {
        commands::run_st2ctl(cli.command, context)
    })
}

fn run(
    global: &GlobalArgs,
    output: OutputArgs,
    command: impl FnOnce(&Context) -> anyhow::Result<ExitStatus>,
) -> ExitCode {
    let format = if output.json {
        Format::Json
    } else if output.yaml {
        Format::Yaml
    } else {
        Format::Table
    };
    let printer = Printer::new(format);
    init_logging(global.debug, printer.stderr_color());
    let overrides = Overrides {
        config_file: global.config_file.clone(),
        base_path: global.base_path.clone(),
    };
    let status = match Settings::load(&overrides) {
        Err(err) => {
            printer.error(&err.to_string());
            ExitStatus::Failure
        }
        Ok(settings) => {
            tracing::debug!(?settings, "settings");
            let backend = Box::new(Local::new(settings.clone()));
            let context = Context {
                settings,
                printer,
                backend,
            };
            match command(&context) {
                Ok(status) => status,
                Err(err) => {
                    context.printer.error(&format!("{err:#}"));
                    if err.downcast_ref::<UsageError>().is_some()
                        || err.downcast_ref::<InvalidRequest>().is_some()
                    {
                        ExitStatus::Usage
                    } else {
                        ExitStatus::Failure
                    }
                }
            }
        }
    };
    ExitCode::from(status.code())
}

/// Debug logs on stderr, coloured as the printer colours stderr (only on a terminal, never
/// with `NO_COLOR`: logs often go to a file or a pipe).
fn init_logging(debug: bool, color: bool) {
    if !debug {
        return;
    }
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(color)
        .with_env_filter(tracing_subscriber::EnvFilter::new("st2_rs=debug"))
        .with_target(false)
        .try_init();
}
