//! Everything about a run that can be refused, decided before anything is recorded: the
//! action, its parameters cast and rendered, the pack config resolved, the secrets the run
//! knows, the pack directory and the Python interpreter.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::action::{self, args, params, Action, ActionError};
use crate::config::{self, KeySnapshot, Renderer};
use crate::datastore::Datastore;
use crate::native::{self, NativeAction};
use crate::ops::executions::RunActionRequest;
use crate::ops::InvalidRequest;
use crate::redact;
use crate::runner::{self, RunnerType};
use crate::settings::Settings;
use crate::store::{Store, StoreError};

/// Errors before an execution starts.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PrepareError {
    /// The action or its parameters were refused (exit 2): one line per problem.
    #[error("{0}")]
    Invalid(String),
    /// Something else failed (exit 1).
    #[error("{0}")]
    Failed(String),
}

impl From<ActionError> for PrepareError {
    fn from(err: ActionError) -> PrepareError {
        match err {
            ActionError::NotFound { .. } | ActionError::BadRef(_) => {
                PrepareError::Invalid(err.to_string())
            }
            other => PrepareError::Failed(other.to_string()),
        }
    }
}

impl From<StoreError> for PrepareError {
    fn from(err: StoreError) -> PrepareError {
        PrepareError::Failed(err.to_string())
    }
}

impl PrepareError {
    /// The error at the boundary: a refusal is an [`InvalidRequest`] (exit 2).
    pub(super) fn into_anyhow(self) -> anyhow::Error {
        match self {
            PrepareError::Invalid(message) => InvalidRequest(message).into(),
            PrepareError::Failed(message) => anyhow::anyhow!(message),
        }
    }
}

/// An execution ready to run: everything the runner needs, decided in the foreground.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Prepared {
    /// The action ref.
    pub(crate) action_ref: String,
    /// The pack ref.
    pub(crate) pack: String,
    /// The runner type.
    pub(crate) runner_type: RunnerType,
    /// `entry_point`.
    pub(crate) entry_point: String,
    /// The pack directory.
    pub(crate) pack_dir: PathBuf,
    /// The effective parameter schema.
    pub(crate) schema: Map<String, Value>,
    /// The live parameters (the given ones rendered, and those whose default is a
    /// template), secrets masked: what the record shows, as upstream records them.
    pub(crate) shown_parameters: Map<String, Value>,
    /// The final parameters: every declared one, rendered, `null` when it has no value.
    pub(crate) parameters: Map<String, Value>,
    /// The resolved pack config.
    pub(crate) config: Value,
    /// `context.user`.
    pub(crate) user: String,
    /// The interpreter of Python actions.
    pub(crate) python: Option<PathBuf>,
    /// Whether the action runs natively ([`crate::native`]) instead of with its runner.
    pub(crate) native: bool,
    /// Things worth a warning (stale config, missing datastore keys).
    pub(crate) warnings: Vec<String>,
    /// Every secret value the run knows (secret parameters, secret config values, decrypted
    /// datastore values): masked wherever they appear in the result ([`crate::redact`]).
    pub(crate) secrets: Vec<String>,
    /// The action's `output_schema`, whose `secret` fields are masked in the result.
    pub(crate) output_schema: Option<Value>,
}

/// Read and check everything about a run before anything is recorded.
pub(crate) fn prepare(
    settings: &Settings,
    store: &Store,
    request: &RunActionRequest,
) -> Result<Prepared, PrepareError> {
    let action = action::lookup(Some(store), &request.action_ref)?;
    let (native, runner_type) = how_it_runs(settings, request.no_native, &action)?;
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let runner_parameters = runner_type.parameters().clone();
    let action_parameters = action
        .record
        .parameters
        .as_object()
        .cloned()
        .unwrap_or_default();
    let given = args::parse(
        &request.words,
        args::Schemas {
            runner: &runner_parameters,
            action: &action_parameters,
        },
        args::ArgsOptions {
            auto_dict: request.auto_dict,
            inherit_env: request.inherit_env,
        },
        &cwd,
        &action.record.action_ref,
    )
    .map_err(|err| PrepareError::Invalid(err.to_string()))?;
    prepare_given(settings, store, &action, native, runner_type, &given)
}

/// Read and check a workflow task's run: its action `action_ref` with the parameters the
/// workflow rendered (`given`), through the same checks as `st2 run`'s.
pub(crate) fn prepare_task(
    settings: &Settings,
    store: &Store,
    action_ref: &str,
    given: &Map<String, Value>,
) -> Result<Prepared, PrepareError> {
    let action = action::lookup(Some(store), action_ref)?;
    let (native, runner_type) = how_it_runs(settings, false, &action)?;
    prepare_given(settings, store, &action, native, runner_type, given)
}

