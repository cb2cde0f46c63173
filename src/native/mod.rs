//! Native implementations of Exchange actions: Rust code that runs instead of a pack's own
//! Python when the pack's code can no longer work as written (the `twitter` pack targets a
//! retired API) or needs no Python at all.
//!
//! Each implementation names the action it replaces and how to recognise the Exchange pack's
//! action (its entry point), checks parameters before anything is recorded, and runs with
//! the same [`RunRequest`] the runners get (resolved config included). Adding one is adding
//! a module and a line to [`NATIVES`]; the runners are not touched.
//!
//! The switch: `[actionrunner] native_actions = false` in `st2.conf`, or `st2 run --no-native`
//! for one run, runs the pack's own code with its runner instead.

pub(crate) mod twitter;

use serde_json::{Map, Value};

use crate::runner::{RunOutcome, RunRequest};

/// A native implementation of one Exchange action.
pub(crate) trait NativeAction: Sync {
    /// The ref of the action it implements, e.g. `twitter.update_status`.
    fn action_ref(&self) -> &'static str;

    /// The Exchange action's `entry_point`: a pack's own action of the same name with other
    /// code is not replaced.
    fn entry_point(&self) -> &'static str;

    /// Checks of the parameters beyond the schema, before anything is recorded (each error
    /// names the parameter).
    fn check(&self, _parameters: &Map<String, Value>) -> Result<(), String> {
        Ok(())
    }

    /// Run one execution.
    fn run(&self, request: &RunRequest) -> RunOutcome;
}

/// Every native implementation.
static NATIVES: &[&dyn NativeAction] = &[&twitter::UpdateStatus];

/// The native implementation of an action, if there is one for it.
pub(crate) fn find(action_ref: &str, entry_point: &str) -> Option<&'static dyn NativeAction> {
    NATIVES
        .iter()
        .copied()
        .find(|native| native.action_ref() == action_ref && native.entry_point() == entry_point)
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_the_exchange_action_is_replaced() {
        assert!(super::find("twitter.update_status", "update_status.py").is_some());
        assert!(super::find("twitter.update_status", "mine.py").is_none());
        assert!(super::find("twitter.follow", "follow.py").is_none());
    }
}
