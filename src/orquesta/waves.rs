//! The deterministic waves of `../shared/spec/workflows.md` §2.6 **\[fix\]** (orquesta-rehearse's
//! discipline): ask the conductor for the ready tasks, mark every action execution of the
//! wave running in wave order, run them (an [`Executor`]: child executions, or the mocks of
//! `ST2_WORKFLOW_MOCKS`), then apply their completions in wave order; repeat until nothing
//! is ready, then render the output.

use serde_json::{json, Map, Value};

use super::conductor::Conductor;

/// One action execution a wave runs.
#[derive(Debug, Clone)]
pub struct ActionRequest {
    /// Task name.
    pub task_id: String,
    /// Route index.
    pub route: usize,
    /// Item index (with-items).
    pub item_id: Option<usize>,
    /// The action ref (`None`: the task has no action; it succeeds with result null).
    pub action: Option<String>,
    /// The rendered input.
    pub input: Map<String, Value>,
    /// The index of the task's entry in the sequence.
    pub seq_id: usize,
    /// Seconds to wait before it starts.
    pub delay: Option<i64>,
}

/// How an action execution ended.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionResult {
    /// Its final status (`succeeded`, `failed`, `timeout`, `canceled`, ...).
    pub status: String,
    /// Its result.
    pub result: Value,
    /// Why it could not be started (its parameters were refused, say): the task fails with
    /// this error and so does the workflow (`services/workflows.py:
    /// request_task_execution`).
    pub not_started: Option<String>,
}

/// Runs a wave's action executions.
pub trait Executor {
    /// Run `wave` (all of it; concurrently if it likes) and answer each one's end, in order.
    fn run(&mut self, wave: &[ActionRequest]) -> Vec<ActionResult>;
    /// Whether the workflow is being canceled.
    fn canceled(&self) -> bool {
        false
    }

    /// A with-items task over an empty list completed at once, with no action.
    fn empty_items(&mut self, _task_id: &str, _route: usize) {}

    /// The conductor state after a wave (`st2 execution get` of a running workflow shows it).
    fn progress(&mut self, _state: &Value) {}
}

/// Conduct the workflow to its end.
pub fn conduct(conductor: &mut Conductor<'_>, executor: &mut dyn Executor) {
    loop {
        if executor.canceled() {
            conductor.cancel();
        }
        let next = conductor.next_tasks();
        if next.is_empty() {
            break;
        }
        let mut wave = Vec::new();
        let mut empty_items = Vec::new();
        for task in &next {
            if task.items_count == Some(0) {
                empty_items.push((task.id.clone(), task.route));
                continue;
            }
            for action in &task.actions {
                conductor.action_event(
                    &task.id,
                    task.route,
                    action.item_id,
                    "running",
                    Value::Null,
                );
                wave.push(ActionRequest {
                    task_id: task.id.clone(),
                    route: task.route,
                    item_id: action.item_id,
                    action: action.action.clone(),
                    input: action.input.clone(),
                    seq_id: conductor.sequence().len().saturating_sub(1),
                    // With items and a concurrency, only the first `concurrency` items wait
                    // (`services/workflows.py: eval_action_execution_delay`).
                    delay: match (action.item_id, task.concurrency) {
                        (Some(item), Some(concurrency)) if item as i64 >= concurrency => None,
                        _ => task.delay,
                    },
                });
            }
        }
        for (id, route) in empty_items {
            executor.empty_items(&id, route);
            conductor.action_event(&id, route, None, "running", Value::Null);
            conductor.action_event(&id, route, None, "succeeded", json!([]));
        }
        let results = if wave.is_empty() {
            Vec::new()
        } else {
            executor.progress(&conductor.state());
            executor.run(&wave)
        };
        for (request, result) in wave.iter().zip(results) {
            if let Some(message) = result.not_started {
                conductor.action_not_started(&request.task_id, request.route, &message);
                continue;
            }
            conductor.action_event(
                &request.task_id,
                request.route,
                request.item_id,
                &result.status,
                result.result,
            );
        }
        if executor.canceled() {
            conductor.cancel();
        }
        executor.progress(&conductor.state());
    }
    if executor.canceled() {
        conductor.cancel();
    }
    conductor.settle();
    conductor.render_output();
}

