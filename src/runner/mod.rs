//! Runners: what executes an action.
//!
//! This module knows every runner type StackStorm 3.9.0 ships and its parameters (the
//! embedded `runners.yaml`, upstream's `runner.yaml` files unchanged), so that registration
//! can refuse an unknown `runner_type` and `st2 run` can merge runner and action parameters.
//! [`execute_action`] dispatches one execution to the runner that implements it:
//!
//! | runner | module |
//! |---|---|
//! | `local-shell-cmd`, `local-shell-script` | [`shell`] |
//! | `python-script` | [`python`] |
//! | `http-request` | [`http`] |
//! | `remote-shell-cmd`, `remote-shell-script` | [`remote`] (over the system's OpenSSH client) |
//! | `action-chain` | [`action_chain`], its tasks run through a [`workflow::TaskRunner`] |
//! | `orquesta` | [`orquesta`] (the engine is [`crate::orquesta`]), its tasks run through a [`workflow::TaskRunner`] |
//! | `noop` | here |
//!
//! The others are registered normally; running them is a clear "not supported yet" error.

pub(crate) mod action_chain;
pub(crate) mod content_version;
pub(crate) mod http;
pub(crate) mod orquesta;
pub(crate) mod output;
pub(crate) mod process;
pub(crate) mod python;
pub(crate) mod remote;
pub(crate) mod shell;
pub(crate) mod workflow;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use serde_json::{Map, Value};

use crate::settings::Settings;
use crate::store::ExecutionStatus;

/// Every runner type StackStorm 3.9.0 ships.
pub(crate) const RUNNER_TYPES: &[&str] = &[
    "action-chain",
    "announcement",
    "http-request",
    "inquirer",
    "local-shell-cmd",
    "local-shell-script",
    "noop",
    "orquesta",
    "python-script",
    "remote-shell-cmd",
    "remote-shell-script",
    "winrm-cmd",
    "winrm-ps-cmd",
    "winrm-ps-script",
];

/// Runner types `st2 run` executes.
pub(crate) const SUPPORTED: &[&str] = &[
    "action-chain",
    "http-request",
    "local-shell-cmd",
    "local-shell-script",
    "noop",
    "orquesta",
    "python-script",
    "remote-shell-cmd",
    "remote-shell-script",
];

/// A runner type StackStorm knows, parsed where an action record is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum RunnerType {
    /// `action-chain`.
    ActionChain,
    /// `announcement`.
    Announcement,
    /// `http-request`.
    HttpRequest,
    /// `inquirer`.
    Inquirer,
    /// `local-shell-cmd`.
    LocalShellCmd,
    /// `local-shell-script`.
    LocalShellScript,
    /// `noop`.
    Noop,
    /// `orquesta`.
    Orquesta,
    /// `python-script`.
    PythonScript,
    /// `remote-shell-cmd`.
    RemoteShellCmd,
    /// `remote-shell-script`.
    RemoteShellScript,
    /// `winrm-cmd`.
    WinrmCmd,
    /// `winrm-ps-cmd`.
    WinrmPsCmd,
    /// `winrm-ps-script`.
    WinrmPsScript,
}

impl RunnerType {
    /// Every runner type, in the order of [`RUNNER_TYPES`].
    pub(crate) const ALL: [RunnerType; 14] = [
        RunnerType::ActionChain,
        RunnerType::Announcement,
        RunnerType::HttpRequest,
        RunnerType::Inquirer,
        RunnerType::LocalShellCmd,
        RunnerType::LocalShellScript,
        RunnerType::Noop,
        RunnerType::Orquesta,
        RunnerType::PythonScript,
        RunnerType::RemoteShellCmd,
        RunnerType::RemoteShellScript,
        RunnerType::WinrmCmd,
        RunnerType::WinrmPsCmd,
        RunnerType::WinrmPsScript,
    ];

    /// The runner type named `name`, if StackStorm knows it.
    pub(crate) fn parse(name: &str) -> Option<RunnerType> {
        RunnerType::ALL
            .into_iter()
            .find(|runner| runner.as_str() == name)
    }

