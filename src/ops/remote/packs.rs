//! Pack operations over the API (`../shared/spec/remote-api.md` §2.4): list and get
//! (`GET /packs`), search and show (`POST /packs/index/search`), register
//! (`POST /packs/register`), configs (`GET /config_schemas/PACK`, `GET/PUT /configs/PACK`),
//! install, update and remove (`POST /packs/install|uninstall`, then the workflow it starts
//! followed over the stream, task by task), outdated (the installed versions against the
//! cluster's index).
//!
//! Where we differ on purpose: the stream is read with the credential in a header, with a
//! bound on silence, and after it connects the execution is looked at once, so that a
//! workflow that ended before the connection does not leave the command waiting forever
//! (st2#3959, st2#4842); if the stream breaks, the workflow is polled to its end. An install
//! or removal exits 1 unless its workflow succeeded (st2#2924), and a pack still there after
//! `packs.uninstall` is an error with a message (st2client exits 2 without one).
//! `pack register` counts the packs with one more `GET /packs` when none are named (the API
//! answers only the content counts).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Map, Value};

use super::client::{segment, ApiError, Client, Root};
use super::stream::{EventReader, StreamEnd};
use crate::index::IndexEntry;
use crate::ops::packs::{
    ConfigForm, IndexLookup, IndexSearch, InstallAnswer, InstallFailed, InstallProgress,
    InstallRequest, InstallStep, InstalledPack, OutdatedRequest, PackDetails, PackRemoval,
    PackUpdate, PackView, RegisterReport, RegisterRequest, RemoveProgress, UpdateAnswer,
    UpdateReport, UpdateRequest, VenvAction, WrittenConfig,
};
use crate::ops::InvalidRequest;
use crate::register::ContentType;
use crate::store::ExecutionStatus;

/// The attributes `pack list` asks for (st2client's).
const LIST_ATTRIBUTES: &str = "ref,name,description,version,author";

