//! `st2 action list/get` on the embedded store, with the built-in `core` pack.

use crate::action::{self, Action};
use crate::ops::actions::ActionView;
use crate::settings::Settings;
use crate::store::Store;

impl From<&Action> for ActionView {
    fn from(action: &Action) -> ActionView {
        let record = &action.record;
        ActionView {
            action_ref: record.action_ref.clone(),
            pack: record.pack.clone(),
            name: record.name.clone(),
            description: record.description.clone(),
            runner_type: record.runner_type.clone(),
            entry_point: record.entry_point.clone(),
            enabled: record.enabled,
            parameters: action.schema(),
            runner_parameters: crate::runner::parameters(&record.runner_type)
                .cloned()
                .unwrap_or_default(),
            action_parameters: record.parameters.as_object().cloned().unwrap_or_default(),
            metadata_file: record.metadata_file.clone(),
            builtin: action.builtin,
            supported: crate::runner::is_supported(&record.runner_type),
            native: crate::native::find(&record.action_ref, &record.entry_point).is_some(),
        }
    }
}

pub(super) fn list(settings: &Settings, pack: Option<&str>) -> anyhow::Result<Vec<ActionView>> {
    let store = Store::open_existing(&settings.store_path)?;
    let actions = action::list(store.as_ref(), pack)?;
    Ok(actions.iter().map(ActionView::from).collect())
}

pub(super) fn get(settings: &Settings, action_ref: &str) -> anyhow::Result<ActionView> {
    let store = Store::open_existing(&settings.store_path)?;
    let action = action::lookup(store.as_ref(), action_ref)?;
    Ok(ActionView::from(&action))
}