/// One entry of `ST2_WORKFLOW_MOCKS` (orquesta-rehearse's `mock_action_executions`).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Mock {
    /// The task.
    pub task_id: String,
    /// Which item (with-items).
    #[serde(default)]
    pub item_id: Option<usize>,
    /// Which entry of the sequence.
    #[serde(default)]
    pub seq_id: Option<usize>,
    /// First iteration it answers.
    #[serde(default)]
    pub iter_id: i64,
    /// How many iterations it answers.
    #[serde(default = "one")]
    pub num_iter: i64,
    /// Status (default `succeeded`).
    #[serde(default)]
    pub status: Option<String>,
    /// Result.
    #[serde(default)]
    pub result: Value,
    #[serde(skip)]
    iter_pos: Option<i64>,
}

fn one() -> i64 {
    1
}

/// Mocked action executions, matched as orquesta-rehearse matches them
/// (`WorkflowTestCaseMixin.get_mock_action_execution`).
#[derive(Debug, Clone, Default)]
pub struct Mocks {
    entries: Vec<Mock>,
}

impl Mocks {
    /// The mocks of a JSON list.
    pub fn from_json(value: &Value) -> Result<Mocks, String> {
        let entries: Vec<Mock> =
            serde_json::from_value(value.clone()).map_err(|e| e.to_string())?;
        Ok(Mocks { entries })
    }

    fn find(&self, task: &str, item: Option<usize>, seq: Option<usize>) -> Option<usize> {
        let mut found: Vec<usize> = (0..self.entries.len())
            .filter(|&i| {
                let m = &self.entries[i];
                let pos = m.iter_pos.unwrap_or(m.iter_id - 1);
                m.task_id == task && pos < m.iter_id + m.num_iter - 1
            })
            .collect();
        if !found.is_empty() && seq.is_some() {
            found.retain(|&i| self.entries[i].seq_id == seq);
        }
        if !found.is_empty() && item.is_some() {
            found.retain(|&i| self.entries[i].item_id == item);
        }
        if let Some(&first) = found.first() {
            if self.entries[first].seq_id.is_some() && seq.is_none() {
                return None;
            }
        }
        found.first().copied()
    }

    /// The mocked end of `request`: the matching entry (used up by one iteration), else
    /// `None`.
    pub fn answer(&mut self, request: &ActionRequest) -> Option<ActionResult> {
        let at = self
            .find(&request.task_id, request.item_id, Some(request.seq_id))
            .or_else(|| self.find(&request.task_id, request.item_id, None))?;
        let mock = &mut self.entries[at];
        mock.iter_pos = Some(mock.iter_pos.unwrap_or(mock.iter_id - 1) + 1);
        Some(ActionResult {
            status: mock.status.clone().unwrap_or_else(|| "succeeded".into()),
            result: mock.result.clone(),
            not_started: None,
        })
    }
}

/// An [`Executor`] answering from [`Mocks`]; an action no entry matches succeeds with result
/// null (the rehearsal's default) when `lenient`, else fails naming the task.
pub struct MockExecutor {
    /// The mocks.
    pub mocks: Mocks,
    /// Whether an unmatched action succeeds.
    pub lenient: bool,
    /// Every request, in order.
    pub requests: Vec<ActionRequest>,
}