/// A pack object of the API as the commands show it.
fn pack_view(pack: &Value) -> PackView {
    let text = |name: &str| {
        pack.get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let mut metadata = pack.clone();
    if let Value::Object(map) = &mut metadata {
        for internal in ["id", "uid", "ref", "path", "files"] {
            map.remove(internal);
        }
    }
    PackView {
        pack_ref: pack
            .get("ref")
            .and_then(Value::as_str)
            .or_else(|| pack.get("name").and_then(Value::as_str))
            .unwrap_or_default()
            .to_string(),
        name: text("name"),
        description: text("description"),
        version: text("version"),
        author: text("author"),
        email: pack
            .get("email")
            .and_then(Value::as_str)
            .map(str::to_string),
        keywords: strings(pack.get("keywords")),
        path: PathBuf::from(text("path")),
        metadata,
        source: None,
        registered_at: String::new(),
    }
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// `GET /packs?include_attributes=ref,name,description,version,author`.
pub(super) fn list(client: &Client) -> anyhow::Result<Vec<PackView>> {
    let answer = client.get(
        Root::Api,
        "/packs",
        &[("include_attributes", LIST_ATTRIBUTES.to_string())],
    )?;
    Ok(answer.list()?.iter().map(pack_view).collect())
}

/// `GET /packs/REF`; a 404 says the pack is not installed.
fn fetch(client: &Client, pack: &str) -> anyhow::Result<Value> {
    match client.get(Root::Api, &format!("/packs/{}", segment(pack)), &[]) {
        Ok(answer) => Ok(Value::Object(answer.object()?)),
        Err(err) => match err.downcast_ref::<ApiError>() {
            Some(api) if api.status == 404 => Err(err.context(format!(
                "pack \"{pack}\" is not installed on the cluster (`st2 pack list` shows what is)"
            ))),
            _ => Err(err),
        },
    }
}

/// `pack get`.
pub(super) fn get(client: &Client, pack: &str) -> anyhow::Result<PackDetails> {
    Ok(PackDetails {
        pack: pack_view(&fetch(client, pack)?),
        content: Vec::new(),
    })
}

/// An index entry of `packs/index/search`.
fn index_entry(raw: &Value) -> IndexEntry {
    let text = |name: &str| raw.get(name).and_then(Value::as_str).map(str::to_string);
    let name = text("name").unwrap_or_default();
    IndexEntry {
        key: text("ref").unwrap_or_else(|| name.clone()),
        name,
        ref_: text("ref"),
        description: text("description").unwrap_or_default(),
        version: text("version").unwrap_or_default(),
        versions: strings(raw.get("versions")),
        author: text("author").unwrap_or_default(),
        email: text("email"),
        keywords: strings(raw.get("keywords")),
        repo_url: text("repo_url").unwrap_or_default(),
        python_versions: strings(raw.get("python_versions")),
        stackstorm_version: text("stackstorm_version"),
        index_url: String::new(),
        raw: raw.clone(),
    }
}

fn index_search(client: &Client, body: &Value) -> anyhow::Result<Value> {
    client
        .call(
            Method::POST,
            Root::Api,
            "/packs/index/search",
            &[],
            Some(body),
        )?
        .json()
}

/// `pack search Q`: `{"query": Q}`.
pub(super) fn search(client: &Client, query: &str) -> anyhow::Result<IndexSearch> {
    let found = index_search(client, &json!({ "query": query }))?;
    let matches = match &found {
        Value::Array(items) => items.iter().map(index_entry).collect(),
        Value::Object(_) => vec![index_entry(&found)],
        _ => Vec::new(),
    };
    Ok(IndexSearch {
        matches,
        suggestions: Vec::new(),
    })
}

/// `pack show NAME`: `{"pack": NAME}`; `[]` when the index has none.
pub(super) fn show(client: &Client, name: &str) -> anyhow::Result<IndexLookup> {
    let found = index_search(client, &json!({ "pack": name }))?;
    Ok(IndexLookup {
        entry: found.is_object().then(|| index_entry(&found)),
        suggestions: Vec::new(),
    })
}

/// The API's name of a content type (`PacksContentRegisterType`).
fn api_type(content: ContentType) -> &'static str {
    match content {
        ContentType::Runners => "runner",
        other => other.plural(),
    }
}

/// `pack outdated`: each installed pack's version against the cluster's index
/// (`POST /packs/index/search {"pack"}`).
pub(super) fn outdated(
    client: &Client,
    request: &OutdatedRequest,
) -> anyhow::Result<Vec<crate::ops::packs::OutdatedPack>> {
    if request.offline {
        return Err(InvalidRequest("--offline only applies to local mode".into()).into());
    }
    let installed = list(client)?;
    let mut found = Vec::new();
    for pack in installed {
        if !request.packs.is_empty() && !request.packs.contains(&pack.pack_ref) {
            continue;
        }
        let entry = index_search(client, &json!({ "pack": pack.pack_ref }))?;
        let newest = entry
            .is_object()
            .then(|| index_entry(&entry).default_version());
        let status = match &newest {
            None => "not in the index".to_string(),
            Some(newest) if newer(newest, &pack.version) => "update available".into(),
            Some(_) => "up to date".into(),
        };
        found.push(crate::ops::packs::OutdatedPack {
            pack_ref: pack.pack_ref,
            source: "index".into(),
            installed: pack.version,
            compatible: newest.clone(),
            newest,
            pinned: false,
            status,
            note: None,
        });
    }
    for asked in &request.packs {
        if !found.iter().any(|pack| &pack.pack_ref == asked) {
            anyhow::bail!(
                "pack \"{asked}\" is not installed on the cluster (`st2 pack list` shows what is)"
            );
        }
    }
    Ok(found)
}

/// Whether `candidate` is a higher semver version than `installed`.
fn newer(candidate: &str, installed: &str) -> bool {
    let parse = |text: &str| semver::Version::parse(text.trim_start_matches('v')).ok();
    match (parse(candidate), parse(installed)) {
        (Some(candidate), Some(installed)) => candidate > installed,
        _ => candidate != installed,
    }
}

/// `pack register` and `reload`: `POST /packs/register`.
pub(super) fn register(
    client: &Client,
    request: &RegisterRequest,
) -> anyhow::Result<RegisterReport> {
    if request.venvs != VenvAction::None {
        return Err(InvalidRequest(
            "the virtualenv options of reload have no API: run them on a StackStorm node \
             (st2ctl reload --register-setup-virtualenvs there)"
                .into(),
        )
        .into());
    }
    let mut body = Map::new();
    // Every type is what the API registers when it is told none (st2client's `{}`).
    if request.selection != crate::register::all_content() {
        let types: Vec<&str> = request.selection.iter().map(|t| api_type(*t)).collect();
        body.insert("types".into(), json!(types));
    }
    if let Some(packs) = &request.packs {
        body.insert("packs".into(), json!(packs));
    }
    if !request.fail_on_failure {
        body.insert("fail_on_failure".into(), json!(false));
    }
    let answer = client
        .call(
            Method::POST,
            Root::Api,
            "/packs/register",
            &[],
            Some(&Value::Object(body)),
        )
        .map_err(|err| match err.downcast_ref::<ApiError>() {
            Some(api) if api.status == 400 => InvalidRequest(api.to_string()).into(),
            _ => err,
        })?;
    let counts_answer = answer.object()?;
    let mut counts = BTreeMap::new();
    for content in ContentType::ALL {
        if let Some(count) = counts_answer.get(content.plural()).and_then(Value::as_u64) {
            counts.insert(content, count);
        }
    }
    let packs = match &request.packs {
        Some(packs) => packs.clone(),
        None => list(client)?
            .into_iter()
            .map(|pack| pack.pack_ref)
            .collect(),
    };
    Ok(RegisterReport {
        packs,
        counts,
        ..RegisterReport::default()
    })
}

/// `pack config show PACK`: `GET /configs/PACK?show_secrets=false` (secrets masked by the
/// cluster).
pub(super) fn config(client: &Client, pack: &str, resolved: bool) -> anyhow::Result<Value> {
    if resolved {
        return Err(InvalidRequest("--resolved only applies to local mode".into()).into());
    }
    let answer = client
        .get(
            Root::Api,
            &format!("/configs/{}", segment(pack)),
            &[("show_secrets", "false".to_string())],
        )
        .map_err(|err| no_config(err, pack))?;
    Ok(answer.json()?.get("values").cloned().unwrap_or(json!({})))
}

fn no_config(err: anyhow::Error, pack: &str) -> anyhow::Error {
    match err.downcast_ref::<ApiError>() {
        Some(api) if api.status == 404 => err.context(format!(
            "Pack \"{pack}\" doesn't exist or doesn't have a config schema defined."
        )),
        _ => err,
    }
}

/// `pack config PACK`: the schema, and the current values (`show_secrets=true`, which needs
/// an admin; refused, secrets must be typed again, since the `PUT` replaces the whole config).
pub(super) fn config_form(client: &Client, pack: &str) -> anyhow::Result<ConfigForm> {
    let schema = client
        .get(
            Root::Api,
            &format!("/config_schemas/{}", segment(pack)),
            &[],
        )
        .map_err(|err| no_config(err, pack))?
        .json()?;
    let schema = schema
        .get("attributes")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let current = match client.get(
        Root::Api,
        &format!("/configs/{}", segment(pack)),
        &[("show_secrets", "true".to_string())],
    ) {
        Ok(answer) => answer
            .json()?
            .get("values")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default(),
        Err(err) => match err.downcast_ref::<ApiError>() {
            Some(api) if api.status == 404 => Map::new(),
            Some(api) if api.status == 403 => {
                client.warn(&format!(
                    "the cluster does not show {pack}'s current secrets to you: type them again"
                ));
                Map::new()
            }
            _ => return Err(err),
        },
    };
    Ok(ConfigForm { schema, current })
}

/// `PUT /configs/PACK` with the values.
pub(super) fn write_config(
    client: &Client,
    pack: &str,
    values: &Value,
) -> anyhow::Result<WrittenConfig> {
    let answer = client
        .call(
            Method::PUT,
            Root::Api,
            &format!("/configs/{}", segment(pack)),
            &[],
            Some(values),
        )
        .map_err(|err| match err.downcast_ref::<ApiError>() {
            Some(api) if api.status == 400 => InvalidRequest(api.to_string()).into(),
            _ => err,
        })?;
    let written = answer.json()?;
    Ok(WrittenConfig {
        location: format!("the config of {pack} on the cluster"),
        values: written
            .get("values")
            .cloned()
            .unwrap_or_else(|| values.clone()),
    })
}

/// The install step a task of `packs.install` / `packs.uninstall` belongs to
/// (`contrib/packs/actions/workflows/install.yaml`).
fn step_of(task: &str) -> InstallStep {
    match task {
        "download_pack" => InstallStep::Download,
        "make_a_prerun" | "get_pack_warnings" => InstallStep::Validate,
        "install_pack_requirements" | "setup_virtualenv" => InstallStep::Virtualenv,
        "register_pack" | "unregister_pack" | "delete_pack" => InstallStep::Register,
        _ => InstallStep::Resolve,
    }
}

/// How a workflow of the packs pack ended.
struct Ended {
    status: ExecutionStatus,
    execution: Value,
}

/// Follow the workflow `id`: its tasks as they start and end (to `task`), until it is final.
fn follow_workflow(
    client: &Client,
    id: &str,
    interrupt: &AtomicBool,
    task: &mut dyn FnMut(&str, &str),
) -> anyhow::Result<Ended> {
    let path = format!("/executions/{}", segment(id));
    let look = |client: &Client| -> anyhow::Result<Ended> {
        let execution = client.get(Root::Api, &path, &[])?.json()?;
        let status = execution
            .get("status")
            .and_then(Value::as_str)
            .and_then(ExecutionStatus::parse)
            .unwrap_or(ExecutionStatus::Running);
        Ok(Ended { status, execution })
    };
    let stream = client.open(
        Root::Stream,
        "/stream",
        &[
            ("end_event", "st2.execution__update".to_string()),
            ("end_execution_id", id.to_string()),
            (
                "events",
                "st2.execution__create,st2.execution__update".to_string(),
            ),
        ],
        "text/event-stream",
    );
    // Connected (or not): a workflow that already ended sends no more events.
    let now = look(client)?;
    if now.status.is_final() {
        return Ok(now);
    }
    if let Ok(response) = stream {
        let mut events = EventReader::new(response);
        loop {
            if interrupt.load(Ordering::SeqCst) {
                anyhow::bail!(
                    "interrupted: the workflow {id} goes on on the cluster (st2 execution get {id})"
                );
            }
            let event = match events.next_event() {
                Ok(event) => event,
                Err(StreamEnd::Closed) | Err(StreamEnd::Broken(_)) => break,
            };
            let Ok(execution) = serde_json::from_str::<Value>(&event.data) else {
                continue;
            };
            let status = execution
                .get("status")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if execution.get("id").and_then(Value::as_str) == Some(id) {
                if ExecutionStatus::parse(status).is_some_and(ExecutionStatus::is_final) {
                    break;
                }
                continue;
            }
            let parent = execution
                .get("parent")
                .and_then(Value::as_str)
                .or_else(|| execution.pointer("/context/parent/execution_id")?.as_str());
            if parent != Some(id) {
                continue;
            }
            let name = execution
                .pointer("/context/orquesta/task_name")
                .or_else(|| execution.pointer("/context/chain/name"))
                .and_then(Value::as_str)
                .unwrap_or_default();
            task(name, status);
        }
    }
    // The end event, a broken stream or none: the execution says how it ended.
    let mut wait = Duration::from_millis(200);
    loop {
        let now = look(client)?;
        if now.status.is_final() {
            return Ok(now);
        }
        if interrupt.load(Ordering::SeqCst) {
            anyhow::bail!(
                "interrupted: the workflow {id} goes on on the cluster (st2 execution get {id})"
            );
        }
        std::thread::sleep(wait);
        wait = (wait * 2).min(Duration::from_secs(2));
    }
}

/// Why a workflow of the packs pack failed, from its result.
fn workflow_error(ended: &Ended) -> String {
    let result = ended.execution.get("result");
    let errors = result
        .and_then(|r| r.get("errors"))
        .and_then(Value::as_array)
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| e.get("message").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join("; ")
        })
        .filter(|text| !text.is_empty());
    let message = errors.or_else(|| {
        result
            .and_then(|r| r.pointer("/output/message").or_else(|| r.get("error")))
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    let id = ended
        .execution
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    match message {
        Some(message) => format!(
            "the workflow {id} ended {}: {message}",
            ended.status.as_str()
        ),
        None => format!(
            "the workflow {id} ended {} (st2 execution get {id} shows why)",
            ended.status.as_str()
        ),
    }
}

/// Start `packs.install`/`packs.uninstall`: the execution's id.
fn start_workflow(client: &Client, path: &str, body: &Value) -> anyhow::Result<String> {
    let answer = client
        .call(Method::POST, Root::Api, path, &[], Some(body))
        .map_err(|err| match err.downcast_ref::<ApiError>() {
            Some(api) if api.status == 400 => InvalidRequest(api.to_string()).into(),
            _ => err,
        })?;
    answer
        .json()?
        .get("execution_id")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| super::client::unexpected(&answer.request, "no \"execution_id\""))
}

