//! `st2 run ACTION [PARAMETERS]` (and `st2 action execute`): check the parameters, record the
//! execution, run it here (or in a background worker with `-a`), print it.

use std::io::Write;
use std::process::{Command, Stdio};

use anyhow::Context as _;

use crate::cli::RunArgs;
use crate::commands::execution::{cancel_on_signals, show, Display};
use crate::commands::{Context, ExitStatus};
use crate::execution::{self, PrepareError};
use crate::output::{Format, Printer};
use crate::settings::env;
use crate::store::{ExecutionStatus, Store};

/// Run the command.
pub fn run(args: &RunArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let (args, format) = take_trailing_flags(args, context.printer.format);
    let context = &Context {
        settings: context.settings.clone(),
        printer: Printer::new(format),
    };
    let args = &args;
    let settings = &context.settings;
    settings.ensure_writable()?;
    let mut store = Store::open(&settings.store_path)?;
    let request = execution::RunArgs {
        action_ref: args.action_ref.clone(),
        words: args.parameters.clone(),
        auto_dict: args.auto_dict,
        inherit_env: args.inherit_env,
        no_native: args.no_native,
    };
    let prepared = match execution::prepare(settings, &store, &request) {
        Ok(prepared) => prepared,
        Err(PrepareError::Invalid(message)) => {
            for line in message.lines() {
                context.printer.error(line);
            }
            return Ok(ExitStatus::Usage);
        }
        Err(PrepareError::Failed(message)) => anyhow::bail!(message),
    };
    for warning in &prepared.warnings {
        context.printer.warn(warning);
    }
    let id = execution::new_id();
    if args.run_async {
        // Our pid until the worker's is known: if we die before handing it over, the
        // record shows abandoned rather than requested forever.
        execution::start(
            &mut store,
            &prepared,
            &id,
            ExecutionStatus::Requested,
            std::process::id(),
        )?;
        let pid = spawn_worker(context, &id, &prepared).inspect_err(|err| {
            let result = serde_json::json!({ "error": format!("{err:#}") });
            let _ = store.finish_execution(
                &id,
                ExecutionStatus::Failed,
                &result,
                &execution::timestamp(),
            );
        })?;
        store.execution_started(&id, pid)?;
        if context.printer.is_data() {
            context
                .printer
                .data(&serde_json::json!({"id": id, "status": "requested"}));
        } else {
            context.printer.line(&format!(
                "To get the results, execute:\n st2 execution get {id}"
            ));
        }
        return Ok(ExitStatus::Success);
    }
    let cancel = cancel_on_signals()?;
    execution::start(
        &mut store,
        &prepared,
        &id,
        ExecutionStatus::Running,
        std::process::id(),
    )?;
    let record = execution::execute(settings, &mut store, &prepared, &id, &cancel)?;
    Ok(show(
        &record,
        &Display {
            detail: args.detail,
            key: args.key.clone(),
        },
        context,
    ))
}

/// Start `st2 execution worker ID` in its own session, detached from this terminal, and hand
/// it the prepared execution over its stdin.
fn spawn_worker(
    context: &Context,
    id: &str,
    prepared: &execution::Prepared,
) -> anyhow::Result<u32> {
    use std::os::unix::process::CommandExt;
    let exe = std::env::current_exe().context("finding the st2 program to start the worker")?;
    let settings = &context.settings;
    let mut command = Command::new(exe);
    command
        .args(["execution", "worker", id])
        .env(env::ST2_BASE_PATH, &settings.base_path)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    match &settings.config_file {
        Some(path) => command.env(env::ST2_CONF, path),
        None => command.env_remove(env::ST2_CONF),
    };
    // SAFETY: setsid is async-signal-safe; it detaches the worker from our terminal so that
    // Ctrl-C here or closing the shell does not stop it.
    unsafe {
        command.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let mut child = command.spawn().context("starting the background worker")?;
    let payload = serde_json::to_vec(prepared)?;
    let mut stdin = child.stdin.take().context("the worker has no stdin")?;
    stdin
        .write_all(&payload)
        .context("handing the execution to the background worker")?;
    drop(stdin);
    Ok(child.id())
}

/// Options written after the parameters (`st2 run core.local cmd=date -j`), as StackStorm's
/// CLI accepts them. Only among `key=value` words: from the first word without `=` on,
/// everything is the command (`st2 run core.local grep -a x` keeps its `-a`).
fn take_trailing_flags(args: &RunArgs, format: Format) -> (RunArgs, Format) {
    let mut args = args.clone();
    let mut format = format;
    let mut kept = Vec::new();
    let mut words = std::mem::take(&mut args.parameters).into_iter();
    while let Some(word) = words.next() {
        match word.as_str() {
            "-j" | "--json" => format = Format::Json,
            "-y" | "--yaml" => format = Format::Yaml,
            "-a" | "--async" => args.run_async = true,
            "-d" | "--detail" => args.detail = true,
            "-e" | "--inherit-env" => args.inherit_env = true,
            "--auto-dict" => args.auto_dict = true,
            "--no-native" => args.no_native = true,
            "-k" | "--key" => args.key = words.next(),
            _ if word.starts_with("--key=") => args.key = Some(word["--key=".len()..].to_string()),
            _ if word.contains('=') => kept.push(word),
            _ => {
                kept.push(word);
                kept.extend(words.by_ref());
            }
        }
    }
    args.parameters = kept;
    (args, format)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> RunArgs {
        RunArgs {
            action_ref: "core.local".into(),
            parameters: words.iter().map(|w| w.to_string()).collect(),
            run_async: false,
            detail: false,
            key: None,
            inherit_env: false,
            auto_dict: false,
            no_native: false,
        }
    }

    #[test]
    fn flags_after_parameters_are_options_until_the_command_starts() {
        let (parsed, format) = take_trailing_flags(
            &args(&["cmd=date", "-j", "-k", "stdout", "-a"]),
            Format::Table,
        );
        assert_eq!(parsed.parameters, ["cmd=date"]);
        assert_eq!(format, Format::Json);
        assert_eq!(parsed.key.as_deref(), Some("stdout"));
        assert!(parsed.run_async);
        let (parsed, format) =
            take_trailing_flags(&args(&["grep", "-a", "x", "-j"]), Format::Table);
        assert_eq!(parsed.parameters, ["grep", "-a", "x", "-j"]);
        assert_eq!(format, Format::Table);
        assert!(!parsed.run_async);
    }
}
