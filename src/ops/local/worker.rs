//! The background worker of `st2 run -a`: a detached `st2 execution worker ID` that gets the
//! prepared execution (secrets included) over its stdin, and its settings as options (the
//! action's environment is the caller's). A `delayed` execution (`st2 execution re-run
//! --delay`) comes with its delay, which the worker waits out first.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::Context as _;

use super::prepare::Prepared;
use super::run::execute;
use crate::ops::executions::RunObserver;
use crate::settings::Settings;
use crate::store::Store;

/// Start `st2 execution worker ID` in its own session, detached from this terminal, and hand
/// it the prepared execution over its stdin.
pub(super) fn spawn(settings: &Settings, id: &str, prepared: &Prepared) -> anyhow::Result<u32> {
    spawn_delayed(settings, id, prepared, None)
}

/// The key of the handed-over execution that holds a `delayed` one's delay (milliseconds).
const DELAY_KEY: &str = "delay_ms";

/// [`spawn`] for an execution recorded `delayed` (`st2 execution re-run --delay`): the
/// worker waits out `delay` before it runs it.
pub(super) fn spawn_delayed(
    settings: &Settings,
    id: &str,
    prepared: &Prepared,
    delay: Option<Duration>,
) -> anyhow::Result<u32> {
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
    let mut payload = serde_json::to_value(prepared)?;
    if let (Some(delay), Some(map)) = (delay, payload.as_object_mut()) {
        let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        map.insert(DELAY_KEY.into(), ms.into());
    }
    let payload = serde_json::to_vec(&payload)?;
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
    // First, so that a cancel that comes while the worker starts is seen (a `delayed`
    // execution is canceled, anything else ends `canceled before it started`).
    let cancel = observer.cancel_flag()?;
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .context("reading the execution to run")?;
    let mut payload: serde_json::Value =
        serde_json::from_str(&input).context("reading the execution to run")?;
    let delay = payload
        .as_object_mut()
        .and_then(|map| map.remove(DELAY_KEY))
        .and_then(|ms| ms.as_u64())
        .map(Duration::from_millis);
    let prepared: Prepared =
        serde_json::from_value(payload).context("reading the execution to run")?;
    let mut store = Store::open(&settings.store_path)?;
    store.execution_started(id, std::process::id())?;
    if let Some(delay) = delay {
        if !super::execution_rerun::wait_out_delay(&mut store, id, delay, &cancel)? {
            return Ok(());
        }
    }
    execute(settings, &mut store, &prepared, id, &cancel, None)?;
    Ok(())
}