/// `pack install`.
pub(super) fn install(
    client: &Client,
    request: &InstallRequest,
    progress: &dyn InstallProgress,
    interrupt: Arc<AtomicBool>,
) -> InstallAnswer {
    let failed = |message: String| InstallAnswer {
        warnings: Vec::new(),
        outcome: Err(InstallFailed {
            messages: vec![message],
            outcome: None,
        }),
    };
    for (asked, flag) in [
        (request.skip_virtualenv, "--skip-virtualenv"),
        (request.locked, "--locked"),
        (request.offline, "--offline"),
    ] {
        if asked {
            return failed(format!("{flag} only applies to local mode"));
        }
    }
    if request.announce_content {
        // As st2client: what the index says each named pack holds (errors ignored).
        for pack in &request.packs {
            if pack.contains("://") || pack.contains('/') {
                continue;
            }
            let name = pack.split('=').next().unwrap_or(pack);
            if let Ok(found) = index_search(client, &json!({ "pack": name })) {
                if found.is_object() {
                    let entry = index_entry(&found);
                    progress.index_content(name, &entry.content_counts());
                }
            }
        }
    }
    let body = json!({
        "packs": request.packs,
        "force": request.force,
        "skip_dependencies": request.skip_dependencies,
    });
    let label = request.packs.join(" ");
    let outcome = (|| -> anyhow::Result<Vec<InstalledPack>> {
        let id = start_workflow(client, "/packs/install", &body)?;
        let mut report = |task: &str, status: &str| match status {
            "scheduled" | "running" => progress.start(&label, step_of(task), task),
            _ if ExecutionStatus::parse(status).is_some_and(ExecutionStatus::is_final) => {
                progress.done(&label, step_of(task), &format!("{task}: {status}"))
            }
            _ => {}
        };
        let ended = follow_workflow(client, &id, &interrupt, &mut report)?;
        if ended.status != ExecutionStatus::Succeeded {
            anyhow::bail!("{}", workflow_error(&ended));
        }
        let output = ended.execution.pointer("/result/output");
        let installed = strings(output.and_then(|o| o.get("packs_list")));
        let warnings = strings(output.and_then(|o| o.get("warning_list")));
        let mut packs = Vec::new();
        for pack in &installed {
            let view = pack_view(&fetch(client, pack)?);
            packs.push(InstalledPack {
                pack_ref: view.pack_ref,
                name: view.name,
                version: view.version,
                description: view.description,
                author: view.author,
                email: view.email,
                keywords: view.keywords,
                path: view.path,
                source: json!({"installed_by": "the cluster", "execution": id}),
                dependency_of: None,
                content: BTreeMap::new(),
                virtualenv: "on the cluster".into(),
                removed: Default::default(),
                warnings: Vec::new(),
            });
        }
        if let Some(first) = packs.first_mut() {
            first.warnings = warnings;
        }
        Ok(packs)
    })();
    match outcome {
        Ok(packs) => InstallAnswer {
            warnings: Vec::new(),
            outcome: Ok(packs),
        },
        Err(err) => failed(format!("{err:#}")),
    }
}