/// What [`prepare`] and [`prepare_task`] share, from the given parameters on.
fn prepare_given(
    settings: &Settings,
    store: &Store,
    action: &Action,
    native: Option<&'static dyn NativeAction>,
    runner_type: RunnerType,
    given: &Map<String, Value>,
) -> Result<Prepared, PrepareError> {
    let schema = action.schema();
    let runner_parameters = runner_type.parameters().clone();
    let action_parameters = action
        .record
        .parameters
        .as_object()
        .cloned()
        .unwrap_or_default();
    let pack = action.record.pack.clone();
    let user = settings.system_user.clone();
    let mut warnings = Vec::new();
    let config_schema = store.config_schema(&pack)?;
    let config_schema = config_schema.as_ref().and_then(Value::as_object);
    let registered = store.config(&pack)?;
    warnings.extend(stale_config_warning(settings, &pack, registered.as_ref()));
    // Reading the datastore costs a second connection: only when something refers to it.
    let mentions_st2kv = |value: &Value| value.to_string().contains("st2kv");
    let wants_datastore = registered
        .as_ref()
        .is_some_and(|r| mentions_st2kv(&r.values))
        || config_schema.is_some_and(|s| s.values().any(mentions_st2kv))
        || schema.values().any(mentions_st2kv)
        || given.values().any(mentions_st2kv);
    let snapshot = datastore_snapshot(settings, wants_datastore)?;
    let resolved = config::resolve(
        &pack,
        config_schema,
        registered.as_ref().map(|record| &record.values),
        &user,
        &snapshot,
    )
    .map_err(|err| PrepareError::Failed(err.to_string()))?;
    warnings.extend(resolved.warnings);

    let renderer = Renderer::new(&pack, &user, &snapshot);
    let context = params::RenderContext {
        renderer: &renderer,
        config: &resolved.values,
        action_context: serde_json::json!({
            "user": user,
            "pack": pack,
            "api_user": user,
        }),
    };
    let schemas = params::Schemas {
        runner: &runner_parameters,
        action: &action_parameters,
    };
    let rendered = params::prepare(schemas, &schema, given, &context)
        .map_err(|err| PrepareError::Invalid(err.to_string()))?;
    warnings.extend(rendered.warnings);
    let parameters = rendered.parameters;
    if let Some(native) = native {
        native.check(&parameters).map_err(PrepareError::Invalid)?;
    }

    let mut secrets = known_secrets(
        &schema,
        &parameters,
        config_schema,
        &resolved.values,
        &snapshot,
    );
    secrets.extend(secret_env_values(&parameters));
    let pack_dir = pack_dir(settings, action)?;
    if runner_type == RunnerType::ActionChain {
        let entry_point = pack_dir.join("actions").join(&action.record.entry_point);
        warnings.extend(runner::action_chain::warnings(&entry_point));
    }
    if runner_type == RunnerType::Orquesta {
        warnings.extend(runner::orquesta::warnings(&parameters));
    }
    let python = if native.is_none() && runner_type.needs_python() {
        Some(python_for(settings, action, &pack_dir, &mut warnings))
    } else {
        None
    };
    Ok(Prepared {
        action_ref: action.record.action_ref.clone(),
        pack,
        runner_type,
        entry_point: action.record.entry_point.clone(),
        pack_dir,
        shown_parameters: shown_parameters(&schema, &rendered.live, &secrets),
        schema,
        parameters,
        config: resolved.values,
        user,
        python,
        native: native.is_some(),
        warnings,
        secrets,
        // Most actions have none: their metadata is not parsed again for it.
        output_schema: Some(&action.record.metadata)
            .filter(|metadata| metadata.contains("\"output_schema\""))
            .and_then(|metadata| serde_json::from_str::<Value>(metadata).ok())
            .and_then(|metadata| metadata.get("output_schema").cloned())
            .filter(|schema| !schema.is_null()),
    })
}

/// Whether the action can run, and how: natively ([`crate::native`]) or with its runner,
/// of which type.
fn how_it_runs(
    settings: &Settings,
    no_native: bool,
    action: &Action,
) -> Result<(Option<&'static dyn NativeAction>, RunnerType), PrepareError> {
    if !action.record.enabled {
        return Err(PrepareError::Invalid(format!(
            "action \"{}\" is disabled (enabled: false in {})",
            action.record.action_ref, action.record.metadata_file
        )));
    }
    let native = native::find(&action.record.action_ref, &action.record.entry_point)
        .filter(|_| settings.native_actions && !no_native);
    // Registration refuses runner types StackStorm does not know: one that does not parse
    // is as unsupported as the ones st2-rs does not run yet.
    let runner_type = RunnerType::parse(&action.record.runner_type)
        .filter(|runner_type| native.is_some() || runner_type.is_supported());
    let Some(runner_type) = runner_type else {
        return Err(PrepareError::Failed(format!(
            "action \"{}\" uses the {} runner, which st2-rs does not support yet (supported: {})",
            action.record.action_ref,
            action.record.runner_type,
            runner::SUPPORTED.join(", ")
        )));
    };
    Ok((native, runner_type))
}

/// The datastore as the run's templates see it, when they refer to it; else an empty one.
fn datastore_snapshot(settings: &Settings, wanted: bool) -> Result<KeySnapshot, PrepareError> {
    if !wanted {
        return Ok(KeySnapshot::new(
            Vec::new(),
            std::sync::Arc::new(|_: &str, _: &str| Err("no datastore".into())),
        ));
    }
    Datastore::open(settings)
        .and_then(|datastore| datastore.snapshot())
        .map_err(|err| PrepareError::Failed(err.to_string()))
}

