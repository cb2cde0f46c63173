//! `st2 run ACTION [PARAMETERS]` (and `st2 action execute`): hand the run to the backend
//! (which checks the parameters, records the execution and runs it, or has a background
//! worker run it with `-a`), print it. On a terminal the action's output is shown as it
//! comes, and something moves while it prints nothing.
//! `st2 run ACTION -h` prints the action's parameters instead.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use crate::cli::RunArgs;
use crate::commands::execution::{cancel_on_signals, show, ShowOptions};
use crate::commands::{Context, ExitStatus, UsageError};
use crate::ops::executions::{LiveView, RunActionRequest, RunObserver};
use crate::ops::InvalidRequest;
use crate::runner::output::OutputStream;
use crate::runner::CancelFlag;
use crate::store::ExecutionStatus;

/// Run the command; `command_path` names it (`["run"]` or `["action", "execute"]`) for its
/// help.
pub(crate) fn run(
    args: &RunArgs,
    command_path: &[&str],
    context: &Context,
) -> anyhow::Result<ExitStatus> {
    if args.help {
        return match &args.action_ref {
            Some(action_ref) => crate::commands::action::help(action_ref, context),
            None => {
                print_command_help(command_path, context);
                Ok(ExitStatus::Success)
            }
        };
    }
    let Some(action_ref) = args.action_ref.clone() else {
        return Err(UsageError("the action to run is missing: st2 run PACK.ACTION".into()).into());
    };
    let request = RunActionRequest {
        action_ref,
        words: args.parameters.clone(),
        auto_dict: args.auto_dict,
        inherit_env: args.inherit_env,
        no_native: args.no_native,
    };
    let mut observer = RunCommand { args, context };
    let backend = context.backend();
    if args.run_async {
        let id = match refused(backend.run_action_async(&request, &mut observer), context)? {
            Ok(id) => id,
            Err(status) => return Ok(status),
        };
        print_started(&id, ExecutionStatus::Requested, context);
        return Ok(ExitStatus::Success);
    }
    let execution = match refused(backend.run_action(&request, &mut observer), context)? {
        Ok(execution) => execution,
        Err(status) => return Ok(status),
    };
    Ok(show(
        &execution,
        &ShowOptions {
            detail: args.detail,
            key: args.key.clone(),
            depth: None,
            raw: false,
        },
        context,
    ))
}

/// What `-a` prints once the execution is recorded: where to look (upstream's words), or
/// with `-j/-y` its id and status.
pub(crate) fn print_started(id: &str, status: ExecutionStatus, context: &Context) {
    if context.printer.is_data() {
        context
            .printer
            .data(&serde_json::json!({"id": id, "status": status.as_str()}));
    } else {
        context.printer.line(&format!(
            "To get the results, execute:\n st2 execution get {id}\n\n\
             To view output in real-time, execute:\n st2 execution tail {id}"
        ));
    }
}

/// A run the backend refused ([`InvalidRequest`]): one `error:` line per problem, and the
/// exit status to end with.
pub(crate) fn refused<T>(
    answer: anyhow::Result<T>,
    context: &Context,
) -> anyhow::Result<Result<T, ExitStatus>> {
    match answer {
        Ok(value) => Ok(Ok(value)),
        Err(err) => match err.downcast_ref::<InvalidRequest>() {
            Some(InvalidRequest(message)) => {
                for line in message.lines() {
                    context.printer.error(line);
                }
                Ok(Err(ExitStatus::Usage))
            }
            None => Err(err),
        },
    }
}

/// `st2 run`'s part in the run: its warnings, Ctrl-C, and its output on a terminal (also
/// `st2 execution re-run`'s, with its options as `st2 run`'s).
pub(crate) struct RunCommand<'a> {
    pub(crate) args: &'a RunArgs,
    pub(crate) context: &'a Context,
}

impl RunObserver for RunCommand<'_> {
    fn warning(&mut self, message: &str) {
        self.context.printer.warn(message);
    }

    fn cancel_flag(&mut self) -> anyhow::Result<CancelFlag> {
        cancel_on_signals()
    }

    fn live_view(&mut self, action_ref: &str) -> Option<Box<dyn LiveView>> {
        terminal_view(self.args, self.context, action_ref)
    }
}

/// `st2 run -h` without an action: the command's own help.
fn print_command_help(command_path: &[&str], context: &Context) {
    use clap::CommandFactory;
    let mut command = crate::cli::St2Cli::command();
    command.build();
    let mut current = &mut command;
    for name in command_path {
        current = current
            .find_subcommand_mut(name)
            .expect("the command path names st2 subcommands");
    }
    context
        .printer
        .stdout(&current.render_long_help().to_string());
}