/// `pack remove`.
pub(super) fn remove(
    client: &Client,
    packs: &[String],
    progress: &dyn RemoveProgress,
) -> anyhow::Result<Vec<(String, PackRemoval)>> {
    let installed: Vec<String> = client
        .get(Root::Api, "/packs", &[])?
        .list()?
        .iter()
        .filter_map(|pack| pack.get("ref").and_then(Value::as_str))
        .map(str::to_string)
        .collect();
    let mut removals = Vec::new();
    let present: Vec<String> = packs
        .iter()
        .filter(|pack| {
            let here = installed.contains(pack);
            if !here {
                progress.finished(pack, &PackRemoval::NotInstalled);
                removals.push(((*pack).clone(), PackRemoval::NotInstalled));
            }
            here
        })
        .cloned()
        .collect();
    if present.is_empty() {
        return Ok(removals);
    }
    let id = start_workflow(client, "/packs/uninstall", &json!({ "packs": present }))?;
    let ended = follow_workflow(client, &id, &AtomicBool::new(false), &mut |_, _| {})?;
    for pack in present {
        let removal = if ended.status != ExecutionStatus::Succeeded {
            PackRemoval::Failed(workflow_error(&ended))
        } else {
            match client.get(Root::Api, &format!("/packs/{}", segment(&pack)), &[]) {
                Err(err)
                    if err
                        .downcast_ref::<ApiError>()
                        .is_some_and(|api| api.status == 404) =>
                {
                    PackRemoval::Removed(vec!["the pack on the cluster".into()])
                }
                Err(err) => return Err(err),
                Ok(_) => PackRemoval::Failed(format!(
                    "the cluster still has it after the workflow {id} succeeded"
                )),
            }
        };
        progress.finished(&pack, &removal);
        removals.push((pack, removal));
    }
    Ok(removals)
}