/// The secret values a run knows: the values of secret parameters, the config values its
/// schema marks secret (found with the same function that masks them for display), and what
/// rendering decrypted from the datastore.
fn known_secrets(
    schema: &Map<String, Value>,
    parameters: &Map<String, Value>,
    config_schema: Option<&Map<String, Value>>,
    config: &Value,
    snapshot: &KeySnapshot,
) -> Vec<String> {
    let mut secrets = snapshot.revealed();
    let shown = params::mask(schema, parameters);
    for (name, value) in parameters {
        if shown.get(name) != Some(value) {
            redact::scalars(value, &mut secrets);
        }
    }
    masked_leaves(
        config,
        &config::mask_secrets(config_schema, config),
        &mut secrets,
    );
    secrets
}

/// The parameters as the record shows them: secret ones masked, and a secret value that
/// reached another parameter (through a template, say) masked there too; in the `env`
/// parameter, the variables named like secrets ([`redact::is_secret_name`]).
fn shown_parameters(
    schema: &Map<String, Value>,
    parameters: &Map<String, Value>,
    secrets: &[String],
) -> Map<String, Value> {
    let redactor = redact::Redactor::new(secrets);
    let mut shown = params::mask(schema, parameters);
    if let Some(Value::Object(env)) = shown.get_mut("env") {
        for (name, value) in env.iter_mut() {
            if redact::is_secret_name(name) && !value.is_null() {
                *value = Value::String(config::MASK.to_string());
            }
        }
    }
    shown.values_mut().for_each(|value| redactor.value(value));
    shown
}

/// The values of the `env` parameter's variables named like secrets: the action gets them,
/// the record and the output show them masked.
fn secret_env_values(parameters: &Map<String, Value>) -> Vec<String> {
    let mut values = Vec::new();
    if let Some(Value::Object(env)) = parameters.get("env") {
        for (name, value) in env {
            if redact::is_secret_name(name) {
                redact::scalars(value, &mut values);
            }
        }
    }
    values
}

/// The values of `original` that `masked` replaced by the mask.
fn masked_leaves(original: &Value, masked: &Value, out: &mut Vec<String>) {
    match (original, masked) {
        (Value::Object(original), Value::Object(masked)) => {
            for (key, value) in original {
                if let Some(other) = masked.get(key) {
                    masked_leaves(value, other, out);
                }
            }
        }
        (Value::Array(original), Value::Array(masked)) => {
            for (value, other) in original.iter().zip(masked) {
                masked_leaves(value, other, out);
            }
        }
        (value, Value::String(mask)) if mask == config::MASK && value != masked => {
            redact::scalars(value, out)
        }
        _ => {}
    }
}

fn pack_dir(settings: &Settings, action: &Action) -> Result<PathBuf, PrepareError> {
    match &action.pack_dir {
        Some(dir) => Ok(dir.clone()),
        // The built-in pack's files exist on disk only once an action runs one of them
        // (`core.pause`'s Python, `core.sendmail`'s script).
        None if action.builtin && !action.record.entry_point.is_empty() => {
            Ok(action::builtin_pack_dir(settings)?)
        }
        None => Ok(settings.pack_dir(&action.record.pack)),
    }
}

/// The pack virtualenv's Python, else the system `python3` (with a warning when the pack
/// declares requirements that then may be missing).
fn python_for(
    settings: &Settings,
    action: &Action,
    pack_dir: &Path,
    warnings: &mut Vec<String>,
) -> PathBuf {
    let venv_python = crate::venv::python_path(&settings.venv_dir(&action.record.pack));
    if venv_python.exists() {
        return venv_python;
    }
    let requirements = pack_dir.join("requirements.txt");
    let declares = std::fs::read_to_string(&requirements)
        .map(|text| {
            text.lines()
                .any(|line| !line.trim().is_empty() && !line.trim_start().starts_with('#'))
        })
        .unwrap_or(false);
    if declares {
        warnings.push(format!(
            "pack \"{}\" has no virtualenv, so its requirements may be missing; running with \
             the system python3 (`st2ctl reload --register-setup-virtualenvs` creates it)",
            action.record.pack
        ));
    }
    PathBuf::from(&settings.python_binary)
}

/// [fix] StackStorm needs a reload before runs see an edited config; say so when the file
/// changed since it was registered.
fn stale_config_warning(
    settings: &Settings,
    pack: &str,
    registered: Option<&crate::store::ConfigRecord>,
) -> Option<String> {
    let path = settings.config_path(pack);
    let on_disk = crate::register::file_mtime_ns(&path)?;
    let message = match registered {
        None => "is not registered",
        Some(record) if record.file_mtime_ns != Some(on_disk) => "changed since it was registered",
        Some(_) => return None,
    };
    Some(format!(
        "{} {message}; this run uses the registered config (run `st2ctl reload --register-configs`)",
        path.display()
    ))
}
