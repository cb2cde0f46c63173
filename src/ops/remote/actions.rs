//! `st2 action list/get` and the lookups of `st2 run`: `GET /actions`, `GET /actions/REF` and
//! `GET /runnertypes/?name=` (`../shared/spec/remote-api.md` §2).
//!
//! Where we differ on purpose: `action list` also asks for `runner_type` (local mode's table
//! has that column); `action get` also fetches the runner type, so that `parameters` is the
//! runner's merged with the action's, as local mode shows it and as `st2 run ACTION -h` needs.

use serde_json::{Map, Value};

use super::client::{segment, ApiError, Client, Root};
use crate::action::ActionError;
use crate::ops::actions::ActionView;

/// `GET /actions?include_attributes=ref,pack,description,runner_type[&pack=P]`.
pub(super) fn list(client: &Client, pack: Option<&str>) -> anyhow::Result<Vec<ActionView>> {
    let mut query = vec![(
        "include_attributes",
        "ref,pack,description,runner_type".to_string(),
    )];
    if let Some(pack) = pack {
        query.push(("pack", pack.to_string()));
    }
    let answer = client.get(Root::Api, "/actions", &query)?;
    answer
        .list()?
        .iter()
        .map(|action| view(action, &Map::new(), &answer.request))
        .collect()
}

/// The action as the API has it (`GET /actions/REF`); a 404 is [`ActionError::NotFound`].
pub(super) fn fetch(client: &Client, action_ref: &str) -> anyhow::Result<Value> {
    if !action_ref.contains('.') {
        return Err(ActionError::BadRef(action_ref.to_string()).into());
    }
    match client.get(Root::Api, &format!("/actions/{}", segment(action_ref)), &[]) {
        Ok(answer) => Ok(Value::Object(answer.object()?)),
        Err(err) => match err.downcast_ref::<ApiError>() {
            Some(api) if api.status == 404 => Err(ActionError::NotFound {
                action_ref: action_ref.to_string(),
                hint: " on the cluster (`st2 action list` shows what it has)".into(),
            }
            .into()),
            _ => Err(err),
        },
    }
}

/// The runner type's parameters (`GET /runnertypes/?name=RUNNER`, as st2client asks).
pub(super) fn runner_parameters(
    client: &Client,
    runner_type: &str,
) -> anyhow::Result<Map<String, Value>> {
    let answer = client.get(
        Root::Api,
        "/runnertypes/",
        &[("name", runner_type.to_string())],
    )?;
    let runners = answer.list()?;
    let Some(runner) = runners.first() else {
        anyhow::bail!("the cluster has no runner type \"{runner_type}\"");
    };
    Ok(runner
        .get("runner_parameters")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default())
}

/// `action get`: the action, with its runner's parameters.
pub(super) fn get(client: &Client, action_ref: &str) -> anyhow::Result<ActionView> {
    let action = fetch(client, action_ref)?;
    let runner_type = action
        .get("runner_type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let runner = runner_parameters(client, runner_type)?;
    view(&action, &runner, &format!("GET /actions/{action_ref}"))
}

/// An API action as the commands show it.
pub(super) fn view(
    action: &Value,
    runner_parameters: &Map<String, Value>,
    request: &str,
) -> anyhow::Result<ActionView> {
    let text = |name: &str| action.get(name).and_then(Value::as_str).map(str::to_string);
    let Some(action_ref) = text("ref") else {
        return Err(super::client::unexpected(
            request,
            "an action without \"ref\"",
        ));
    };
    let action_parameters = action
        .get("parameters")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let runner_type = text("runner_type").unwrap_or_default();
    Ok(ActionView {
        pack: text("pack").unwrap_or_else(|| {
            action_ref
                .split_once('.')
                .map(|(pack, _)| pack.to_string())
                .unwrap_or_default()
        }),
        name: text("name").unwrap_or_else(|| {
            action_ref
                .split_once('.')
                .map(|(_, name)| name.to_string())
                .unwrap_or_default()
        }),
        action_ref,
        description: text("description"),
        parameters: crate::action::merge_parameters(
            runner_parameters.clone(),
            &Value::Object(action_parameters.clone()),
        ),
        runner_parameters: runner_parameters.clone(),
        action_parameters,
        // The cluster runs every runner it has registered.
        supported: true,
        runner_type,
        entry_point: text("entry_point").unwrap_or_default(),
        enabled: action
            .get("enabled")
            .and_then(Value::as_bool)
            .unwrap_or(true),
        metadata_file: text("metadata_file").unwrap_or_default(),
        builtin: false,
        native: false,
    })
}
