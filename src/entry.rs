//! The two programs' `main`: parse the command line, set up logging, resolve settings, pick
//! the backend (local, or a cluster's API: the mode switch of `settings::client`), run the
//! command, and map the outcome to an exit code in one place. Errors are printed as one
//! `error:` line (the cause chain joined with `: `), never as a panic or a backtrace.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::cli::{GlobalArgs, OutputArgs, St2Command};
use crate::commands::{self, Context, ExitStatus, UsageError};
use crate::ops::local::Local;
use crate::ops::remote::Remote;
use crate::ops::{Backend, InvalidRequest};
use crate::output::{Format, Printer};
use crate::settings::client::{process_env, ClientArgs, ClientSettings, Mode};
use crate::settings::ini::Ini;
use crate::settings::{env, Overrides, Settings};

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
    // These talk to a cluster whatever the mode switch says (st2client's defaults when
    // nothing names one).
    let remote_only = match &cli.command {
        St2Command::Login(_) => Some("login"),
        St2Command::Auth(_) => Some("auth"),
        St2Command::Whoami => Some("whoami"),
        _ => None,
    };
    run(&cli.global, cli.output, remote_only, |context| {
        commands::run_st2(cli.command, context)
    })
}

/// `main` of `st2ctl`.
pub fn st2ctl() -> ExitCode {
    crate::sys::confine_name_services();
    let cli = crate::cli::parse_st2ctl();
    run(&cli.global, cli.output, None, |context| {
        commands::run_st2ctl(cli.command, context)
    })
}

fn run(
    global: &GlobalArgs,
    output: OutputArgs,
    remote_only: Option<&str>,
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
    if global.print_config {
        return print_config(global, remote_only, &printer);
    }
    let status = match context(global, remote_only, &printer) {
        Err(err) => {
            printer.error(&format!("{err:#}"));
            exit_status(&err)
        }
        Ok(context) => match command(&context) {
            Ok(status) => status,
            Err(err) => {
                context.printer.error(&format!("{err:#}"));
                exit_status(&err)
            }
        },
    };
    ExitCode::from(status.code())
}

/// Usage errors and requests that cannot be carried out as written exit 2, the rest 1.
fn exit_status(err: &anyhow::Error) -> ExitStatus {
    if err.downcast_ref::<UsageError>().is_some()
        || err.downcast_ref::<InvalidRequest>().is_some()
        || err
            .downcast_ref::<crate::settings::client::ClientSettingsError>()
            .is_some()
    {
        ExitStatus::Usage
    } else {
        ExitStatus::Failure
    }
}

/// `--print-config`: the settings, then exit 3 (st2client's status for it, `shell.py`).
fn print_config(global: &GlobalArgs, remote_only: Option<&str>, printer: &Printer) -> ExitCode {
    let lines = client_settings(global, remote_only).and_then(|client| {
        let mut lines = client.print_config();
        if client.mode == Mode::Local {
            let overrides = Overrides {
                config_file: global.config_file.clone(),
                base_path: global.base_path.clone(),
            };
            let settings =
                Settings::load(&overrides).map_err(|err| anyhow::anyhow!(err.to_string()))?;
            lines.extend(settings.describe_local(&overrides));
        }
        Ok(lines)
    });
    match lines {
        Ok(lines) => {
            for line in lines {
                printer.line(&line);
            }
            ExitCode::from(3)
        }
        Err(err) => {
            printer.error(&format!("{err:#}"));
            ExitCode::from(exit_status(&err).code())
        }
    }
}

/// The CLI's settings and the mode (`st2 login`, `auth` and `whoami` always remote).
fn client_settings(
    global: &GlobalArgs,
    remote_only: Option<&str>,
) -> anyhow::Result<ClientSettings> {
    let remote = &global.remote;
    let args = ClientArgs {
        config_file: global.config_file.clone(),
        skip_config: remote.skip_config,
        url: remote.url.clone(),
        api_url: remote.api_url.clone(),
        auth_url: remote.auth_url.clone(),
        stream_url: remote.stream_url.clone(),
        api_version: remote.api_version.clone(),
        cacert: remote.cacert.clone(),
        basic_auth: remote.basic_auth.clone(),
        token: remote.token.clone(),
        api_key: remote.api_key.clone(),
        mode: remote.mode.clone(),
        http_timeout: remote.http_timeout.clone(),
        debug: global.debug,
    };
    let home = process_env(env::HOME).map_or_else(|| PathBuf::from("/"), PathBuf::from);
    let mut client = ClientSettings::load(&args, &process_env, &home)?;
    if let (Some(command), Mode::Local, false) = (remote_only, client.mode, client.mode_forced) {
        client.mode = Mode::Remote;
        client.mode_reason = format!("st2 {command} always talks to a cluster");
    }
    Ok(client)
}

/// The settings and the backend the mode switch picks.
fn context(
    global: &GlobalArgs,
    remote_only: Option<&str>,
    printer: &Printer,
) -> anyhow::Result<Context> {
    let mut client = client_settings(global, remote_only)?;
    // `[cli] debug` in the CLI config, as st2client honours it.
    if client.debug && !global.debug {
        init_logging(true, printer.stderr_color());
    }
    // `[cli] timezone`, in both modes: one user reads times one way, whichever backend.
    let printer = &printer.clone().with_timezone(client.timezone.value.clone());
    for line in client.describe() {
        tracing::debug!("{line}");
    }
    let overrides = Overrides {
        config_file: global.config_file.clone(),
        base_path: global.base_path.clone(),
    };
    match client.mode {
        Mode::Local => {
            // Its errors say what they are in one line (their `source` is in the message).
            let settings =
                Settings::load(&overrides).map_err(|err| anyhow::anyhow!(err.to_string()))?;
            tracing::debug!(?settings, "settings");
            let backend: Box<dyn Backend> = Box::new(Local::new(settings.clone()));
            Ok(Context {
                settings,
                printer: printer.clone(),
                backend,
            })
        }
        Mode::Remote => {
            if let Some(problem) = client.config_error.take() {
                return Err(crate::settings::client::ClientSettingsError(problem).into());
            }
            if global.base_path.is_some() {
                return Err(InvalidRequest("--base-path only applies to local mode".into()).into());
            }
            // st2.conf and the StackStorm layout of this machine are not used: the defaults
            // stand in for them.
            let settings = Settings::from_ini(&Ini::default(), None, None)
                .map_err(|err| anyhow::anyhow!(err.to_string()))?;
            let warner = printer.clone();
            let backend: Box<dyn Backend> = Box::new(Remote::new(
                client,
                Box::new(move |message: &str| warner.warn(message)),
            )?);
            Ok(Context {
                settings,
                printer: printer.clone(),
                backend,
            })
        }
    }
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