    /// StackStorm's name for it.
    pub(crate) fn as_str(self) -> &'static str {
        RUNNER_TYPES[self as usize]
    }

    /// Whether `st2 run` can execute actions of this runner type.
    pub(crate) fn is_supported(self) -> bool {
        SUPPORTED.contains(&self.as_str())
    }

    /// Whether actions of this runner run Python code from the pack (and so need its
    /// virtualenv).
    pub(crate) fn needs_python(self) -> bool {
        self == RunnerType::PythonScript
    }

    /// Its `runner_parameters`, as upstream's `runner.yaml` declares them.
    pub(crate) fn parameters(self) -> &'static Map<String, Value> {
        parameters(self.as_str()).expect("every runner type has its runner.yaml")
    }
}

impl std::fmt::Display for RunnerType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether `name` is a runner type StackStorm knows.
pub(crate) fn is_known(name: &str) -> bool {
    RunnerType::parse(name).is_some()
}

/// Whether `st2 run` can execute actions of the runner type named `name`.
pub(crate) fn is_supported(name: &str) -> bool {
    RunnerType::parse(name).is_some_and(RunnerType::is_supported)
}

/// Whether actions of the runner type named `name` run Python code from the pack (and so
/// need its virtualenv).
pub(crate) fn needs_python(name: &str) -> bool {
    RunnerType::parse(name).is_some_and(RunnerType::needs_python)
}

/// Each runner's `runner.yaml` as JSON, one file per runner (`runners/<name>.json`), in the
/// order of [`RUNNER_TYPES`]; a test keeps them equal to `runners.yaml`. JSON because parsing
/// it is much cheaper than YAML, and one file per runner because every `st2 run` needs one
/// runner's parameters: parsing all fourteen cost a trivial run more than the rest of its
/// preparation.
const DEFINITIONS: [&str; RunnerType::ALL.len()] = [
    include_str!("runners/action-chain.json"),
    include_str!("runners/announcement.json"),
    include_str!("runners/http-request.json"),
    include_str!("runners/inquirer.json"),
    include_str!("runners/local-shell-cmd.json"),
    include_str!("runners/local-shell-script.json"),
    include_str!("runners/noop.json"),
    include_str!("runners/orquesta.json"),
    include_str!("runners/python-script.json"),
    include_str!("runners/remote-shell-cmd.json"),
    include_str!("runners/remote-shell-script.json"),
    include_str!("runners/winrm-cmd.json"),
    include_str!("runners/winrm-ps-cmd.json"),
    include_str!("runners/winrm-ps-script.json"),
];

/// What a run needs of a runner's definition: its parameters and output key.
struct RunnerDefinition {
    parameters: Map<String, Value>,
    output_key: Option<String>,
}

/// The definition of `runner`, read once per process.
fn definition(runner: RunnerType) -> &'static RunnerDefinition {
    static PARSED: [OnceLock<RunnerDefinition>; RunnerType::ALL.len()] =
        [const { OnceLock::new() }; RunnerType::ALL.len()];
    PARSED[runner as usize].get_or_init(|| {
        let parsed: Value = serde_json::from_str(DEFINITIONS[runner as usize])
            .expect("the embedded runner definitions are JSON");
        RunnerDefinition {
            parameters: match parsed.get("runner_parameters") {
                Some(Value::Object(map)) => map.clone(),
                _ => Map::new(),
            },
            output_key: parsed
                .get("output_key")
                .and_then(Value::as_str)
                .map(str::to_string),
        }
    })
}

/// The `runner_parameters` of a runner type, as upstream's `runner.yaml` declares them.
pub(crate) fn parameters(name: &str) -> Option<&'static Map<String, Value>> {
    RunnerType::parse(name).map(|runner| &definition(runner).parameters)
}

/// The key of a runner's result that holds the action's own output (`output_key` of its
/// `runner.yaml`: `result`, `body`, `output`, ...), which an action's `output_schema`
/// describes.
pub(crate) fn output_key(runner: RunnerType) -> Option<&'static str> {
    definition(runner).output_key.as_deref()
}