impl Executor for MockExecutor {
    fn run(&mut self, wave: &[ActionRequest]) -> Vec<ActionResult> {
        self.requests.extend(wave.iter().cloned());
        wave.iter()
            .map(|request| match self.mocks.answer(request) {
                Some(result) => result,
                None if self.lenient || request.action.is_none() => ActionResult {
                    status: "succeeded".into(),
                    result: Value::Null,
                    not_started: None,
                },
                None => ActionResult {
                    status: "failed".into(),
                    result: Value::Null,
                    not_started: Some(format!(
                        "no mocked action execution matches task \"{}\"",
                        request.task_id
                    )),
                },
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Map, Value};

    use super::*;
    use crate::orquesta::conductor::Conductor;
    use crate::orquesta::inspect::inspect;
    use crate::yaql::Functions;

    /// Conduct `text` with `mocks`: (sequence, status, output, errors).
    fn conduct_text(text: &str, mocks: Value) -> (Vec<String>, String, Option<Value>, Vec<Value>) {
        let raw = crate::yaml::from_str(text).unwrap();
        let spec = inspect(&raw, &[], &Functions::new()).unwrap();
        let mut conductor = Conductor::new(&spec, &Map::new(), Map::new(), Functions::new());
        let mut executor = MockExecutor {
            mocks: Mocks::from_json(&mocks).unwrap(),
            lenient: true,
            requests: Vec::new(),
        };
        conduct(&mut conductor, &mut executor);
        let sequence = conductor
            .sequence()
            .iter()
            .map(|t| format!("{}__r{}", t.id, t.route))
            .collect();
        (
            sequence,
            conductor.status().to_string(),
            conductor.output(),
            conductor.errors().to_vec(),
        )
    }

    #[test]
    fn a_sequence_publishes_and_renders_its_output() {
        let (sequence, status, output, _) = conduct_text(
            "version: 1.0\ntasks:\n  t1:\n    action: core.noop\n    next:\n      - when: <% succeeded() %>\n        publish: x=<% result().n %>\n        do: t2\n  t2:\n    action: core.noop\noutput:\n  - x: <% ctx(x) %>\n",
            json!([{"task_id": "t1", "result": {"n": 7}}]),
        );
        assert_eq!(sequence, ["t1__r0", "t2__r0"]);
        assert_eq!(status, "succeeded");
        assert_eq!(output, Some(json!({"x": 7})));
    }

    #[test]
    fn a_join_waits_for_every_branch_and_a_split_gets_routes() {
        let (sequence, status, _, _) = conduct_text(
            "version: 1.0\ntasks:\n  a:\n    next:\n      - do: b, c\n  b:\n    next:\n      - do: j, s\n  c:\n    next:\n      - do: j, s\n  j:\n    join: all\n  s:\n    action: core.noop\n",
            json!([]),
        );
        assert_eq!(
            sequence,
            ["a__r0", "b__r0", "c__r0", "j__r0", "s__r1", "s__r2"]
        );
        assert_eq!(status, "succeeded");
    }

    #[test]
    fn an_unremediated_failure_fails_the_workflow_and_noop_remediates() {
        let failing = json!([{"task_id": "t1", "status": "failed", "result": "boom"}]);
        let (_, status, _, errors) = conduct_text(
            "version: 1.0\ntasks:\n  t1:\n    action: core.noop\n",
            failing.clone(),
        );
        assert_eq!(status, "failed");
        assert_eq!(
            errors,
            [
                json!({"type": "error", "message": "Execution failed. See result for details.", "task_id": "t1", "result": "boom"})
            ]
        );
        let (sequence, status, _, _) = conduct_text(
            "version: 1.0\ntasks:\n  t1:\n    action: core.noop\n    next:\n      - when: <% failed() %>\n        do: noop\n",
            failing,
        );
        assert_eq!(sequence, ["t1__r0", "noop__r0"]);
        assert_eq!(status, "succeeded");
    }

    #[test]
    fn retry_reruns_on_the_same_entry() {
        let raw = crate::yaml::from_str(
            "version: 1.0\ntasks:\n  t1:\n    action: core.noop\n    retry:\n      count: 2\n",
        )
        .unwrap();
        let spec = inspect(&raw, &[], &Functions::new()).unwrap();
        let mut conductor = Conductor::new(&spec, &Map::new(), Map::new(), Functions::new());
        let mut executor = MockExecutor {
            mocks: Mocks::from_json(&json!([{"task_id": "t1", "status": "failed", "num_iter": 3}]))
                .unwrap(),
            lenient: true,
            requests: Vec::new(),
        };
        conduct(&mut conductor, &mut executor);
        assert_eq!(executor.requests.len(), 3);
        assert_eq!(conductor.sequence().len(), 1);
        assert_eq!(conductor.status(), "failed");
    }

    #[test]
    fn an_unmatched_action_is_an_error_naming_its_task_when_mocks_are_strict() {
        let raw =
            crate::yaml::from_str("version: 1.0\ntasks:\n  t1:\n    action: core.noop\n").unwrap();
        let spec = inspect(&raw, &[], &Functions::new()).unwrap();
        let mut conductor = Conductor::new(&spec, &Map::new(), Map::new(), Functions::new());
        let mut executor = MockExecutor {
            mocks: Mocks::default(),
            lenient: false,
            requests: Vec::new(),
        };
        conduct(&mut conductor, &mut executor);
        assert_eq!(conductor.status(), "failed");
        assert_eq!(
            conductor.errors()[0]["message"],
            "no mocked action execution matches task \"t1\""
        );
    }
}