/// What `st2 run` shows while the action runs: its output as it comes when stdout is a
/// terminal (not with `-j`, `-y` or `-k`, whose output is data) or with `--tail`, and a
/// spinner on stderr when that is a terminal.
fn terminal_view(args: &RunArgs, context: &Context, action_ref: &str) -> Option<Box<dyn LiveView>> {
    let show_output = args.tail
        || (std::io::stdout().is_terminal() && !context.printer.is_data() && args.key.is_none());
    let spinner = context.printer.stderr_is_terminal()
        && std::env::var_os(crate::settings::env::TERM).is_none_or(|term| term != "dumb");
    if !show_output && !spinner {
        return None;
    }
    Some(Box::new(Terminal {
        show_output,
        spinner,
        stdout_is_terminal: std::io::stdout().is_terminal(),
        label: action_ref.to_string(),
        started: Instant::now(),
        last_output: None,
        at_line_start: true,
        spinner_drawn: false,
        frame: 0,
        last_frame: None,
        printed: false,
        stdout_at_line_start: true,
    }))
}

/// How long a run stays quiet before the spinner shows (a quick run never shows it).
const SPINNER_AFTER: Duration = Duration::from_millis(300);

/// How long after the last output the spinner comes back.
const SPINNER_QUIET: Duration = Duration::from_millis(500);

/// How often the spinner moves.
const SPINNER_FRAME: Duration = Duration::from_millis(100);

const SPINNER_FRAMES: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/// The live view of `st2 run` on a terminal.
struct Terminal {
    show_output: bool,
    spinner: bool,
    stdout_is_terminal: bool,
    label: String,
    started: Instant,
    last_output: Option<Instant>,
    /// Whether the terminal's cursor is at the start of a line (the spinner is drawn only
    /// then, so that it never overwrites a partial line the action printed).
    at_line_start: bool,
    spinner_drawn: bool,
    frame: usize,
    last_frame: Option<Instant>,
    printed: bool,
    stdout_at_line_start: bool,
}

impl Terminal {
    fn clear_spinner(&mut self) {
        if self.spinner_drawn {
            let _ = std::io::stderr().write_all(b"\r\x1b[K");
            self.spinner_drawn = false;
        }
    }
}

impl LiveView for Terminal {
    fn output(&mut self, stream: OutputStream, data: &[u8]) {
        if !self.show_output {
            return;
        }
        self.last_output = Some(Instant::now());
        self.clear_spinner();
        let ends_line = data.ends_with(b"\n");
        // Errors (a closed pipe) are not the run's: it goes on, and is recorded.
        match stream {
            OutputStream::Stdout => {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(data).and_then(|()| out.flush());
                self.stdout_at_line_start = ends_line;
                if self.stdout_is_terminal {
                    self.at_line_start = ends_line;
                }
            }
            OutputStream::Stderr => {
                let _ = std::io::stderr().write_all(data);
                self.at_line_start = ends_line;
            }
        }
        self.printed = true;
    }

    fn tick(&mut self) {
        if !self.spinner || !self.at_line_start {
            return;
        }
        let quiet = match self.last_output {
            Some(at) => at.elapsed() >= SPINNER_QUIET,
            None => self.started.elapsed() >= SPINNER_AFTER,
        };
        if !quiet
            || self
                .last_frame
                .is_some_and(|at| at.elapsed() < SPINNER_FRAME)
        {
            return;
        }
        self.last_frame = Some(Instant::now());
        self.frame = (self.frame + 1) % SPINNER_FRAMES.len();
        let line = format!(
            "\r\x1b[K{} {}: running for {} (Ctrl-C cancels)",
            SPINNER_FRAMES[self.frame],
            self.label,
            elapsed_text(self.started.elapsed())
        );
        let _ = std::io::stderr().write_all(line.as_bytes());
        self.spinner_drawn = true;
    }

    fn finish(&mut self) {
        self.clear_spinner();
        if self.printed {
            // The execution follows, after a blank line.
            let ending: &[u8] = if self.stdout_at_line_start {
                b"\n"
            } else {
                b"\n\n"
            };
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(ending).and_then(|()| out.flush());
        }
    }
}

/// `7s`, `2m 05s`, `1h 02m`.
fn elapsed_text(elapsed: Duration) -> String {
    let seconds = elapsed.as_secs();
    match seconds {
        0..60 => format!("{seconds}s"),
        60..3600 => format!("{}m {:02}s", seconds / 60, seconds % 60),
        _ => format!("{}h {:02}m", seconds / 3600, seconds % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elapsed_time_reads_at_a_glance() {
        assert_eq!(elapsed_text(Duration::from_millis(7_400)), "7s");
        assert_eq!(elapsed_text(Duration::from_secs(125)), "2m 05s");
        assert_eq!(elapsed_text(Duration::from_secs(3_720)), "1h 02m");
    }
}
