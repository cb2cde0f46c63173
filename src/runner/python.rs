//! The `python` runner (being written).

use super::{Outcome, RunOutcome, RunRequest};

/// Run one execution.
pub fn run(request: &RunRequest) -> RunOutcome {
    RunOutcome::error(
        Outcome::Failed,
        format!(
            "the {} runner is not supported by st2-rs yet",
            request.runner_type
        ),
    )
}
