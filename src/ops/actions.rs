//! Action operations: list and get actions, with their parameters.
//!
//! Shaped for StackStorm's API as well as for the embedded store
//! (`../shared/spec/remote-api.md` §2): `GET /actions` and `GET /actions/REF`, the runner's
//! parameters from `GET /runnertypes/?name=`.

use serde_json::{Map, Value};

/// An action, as `st2 action list/get` and `st2 run ACTION -h` show it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ActionView {
    /// `<pack>.<name>`.
    pub(crate) action_ref: String,
    /// The pack ref.
    pub(crate) pack: String,
    /// The name.
    pub(crate) name: String,
    /// `description`.
    pub(crate) description: Option<String>,
    /// `runner_type`.
    pub(crate) runner_type: String,
    /// `entry_point`.
    pub(crate) entry_point: String,
    /// `enabled`.
    pub(crate) enabled: bool,
    /// The effective parameter schema: the runner's parameters merged with the action's.
    pub(crate) parameters: Map<String, Value>,
    /// The runner type's own parameters.
    pub(crate) runner_parameters: Map<String, Value>,
    /// The parameters the action's metadata declares.
    pub(crate) action_parameters: Map<String, Value>,
    /// The metadata file it was registered from.
    pub(crate) metadata_file: String,
    /// Whether it is one of st2-rs's built-in `core` actions.
    pub(crate) builtin: bool,
    /// Whether `st2 run` can run its runner type.
    pub(crate) supported: bool,
    /// Whether st2-rs has a native implementation of it.
    pub(crate) native: bool,
}

/// Action operations: list and get actions, with their parameters.
pub(crate) trait ActionOps {
    /// Every action, or those of one pack, by ref.
    fn action_list(&self, pack: Option<&str>) -> anyhow::Result<Vec<ActionView>>;

    /// One action; an [`ActionError`](crate::action::ActionError) `NotFound` or `BadRef`
    /// in the chain when there is no such action.
    fn action_get(&self, action_ref: &str) -> anyhow::Result<ActionView>;
}
