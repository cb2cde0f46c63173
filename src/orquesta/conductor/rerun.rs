//! A conductor kept and resumed: [`Conductor::save`] serializes all of its state when the
//! workflow ends (orquesta's `WorkflowConductor.serialize`: every task state entry with its
//! contexts, transitions and retries, the staged tasks with their items, the errors),
//! [`Conductor::restore`] reads it back, and [`Conductor::request_rerun`] is orquesta's
//! `request_workflow_rerun` for the tasks `st2 execution re-run --tasks` names.

use serde::{Deserialize, Serialize};

use super::*;

/// The version of [`Saved`]; a conductor saved by another one is not resumed.
const SAVED_VERSION: u64 = 1;

type RetryState = Option<(i64, Option<i64>, Option<String>, i64)>;

#[derive(Serialize, Deserialize)]
struct SavedTask {
    id: String,
    route: usize,
    status: Option<String>,
    ctxs_in: Vec<usize>,
    prev: Map<String, Value>,
    next: Map<String, Value>,
    term: bool,
    retry: RetryState,
}

#[derive(Serialize, Deserialize)]
struct SavedStaged {
    id: String,
    route: usize,
    ctxs_in: Vec<usize>,
    prev: Map<String, Value>,
    ready: bool,
    retry: RetryState,
    items: Option<Vec<String>>,
    completed: bool,
    run_on_fail: bool,
}

#[derive(Serialize, Deserialize)]
struct Saved {
    version: u64,
    status: String,
    contexts: Vec<Map<String, Value>>,
    routes: Vec<Vec<String>>,
    sequence: Vec<SavedTask>,
    staged: Vec<SavedStaged>,
    errors: Vec<Value>,
    output: Option<Map<String, Value>>,
    /// `(task, route, results)` of with-items tasks.
    item_results: Vec<(String, usize, Vec<Value>)>,
}

impl<'a> Conductor<'a> {
    /// All of the conductor's state, to [`Conductor::restore`] later.
    pub fn save(&self) -> Value {
        let mut item_results: Vec<(String, usize, Vec<Value>)> = self
            .item_results
            .iter()
            .map(|((id, route), results)| (id.clone(), *route, results.clone()))
            .collect();
        item_results.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        let saved = Saved {
            version: SAVED_VERSION,
            status: self.status.clone(),
            contexts: self.contexts.clone(),
            routes: self.routes.clone(),
            sequence: self
                .sequence
                .iter()
                .map(|t| SavedTask {
                    id: t.id.clone(),
                    route: t.route,
                    status: t.status.clone(),
                    ctxs_in: t.ctxs_in.clone(),
                    prev: t.prev.clone(),
                    next: t.next.clone(),
                    term: t.term,
                    retry: t.retry.clone(),
                })
                .collect(),
            staged: self
                .staged
                .iter()
                .map(|s| SavedStaged {
                    id: s.id.clone(),
                    route: s.route,
                    ctxs_in: s.ctxs_in.clone(),
                    prev: s.prev.clone(),
                    ready: s.ready,
                    retry: s.retry.clone(),
                    items: s.items.clone(),
                    completed: s.completed,
                    run_on_fail: s.run_on_fail,
                })
                .collect(),
            errors: self.errors.clone(),
            output: self.output.clone(),
            item_results,
        };
        serde_json::to_value(saved).unwrap_or(Value::Null)
    }

