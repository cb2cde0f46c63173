//! The background worker of `st2 run -a`: a detached `st2 execution worker ID` that gets the
//! prepared execution (secrets included) over its stdin, and its settings as options (the
//! action's environment is the caller's).

use std::io::{Read, Write};
use std::process::{Command, Stdio};

use anyhow::Context as _;

use super::prepare::Prepared;
use super::run::execute;
use crate::ops::executions::RunObserver;
use crate::settings::Settings;
use crate::store::Store;

/// Start `st2 execution worker ID` in its own session, detached from this terminal, and hand
/// it the prepared execution over its stdin.
pub(super) fn spawn(settings: &Settings, id: &str, prepared: &Prepared) -> anyhow::Result<u32> {
    let exe = std::env::current_exe().context("finding the st2 program to start the worker")?;
    let mut command = Command::new(exe);
    // The settings go on the command line, not in the environment: the action gets this
    // process's environment unchanged, as it would in the foreground.
    command.arg("--base-path").arg(&settings.base_path);
    if let Some(path) = &settings.config_file {
        command.arg("--config-file").arg(path);
    }
    command
        .args(["execution", "worker", id])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // Detached from our terminal so that Ctrl-C here or closing the shell does not stop it.
    crate::sys::detach_session(&mut command);
    let mut child = command.spawn().context("starting the background worker")?;
    let payload = serde_json::to_vec(prepared)?;
    let mut stdin = child.stdin.take().context("the worker has no stdin")?;
    stdin
        .write_all(&payload)
        .context("handing the execution to the background worker")?;
    drop(stdin);
    Ok(child.id())
}

/// The worker itself: the prepared execution arrives on stdin; it runs and is recorded.
pub(super) fn work(
    settings: &Settings,
    id: &str,
    observer: &mut dyn RunObserver,
) -> anyhow::Result<()> {
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .context("reading the execution to run")?;
    let prepared: Prepared =
        serde_json::from_str(&input).context("reading the execution to run")?;
    let mut store = Store::open(&settings.store_path)?;
    store.execution_started(id, std::process::id())?;
    let cancel = observer.cancel_flag()?;
    execute(settings, &mut store, &prepared, id, &cancel, None)?;
    Ok(())
}