/// What a runner returns: the final status and the execution's `result`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RunOutcome {
    /// Final status: `succeeded`, `failed` (the action failed, or could not be started),
    /// `timeout` (killed after its `timeout`), `canceled` (`st2 execution cancel`, Ctrl-C) or
    /// `abandoned` (its process was terminated by something else than us).
    pub outcome: ExecutionStatus,
    /// The result object shown by `st2 execution get` (runner specific).
    pub result: Value,
}

impl RunOutcome {
    /// A failure before or outside the action itself: `{"error": reason}`.
    pub(crate) fn error(outcome: ExecutionStatus, reason: impl Into<String>) -> RunOutcome {
        let mut result = Map::new();
        result.insert("error".into(), Value::String(reason.into()));
        RunOutcome {
            outcome,
            result: Value::Object(result),
        }
    }
}

/// Set when the execution must stop (cancel request, Ctrl-C); runners poll it while they
/// wait and kill what they started.
#[derive(Debug, Clone, Default)]
pub(crate) struct CancelFlag(Arc<AtomicBool>);

impl CancelFlag {
    /// A flag that is not set.
    pub(crate) fn new() -> CancelFlag {
        CancelFlag::default()
    }

    /// The shared boolean, for signal handlers to set.
    pub(crate) fn shared(&self) -> Arc<AtomicBool> {
        self.0.clone()
    }

    /// Ask the execution to stop (signal handlers set the shared flag; the tests call this).
    #[cfg(test)]
    pub(crate) fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether stopping was asked for.
    pub(crate) fn is_set(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Everything a runner needs for one execution.
pub(crate) struct RunRequest<'a> {
    /// The execution id (24 hex digits), given to the action as `ST2_ACTION_EXECUTION_ID`.
    pub execution_id: &'a str,
    /// `<pack>.<name>`.
    pub action_ref: &'a str,
    /// The pack ref.
    pub pack: &'a str,
    /// The action's runner type.
    pub runner_type: RunnerType,
    /// The pack directory (entry points are under `<pack_dir>/actions/`).
    pub pack_dir: &'a Path,
    /// `entry_point` of the action, relative to `<pack_dir>/actions/`.
    pub entry_point: &'a str,
    /// The effective parameter schema (runner parameters merged with the action's).
    pub schema: &'a Map<String, Value>,
    /// Final parameter values (rendered, cast, defaults applied; runner and action ones).
    pub parameters: &'a Map<String, Value>,
    /// The pack config, resolved (templates rendered, secrets decrypted).
    pub config: &'a Value,
    /// The user the execution runs for (`context.user`).
    pub user: &'a str,
    /// The Python interpreter for `python-script` (the pack virtualenv's, or the system one).
    pub python: Option<PathBuf>,
    /// Settings (datastore for `action_service`, system user, paths).
    pub settings: &'a Settings,
    /// Set when the execution must stop.
    pub cancel: &'a CancelFlag,
    /// Where the action's output goes as it comes ([`output::Tap::none`] when nobody
    /// listens).
    pub output: &'a output::Tap,
    /// Runs a workflow's tasks as child executions of this one (workflow runners only).
    pub tasks: Option<&'a dyn workflow::TaskRunner>,
}

impl RunRequest<'_> {
    /// The `timeout` parameter in seconds, when the runner has one.
    pub(crate) fn timeout_seconds(&self) -> Option<f64> {
        self.parameters.get("timeout").and_then(Value::as_f64)
    }

    /// The entry point's path on disk.
    pub(crate) fn entry_point_path(&self) -> PathBuf {
        self.pack_dir.join("actions").join(self.entry_point)
    }
}

impl<'a> RunRequest<'a> {
    /// The same request with the pack's files taken from `pack_dir` (a `content_version`
    /// worktree).
    pub(crate) fn with_pack_dir<'b>(&'b self, pack_dir: &'b Path) -> RunRequest<'b>
    where
        'a: 'b,
    {
        RunRequest {
            pack_dir,
            python: self.python.clone(),
            ..*self
        }
    }
}