    /// The conductor of `spec` as [`Conductor::save`] left it; `functions` as for
    /// [`Conductor::new`].
    pub fn restore(
        spec: &'a WorkflowSpec,
        saved: &Value,
        functions: Functions,
    ) -> Result<Conductor<'a>, String> {
        let saved: Saved = serde_json::from_value(saved.clone())
            .map_err(|e| format!("the saved workflow state cannot be read: {e}"))?;
        if saved.version != SAVED_VERSION {
            return Err(format!(
                "the saved workflow state is of version {}, not {SAVED_VERSION}",
                saved.version
            ));
        }
        let bad_context = saved
            .sequence
            .iter()
            .flat_map(|t| &t.ctxs_in)
            .chain(saved.staged.iter().flat_map(|s| &s.ctxs_in))
            .any(|&i| i >= saved.contexts.len());
        if bad_context
            || saved.sequence.iter().any(|t| {
                spec.task(&t.id).is_none() && !RESERVED_TASK_NAMES.contains(&t.id.as_str())
            })
        {
            return Err("the saved workflow state does not match its workflow".into());
        }
        let mut functions = functions;
        register_functions(&mut functions);
        let mut tasks = HashMap::new();
        for (at, task) in saved.sequence.iter().enumerate() {
            tasks.insert((task.id.clone(), task.route), at);
        }
        Ok(Conductor {
            spec,
            graph: Graph::compose(spec),
            functions,
            status: saved.status,
            contexts: saved.contexts,
            routes: saved.routes,
            sequence: saved
                .sequence
                .into_iter()
                .map(|t| TaskState {
                    id: t.id,
                    route: t.route,
                    status: t.status,
                    ctxs_in: t.ctxs_in,
                    prev: t.prev,
                    next: t.next,
                    term: t.term,
                    retry: t.retry,
                })
                .collect(),
            tasks,
            staged: saved
                .staged
                .into_iter()
                .map(|s| Staged {
                    id: s.id,
                    route: s.route,
                    ctxs_in: s.ctxs_in,
                    prev: s.prev,
                    ready: s.ready,
                    retry: s.retry,
                    items: s.items,
                    completed: s.completed,
                    run_on_fail: s.run_on_fail,
                })
                .collect(),
            errors: saved.errors,
            output: saved.output,
            item_results: saved
                .item_results
                .into_iter()
                .map(|(id, route, results)| ((id, route), results))
                .collect(),
        })
    }

    /// The tasks named `tasks` that ran (every route of each), as st2's `request_rerun`
    /// asks for them; the names of those that never ran are the error.
    pub fn rerun_requests(&self, tasks: &[String]) -> Result<Vec<(String, usize)>, Vec<String>> {
        let mut requests: Vec<(String, usize)> = Vec::new();
        let mut problems = Vec::new();
        for name in tasks {
            let entries: Vec<&TaskState> = self.sequence.iter().filter(|t| &t.id == name).collect();
            if entries.is_empty() {
                problems.push(name.clone());
                continue;
            }
            for entry in entries {
                let key = (name.clone(), entry.route);
                if !requests.contains(&key) {
                    requests.push(key);
                }
            }
        }
        if problems.is_empty() {
            Ok(requests)
        } else {
            Err(problems)
        }
    }

    /// orquesta's `request_workflow_rerun` with st2's task requests: each of `tasks` (by
    /// name, every route it ran on; with its items all reset when in `reset`, else only the
    /// abended ones) gets a new task state entry and is staged again, the terminal tasks
    /// with a transition taken are no longer terminal, the output is reset, and the
    /// workflow is `resuming`. The error is st2's message.
    pub fn request_rerun(&mut self, tasks: &[String], reset: &[String]) -> Result<(), String> {
        if !is(&self.status, COMPLETED) {
            return Err("The workflow is still active and cannot be rerun.".into());
        }
        let requests = self.rerun_requests(tasks).map_err(|problems| {
            format!(
                "Unable to rerun workflow because one or more tasks is not found: {}",
                problems.join(",")
            )
        })?;
        let collapsed = self.collapse(&requests);
        let mut candidates: Vec<&(String, usize)> = requests
            .iter()
            .filter(|request| collapsed.contains(request))
            .collect();
        candidates.sort();
        for (id, route) in candidates {
            self.request_task_rerun(id, *route, reset.contains(id))?;
        }
        for task in self.sequence.iter_mut() {
            if task.term && task.next.values().any(truthy) {
                task.term = false;
            }
        }
        self.output = None;
        self.status = "resuming".into();
        Ok(())
    }

    /// `WorkflowState.get_task_sequence`: the entry of `(id, route)` and the entries whose
    /// `prev` names an entry of it (orquesta goes no further: it never queues them).
    fn task_sequence(&self, id: &str, route: usize) -> Vec<usize> {
        let Some(at) = self.state_index(id, route) else {
            return Vec::new();
        };
        let mut out = vec![at];
        for (i, task) in self.sequence.iter().enumerate() {
            for prev in task.prev.values() {
                let Some(p) = prev.as_u64().and_then(|p| self.sequence.get(p as usize)) else {
                    continue;
                };
                if p.id == id && p.route == route {
                    out.push(i);
                }
            }
        }
        out
    }

    /// `_collapse_task_rerun_requests`: with more than one request, one whose sequence lies
    /// within every request's (its own included) is left out.
    fn collapse(&self, requests: &[(String, usize)]) -> Vec<(String, usize)> {
        let sequences: Vec<Vec<usize>> = requests
            .iter()
            .map(|(id, route)| self.task_sequence(id, *route))
            .collect();
        if requests.len() <= 1 {
            return requests.to_vec();
        }
        requests
            .iter()
            .zip(&sequences)
            .filter(|(_, own)| {
                sequences
                    .iter()
                    .any(|other| own.iter().any(|i| !other.contains(i)))
            })
            .map(|(request, _)| request.clone())
            .collect()
    }

    /// `_request_task_rerun`.
    fn request_task_rerun(
        &mut self,
        id: &str,
        route: usize,
        reset_items: bool,
    ) -> Result<(), String> {
        let Some(at) = self.state_index(id, route) else {
            return Ok(());
        };
        let ctxs_in = self.sequence[at].ctxs_in.clone();
        let prev = self.sequence[at].prev.clone();
        self.sequence[at].term = false;
        if let Some(i) = self.staged_index(id, route) {
            self.staged[i].completed = false;
        }
        self.errors
            .retain(|e| e.get("task_id").and_then(Value::as_str) != Some(id));
        let has_items = self.spec.task(id).is_some_and(|t| t.with.is_some());
        match self.staged_index(id, route) {
            Some(i) if has_items => {
                for item in self.staged[i].items.iter_mut().flatten() {
                    if reset_items || is(item, ABENDED) {
                        item.clear();
                    }
                }
            }
            staged => {
                // A with-items task no longer staged (it succeeded) runs all its items
                // again (orquesta has no staged entry to take them from).
                if let Some(i) = staged {
                    self.staged.remove(i);
                }
                if has_items {
                    self.item_results.remove(&(id.to_string(), route));
                } else {
                    self.add_task_state(id, route, ctxs_in.clone(), prev.clone())?;
                }
                self.staged.push(Staged {
                    id: id.to_string(),
                    route,
                    ctxs_in,
                    prev,
                    ready: true,
                    retry: None,
                    items: None,
                    completed: false,
                    run_on_fail: false,
                });
            }
        }
        for i in self.task_sequence(id, route) {
            self.sequence[i].term = false;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::orquesta::inspect::inspect_all;

    fn spec(text: &str) -> WorkflowSpec {
        let raw = crate::yaml::from_str(text).unwrap();
        let (spec, errors) = inspect_all(&raw, &["st2", "parent"], &Functions::new());
        assert!(errors.is_empty(), "{errors:?}");
        spec
    }

    const SEQUENTIAL: &str = "version: 1.0\ntasks:\n  task1:\n    action: core.noop\n    next:\n      - when: <% succeeded() %>\n        do: task2\n  task2:\n    action: core.noop\n";

    /// Run `conductor` one task at a time, each ending with `status(task)`.
    fn drive(conductor: &mut Conductor, status: impl Fn(&str) -> &'static str) {
        loop {
            let next = conductor.next_tasks();
            if next.is_empty() {
                break;
            }
            for task in next {
                conductor.action_event(&task.id, task.route, None, "running", Value::Null);
                conductor.action_event(&task.id, task.route, None, status(&task.id), json!({}));
            }
        }
        conductor.settle();
        conductor.render_output();
    }

    #[test]
    fn a_failed_task_runs_again_from_the_saved_state() {
        let spec = spec(SEQUENTIAL);
        let mut conductor = Conductor::new(&spec, &Map::new(), Map::new(), Functions::new());
        drive(&mut conductor, |_| "failed");
        assert_eq!(conductor.status(), "failed");
        let saved = conductor.save();
        let mut resumed = Conductor::restore(&spec, &saved, Functions::new()).unwrap();
        assert_eq!(resumed.save(), saved);
        resumed.request_rerun(&["task1".into()], &[]).unwrap();
        assert_eq!(resumed.status(), "resuming");
        assert!(resumed.errors().is_empty());
        drive(&mut resumed, |_| "succeeded");
        assert_eq!(resumed.status(), "succeeded");
        let ran: Vec<(&str, Option<&str>)> = resumed
            .sequence()
            .iter()
            .map(|t| (t.id.as_str(), t.status.as_deref()))
            .collect();
        assert_eq!(
            ran,
            [
                ("task1", Some("failed")),
                ("task1", Some("succeeded")),
                ("task2", Some("succeeded"))
            ]
        );
    }

    #[test]
    fn unknown_tasks_are_named() {
        let spec = spec(SEQUENTIAL);
        let mut conductor = Conductor::new(&spec, &Map::new(), Map::new(), Functions::new());
        drive(&mut conductor, |_| "failed");
        let err = conductor
            .request_rerun(&["task2".into(), "task9".into()], &[])
            .unwrap_err();
        assert_eq!(
            err,
            "Unable to rerun workflow because one or more tasks is not found: task2,task9"
        );
    }

    #[test]
    fn a_saved_state_of_another_workflow_is_refused() {
        let spec1 = spec(SEQUENTIAL);
        let mut conductor = Conductor::new(&spec1, &Map::new(), Map::new(), Functions::new());
        drive(&mut conductor, |_| "failed");
        let other = spec("version: 1.0\ntasks:\n  other:\n    action: core.noop\n");
        assert!(Conductor::restore(&other, &conductor.save(), Functions::new()).is_err());
        assert!(Conductor::restore(&other, &json!({"version": 9}), Functions::new()).is_err());
    }
}