/// `pack update`: the packs [`outdated`] finds behind the cluster's index, installed at the
/// index's version through the cluster's pack workflow, all in one
/// `POST /packs/install {"packs": ["REF=VERSION", ...]}` (StackStorm's own way to update a
/// pack: `st2 pack install REF=VERSION`). The cluster keeps no lock file, so no pack is
/// pinned: `--all` moves every pack the index has a newer version of.
pub(super) fn update(
    client: &Client,
    request: &UpdateRequest,
    progress: &dyn InstallProgress,
    interrupt: Arc<AtomicBool>,
) -> UpdateAnswer {
    let failed = |messages: Vec<String>, outcome: Option<String>| UpdateAnswer {
        warnings: Vec::new(),
        outcome: Err(InstallFailed { messages, outcome }),
    };
    for (asked, flag) in [
        (request.offline, "--offline"),
        (request.skip_virtualenv, "--skip-virtualenv"),
    ] {
        if asked {
            return failed(vec![format!("{flag} only applies to local mode")], None);
        }
    }
    if request.packs.is_empty() && !request.all {
        return failed(
            vec!["name the packs to update, or --all for every installed pack".into()],
            None,
        );
    }
    let asked = OutdatedRequest {
        packs: request.packs.clone(),
        offline: false,
    };
    let outdated = match outdated(client, &asked) {
        Ok(outdated) => outdated,
        Err(err) => return failed(vec![format!("{err:#}")], None),
    };
    let mut report = UpdateReport::default();
    let mut targets = Vec::new();
    let mut not_in_index = Vec::new();
    for pack in outdated {
        match &pack.newest {
            Some(newest) if pack.status == "update available" => {
                targets.push(format!("{}={newest}", pack.pack_ref));
                report.updated.push(PackUpdate {
                    pack_ref: pack.pack_ref,
                    from: pack.installed,
                    to: newest.clone(),
                    reason: None,
                });
            }
            None if request.packs.contains(&pack.pack_ref) => not_in_index.push(format!(
                "{}: not in the cluster's index, so it cannot be updated from it \
                 (st2 pack install SOURCE installs it from elsewhere)",
                pack.pack_ref
            )),
            _ => report.unchanged.push(PackUpdate {
                pack_ref: pack.pack_ref,
                from: pack.installed.clone(),
                to: pack.installed,
                reason: Some(pack.status),
            }),
        }
    }
    if !not_in_index.is_empty() {
        return failed(not_in_index, Some("Nothing was updated.".into()));
    }
    if targets.is_empty() {
        return UpdateAnswer {
            warnings: Vec::new(),
            outcome: Ok(report),
        };
    }
    let request = InstallRequest {
        packs: targets,
        force: false,
        skip_dependencies: false,
        skip_virtualenv: false,
        announce_content: false,
        locked: false,
        offline: false,
    };
    let answer = install(client, &request, progress, interrupt);
    let outcome = answer
        .outcome
        .map(|installed| report.with_installed(installed));
    UpdateAnswer {
        warnings: answer.warnings,
        outcome,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_of_the_packs_workflows_map_to_install_steps() {
        assert_eq!(step_of("download_pack"), InstallStep::Download);
        assert_eq!(
            step_of("install_pack_requirements"),
            InstallStep::Virtualenv
        );
        assert_eq!(step_of("register_pack"), InstallStep::Register);
        assert_eq!(step_of("init_task"), InstallStep::Resolve);
    }

    #[test]
    fn register_types_are_the_apis_names() {
        assert_eq!(api_type(ContentType::Runners), "runner");
        assert_eq!(api_type(ContentType::Aliases), "aliases");
    }

    #[test]
    fn pack_objects_become_views() {
        let view = pack_view(&json!({"ref": "core", "name": "core", "version": "3.9.0",
                                     "id": "x", "keywords": ["a"], "path": "/opt/stackstorm/packs/core"}));
        assert_eq!(view.pack_ref, "core");
        assert_eq!(view.keywords, ["a"]);
        assert_eq!(view.metadata.get("id"), None);
        assert_eq!(view.path, PathBuf::from("/opt/stackstorm/packs/core"));
    }
}