/// Run one execution with the runner of `request.runner_type`, in a worktree of the pack's
/// git repository when the `content_version` parameter names a revision.
pub(crate) fn execute_action(request: &RunRequest) -> RunOutcome {
    let worktree = match content_version::for_request(request) {
        Ok(worktree) => worktree,
        Err(message) => return RunOutcome::error(ExecutionStatus::Failed, message),
    };
    match &worktree {
        Some(worktree) => run_runner(&request.with_pack_dir(worktree.path())),
        None => run_runner(request),
    }
}

fn run_runner(request: &RunRequest) -> RunOutcome {
    match request.runner_type {
        RunnerType::LocalShellCmd | RunnerType::LocalShellScript => shell::run(request),
        RunnerType::PythonScript => python::run(request),
        RunnerType::HttpRequest => http::run(request),
        RunnerType::RemoteShellCmd | RunnerType::RemoteShellScript => remote::run(request),
        RunnerType::ActionChain => action_chain::run(request),
        RunnerType::Orquesta => orquesta::run(request),
        // Upstream's noop result.
        RunnerType::Noop => RunOutcome {
            outcome: ExecutionStatus::Succeeded,
            result: serde_json::json!({"failed": false, "succeeded": true, "return_code": 0}),
        },
        other => RunOutcome::error(
            ExecutionStatus::Failed,
            format!("the {other} runner is not supported by st2-rs yet"),
        ),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn knows_stackstorm_runners_only() {
        assert!(super::is_known("python-script"));
        assert!(super::is_known("orquesta"));
        assert!(!super::is_known("mistral-v2"));
        assert!(super::needs_python("python-script"));
        assert!(!super::needs_python("local-shell-cmd"));
    }

    #[test]
    fn runner_types_parse_as_stackstorm_names_them() {
        for (runner, name) in super::RunnerType::ALL.iter().zip(super::RUNNER_TYPES) {
            assert_eq!(runner.as_str(), *name);
            assert_eq!(super::RunnerType::parse(name), Some(*runner));
            assert_eq!(
                serde_json::to_value(runner).unwrap(),
                serde_json::json!(name)
            );
        }
        assert_eq!(super::RunnerType::parse("mistral-v2"), None);
    }

    #[test]
    fn every_runner_type_has_its_definition_in_order() {
        for (runner, text) in super::RunnerType::ALL.iter().zip(super::DEFINITIONS) {
            let json: serde_json::Value = serde_json::from_str(text).unwrap();
            assert_eq!(json["name"], runner.as_str());
            let expected = json["runner_parameters"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            assert_eq!(super::parameters(runner.as_str()), Some(&expected));
            assert_eq!(super::output_key(*runner), json["output_key"].as_str());
        }
        assert_eq!(super::parameters("mistral-v2"), None);
    }

    #[test]
    fn runners_json_is_runners_yaml() {
        let yaml = crate::yaml::from_str(include_str!("runners.yaml")).unwrap();
        let json: Vec<serde_json::Value> = super::DEFINITIONS
            .iter()
            .map(|text| serde_json::from_str(text).unwrap())
            .collect();
        // As text: the keys' order is what `st2 action get` shows (maps compare unordered).
        assert_eq!(
            serde_json::to_string(&yaml).unwrap(),
            serde_json::to_string(&serde_json::Value::Array(json)).unwrap(),
            "regenerate runners/*.json from runners.yaml (one file per runner, in order, keys \
             in their order)"
        );
    }

    #[test]
    fn every_known_runner_has_its_upstream_parameters() {
        for runner in super::RUNNER_TYPES {
            assert!(super::parameters(runner).is_some(), "{runner}");
        }
        let shell = super::parameters("local-shell-cmd").unwrap();
        assert_eq!(shell["timeout"]["default"], 60);
        assert_eq!(shell["sudo_password"]["secret"], true);
        let python = super::parameters("python-script").unwrap();
        assert_eq!(python["timeout"]["default"], 600);
        assert!(super::parameters("noop").unwrap().is_empty());
        assert_eq!(
            super::parameters("http-request").unwrap()["url"]["required"],
            true
        );
    }
}
