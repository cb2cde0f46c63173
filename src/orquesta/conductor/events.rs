//! Events: an action's status reaching its task (`WorkflowConductor.update_task_state`), the
//! task's transitions evaluated (`when`, `publish`, `do`, retries), the next tasks staged on
//! their routes, and the workflow's status following its tasks'.

use super::*;

impl Conductor<'_> {
    /// An action execution of task `(id, route)` reached `status` (`running`, then a final
    /// one with its `result`); for with-items tasks, `item_id` names the item.
    pub fn action_event(
        &mut self,
        id: &str,
        route: usize,
        item_id: Option<usize>,
        status: &str,
        result: Value,
    ) {
        self.update_task_state(
            id,
            route,
            Event::Action {
                status: status.to_string(),
                result,
                item_id,
            },
        );
    }

    /// The action of task `(id, route)` could not be started: the task fails with `message`
    /// logged (task and route named, no result) and the workflow fails.
    pub fn action_not_started(&mut self, id: &str, route: usize, message: &str) {
        self.log(error_entry(message.to_string(), Some(id), Some(route)));
        if let Some(at) = self.state_index(id, route) {
            self.sequence[at].status = Some("failed".into());
        }
        self.remove_staged(id, route);
        self.fail_workflow();
    }

    pub(super) fn update_task_state(&mut self, id: &str, route: usize, event: Event) {
        let event_status = event.status();
        let Some(at) = self.entry_for_event(id, route, &event_status) else {
            return;
        };
        let has_items = self.spec.task(id).is_some_and(|t| t.with.is_some());
        if let Some(i) = self.staged_index(id, route) {
            if self.staged[i].items.is_none() && !event_status.is_empty() {
                self.staged.remove(i);
            }
        }
        self.record_item_event(id, route, &event, &event_status);
        if event_status == "failed" {
            self.log_failure(id, &event);
        }
        let old = self.sequence[at].status.clone();
        let new = self.task_transition(id, route, at, &event);
        if let Some(new) = &new {
            self.sequence[at].status = Some(new.clone());
        }
        let new = self.sequence[at].status.clone().unwrap_or_default();
        if new == "retrying" {
            self.restage_for_retry(id, route, at);
        }
        if is(&new, COMPLETED) {
            if !(has_items && is(&new, ABENDED)) {
                self.remove_staged(id, route);
            } else if let Some(i) = self.staged_index(id, route) {
                self.staged[i].completed = true;
            }
            let result = self.task_result(id, route, has_items, &event);
            let ctx = self.with_current(
                self.context_of(&self.sequence[at].ctxs_in.clone()),
                id,
                route,
                Some(&result),
            );
            if is(&self.status, ACTIVE) {
                match self.evaluate_retry(at, &ctx) {
                    Ok(true) => {
                        self.update_task_state(id, route, Event::Retry);
                        return;
                    }
                    Ok(false) => {}
                    Err(e) => {
                        self.log_error(&e, Some(id), Some(route), None);
                        self.fail_workflow();
                    }
                }
            }
            if Some(new.as_str()) != old.as_deref() {
                self.transitions(id, route, at, ctx);
                return self.after_task_event(id, route, at);
            }
        }
        self.after_task_event_simple(id, route, at);
    }

    /// The sequence entry an event of `(id, route)` applies to: the task's current one, or
    /// a new one when it has none yet, when it is an engine command (`fail`, `noop`, ...),
    /// or when a completed task starts again. `None` when the task is neither staged nor
    /// in the sequence, or its new entry cannot be made (the workflow then fails).
    fn entry_for_event(&mut self, id: &str, route: usize, event_status: &str) -> Option<usize> {
        let engine = RESERVED_TASK_NAMES.contains(&id);
        let staged_at = self.staged_index(id, route);
        let at = self.state_index(id, route);
        if staged_at.is_none() && at.is_none() {
            return None;
        }
        let staged = staged_at.map(|i| self.staged[i].clone());
        let restarted = at
            .and_then(|at| self.sequence[at].status.as_deref())
            .is_some_and(|s| is(s, COMPLETED))
            && is(event_status, STARTING);
        let staged = match (at, staged) {
            // A new entry is needed, and can only come from the staged task.
            (None, staged) => staged?,
            (Some(_), staged) if engine => staged?,
            (Some(_), Some(staged)) if restarted => staged,
            (Some(at), _) => return Some(at),
        };
        match self.add_task_state(id, staged.route, staged.ctxs_in, staged.prev) {
            Ok(i) => Some(i),
            Err(message) => {
                self.log(error_entry(message, Some(id), Some(route)));
                self.fail_workflow();
                None
            }
        }
    }

    /// A with-items event: the item's status, and its result once it completed.
    fn record_item_event(&mut self, id: &str, route: usize, event: &Event, event_status: &str) {
        let (
            Event::Action {
                item_id: Some(item),
                result,
                ..
            },
            Some(i),
        ) = (event, self.staged_index(id, route))
        else {
            return;
        };
        if let Some(items) = self.staged[i].items.as_mut() {
            if *item < items.len() {
                items[*item] = event_status.to_string();
            }
        }
        if is(event_status, COMPLETED) {
            let count = self.staged[i].items.as_ref().map_or(0, Vec::len);
            let results = self
                .item_results
                .entry((id.to_string(), route))
                .or_insert_with(|| vec![Value::Null; count]);
            if *item < results.len() {
                results[*item] = result.clone();
            }
        }
    }

    /// `Execution failed. See result for details.`, with the action's result.
    fn log_failure(&mut self, id: &str, event: &Event) {
        let mut entry = error_entry(
            "Execution failed. See result for details.".into(),
            Some(id),
            None,
        );
        if let Event::Action { result, .. } = event {
            if !result.is_null() {
                entry["result"] = result.clone();
            }
        }
        self.log(entry);
    }

    /// A retried task is staged again, ready, on the same entry's context.
    fn restage_for_retry(&mut self, id: &str, route: usize, at: usize) {
        if let Some(retry) = self.sequence[at].retry.as_mut() {
            retry.3 += 1;
        }
        let entry = self.sequence[at].clone();
        self.remove_staged(id, route);
        self.staged.push(Staged {
            id: id.to_string(),
            route,
            ctxs_in: entry.ctxs_in,
            prev: entry.prev,
            ready: true,
            retry: entry.retry,
            items: None,
            completed: false,
            run_on_fail: false,
        });
        self.item_results.remove(&(id.to_string(), route));
    }

    /// What `result()` gives once the task completed: the action's result, or every item's
    /// in item order.
    fn task_result(&self, id: &str, route: usize, has_items: bool, event: &Event) -> Value {
        if has_items {
            return Value::Array(
                self.item_results
                    .get(&(id.to_string(), route))
                    .cloned()
                    .unwrap_or_default(),
            );
        }
        match event {
            Event::Action { result, .. } => result.clone(),
            _ => Value::Null,
        }
    }

    pub(super) fn after_task_event_simple(&mut self, id: &str, route: usize, at: usize) {
        self.workflow_task_event(id, route, at);
        if is(&self.status, COMPLETED) {
            self.sequence[at].term = true;
        }
    }

    pub(super) fn after_task_event(&mut self, id: &str, route: usize, at: usize) {
        self.after_task_event_simple(id, route, at);
    }

    pub(super) fn task_transition(
        &self,
        id: &str,
        route: usize,
        at: usize,
        event: &Event,
    ) -> Option<String> {
        let current = self.sequence[at].status.clone().unwrap_or_default();
        let status = event.status();
        match event {
            Event::Engine(name) => match (current.as_str(), name.as_str()) {
                ("", "continue" | "noop") => Some("succeeded".into()),
                ("", "fail") => Some("failed".into()),
                _ => None,
            },
            Event::Retry => {
                if is(&current, COMPLETED) {
                    Some("retrying".into())
                } else {
                    None
                }
            }
            Event::Action {
                item_id: Some(item),
                ..
            } => {
                if !is(&status, COMPLETED) {
                    return if is(
                        &current,
                        &[
                            "",
                            "requested",
                            "scheduled",
                            "delayed",
                            "running",
                            "retrying",
                        ],
                    ) {
                        Some(if status == "running" {
                            "running".into()
                        } else {
                            status
                        })
                    } else {
                        None
                    };
                }
                let others: Vec<String> = self
                    .staged_index(id, route)
                    .and_then(|i| self.staged[i].items.clone())
                    .map(|items| {
                        items
                            .into_iter()
                            .enumerate()
                            .filter(|(i, _)| i != item)
                            .map(|(_, s)| s)
                            .collect()
                    })
                    .unwrap_or_default();
                let active = others.iter().any(|s| is(s, ACTIVE));
                let canceled = others.iter().any(|s| s == "canceled");
                let failed = others.iter().any(|s| is(s, ABENDED));
                let incomplete = others.iter().any(|s| !is(s, COMPLETED));
                let status = match status.as_str() {
                    "timeout" | "abandoned" => "failed".to_string(),
                    other => other.to_string(),
                };
                match status.as_str() {
                    "succeeded" => Some(if active {
                        "running".into()
                    } else if canceled {
                        "canceled".into()
                    } else if failed {
                        "failed".into()
                    } else if incomplete {
                        "running".into()
                    } else {
                        "succeeded".into()
                    }),
                    "failed" => {
                        if active {
                            None
                        } else if canceled {
                            Some("canceled".into())
                        } else {
                            Some("failed".into())
                        }
                    }
                    "canceled" => Some(if active {
                        "canceling".into()
                    } else {
                        "canceled".into()
                    }),
                    _ => None,
                }
            }
            Event::Action { .. } => {
                let status = match status.as_str() {
                    "timeout" | "abandoned" => "failed".to_string(),
                    other => other.to_string(),
                };
                if is(&current, COMPLETED) {
                    return None;
                }
                Some(status)
            }
        }
    }

    pub(super) fn evaluate_retry(
        &mut self,
        at: usize,
        ctx: &Map<String, Value>,
    ) -> Result<bool, ExprError> {
        let Some((count, _, when, tally)) = self.sequence[at].retry.clone() else {
            return Ok(false);
        };
        if tally >= count {
            return Ok(false);
        }
        let status = self.sequence[at].status.clone().unwrap_or_default();
        match when {
            None => Ok(is(&status, ABENDED)),
            Some(when) => Ok(truthy(&expr::evaluate(
                &Value::String(when),
                ctx,
                &self.functions,
            )?)),
        }
    }

    pub(super) fn transitions(
        &mut self,
        id: &str,
        route: usize,
        at: usize,
        ctx: Map<String, Value>,
    ) {
        let edges: Vec<Edge> = self.graph.next(id).into_iter().cloned().collect();
        if edges.is_empty() {
            self.sequence[at].term = true;
        }
        let mut engine_queue = Vec::new();
        let mut staged_next = Vec::new();
        let mut has_manual_fail = false;
        let spec = self.spec.task(id).cloned();
        for edge in edges {
            let transition_id = edge.id();
            let held = match &edge.when {
                None => Ok(true),
                Some(when) => expr::evaluate(&Value::String(when.clone()), &ctx, &self.functions)
                    .map(|v| truthy(&v)),
            };
            let held = match held {
                Ok(held) => held,
                Err(e) => {
                    self.log_error(&e, Some(id), Some(route), Some(&transition_id));
                    self.fail_workflow();
                    continue;
                }
            };
            self.sequence[at]
                .next
                .insert(transition_id.clone(), json!(held));
            if !held {
                continue;
            }
            // finalize_context: publish.
            let mut rolling = ctx.clone();
            let mut new_ctx = Map::new();
            let mut errors = Vec::new();
            if let Some(transition) = spec.as_ref().and_then(|s| s.next.get(edge.reference)) {
                if transition.targets.contains(&edge.to) {
                    for (name, value) in &transition.publish {
                        match expr::evaluate(value, &rolling, &self.functions) {
                            Ok(value) => {
                                rolling.insert(name.clone(), value.clone());
                                new_ctx.insert(name.clone(), value);
                            }
                            Err(e) => errors.push(e),
                        }
                    }
                }
            }
            if !errors.is_empty() {
                for e in errors {
                    self.log_error(&e, Some(id), Some(route), Some(&transition_id));
                }
                self.fail_workflow();
                continue;
            }
            let mut out_idxs = self.sequence[at].ctxs_in.clone();
            if !new_ctx.is_empty() {
                self.contexts.push(new_ctx);
                out_idxs.push(self.contexts.len() - 1);
            }
            let next_route = self.evaluate_route(&edge, route);
            let backref = edge.backref();
            let next_at = match self.staged_index(&edge.to, next_route) {
                Some(i) => {
                    let extra: Vec<usize> = out_idxs.iter().copied().filter(|&c| c != 0).collect();
                    let staged = &mut self.staged[i];
                    staged.ctxs_in.extend(extra);
                    staged.prev.insert(backref, json!(at));
                    staged.items = None;
                    staged.completed = false;
                    i
                }
                None => {
                    let mut prev = Map::new();
                    prev.insert(backref, json!(at));
                    self.staged.push(Staged {
                        id: edge.to.clone(),
                        route: next_route,
                        ctxs_in: out_idxs,
                        prev,
                        ready: false,
                        retry: None,
                        items: None,
                        completed: false,
                        run_on_fail: false,
                    });
                    self.staged.len() - 1
                }
            };
            let ready = self.inbound_status(&edge.to, route) == "satisfied";
            self.staged[next_at].ready = ready;
            if RESERVED_TASK_NAMES.contains(&edge.to.as_str()) {
                engine_queue.push((edge.to.clone(), next_route));
                has_manual_fail |= edge.to == "fail";
            } else if ready {
                staged_next.push((edge.to.clone(), next_route));
            }
        }
        if has_manual_fail {
            for (task, route) in staged_next {
                if let Some(i) = self.staged_index(&task, route) {
                    self.staged[i].run_on_fail = true;
                }
            }
        }
        self.workflow_task_event(id, route, at);
        for (task, route) in engine_queue {
            self.update_task_state(&task, route, Event::Engine(task.clone()));
        }
    }

    pub(super) fn evaluate_route(&mut self, edge: &Edge, prev_route: usize) -> usize {
        if !self.spec.is_split_task(&edge.to) || self.spec.in_cycle(&edge.to) {
            return prev_route;
        }
        let old = self.routes[prev_route].clone();
        let mut new = old.clone();
        let id = edge.backref();
        if !old.contains(&id) {
            new.push(id);
        }
        if new == old {
            return prev_route;
        }
        self.routes.push(new);
        self.routes.len() - 1
    }

    /// `WorkflowStateMachine.process_task_event` for the task entry `at`.
    pub(super) fn workflow_task_event(&mut self, id: &str, route: usize, at: usize) {
        let status = self.sequence[at].status.clone().unwrap_or_default();
        let remediated = is(&status, ABENDED)
            && (self.has_next(id, route, true) || self.has_next(id, route, false));
        let active = self.has_active_tasks();
        let current = self.status.clone();
        let kind = if remediated {
            "succeeded"
        } else {
            status.as_str()
        };
        // A resumed workflow (`request_rerun`) runs again with its first task event.
        let base = if current == "resuming" {
            "running"
        } else {
            current.as_str()
        };
        let new = match (base, kind) {
            ("running", "succeeded") => {
                let incomplete = !self.ready_staged().is_empty() || self.has_next(id, route, true);
                let canceled = self.tasks.values().any(|&i| {
                    matches!(
                        self.sequence[i].status.as_deref(),
                        Some("canceling" | "canceled")
                    )
                });
                if canceled {
                    if active {
                        "canceling"
                    } else {
                        "canceled"
                    }
                } else if active || incomplete {
                    "running"
                } else {
                    "succeeded"
                }
            }
            ("running", "failed" | "timeout" | "abandoned") => "failed",
            ("running", "canceling") => "canceling",
            ("running", "canceled") => {
                if active {
                    "canceling"
                } else {
                    "canceled"
                }
            }
            ("canceling", "succeeded" | "failed" | "timeout" | "abandoned" | "canceled") => {
                if active {
                    "canceling"
                } else {
                    "canceled"
                }
            }
            _ => base,
        }
        .to_string();
        self.status = new;
        // A workflow already completed takes no event (`machines.py` returns before its
        // unreachable-join check).
        if !is(&current, COMPLETED) && is(&self.status, COMPLETED) {
            let unreachable: Vec<(String, usize)> = self
                .staged
                .iter()
                .filter(|s| self.spec.is_join_task(&s.id) && !s.ready)
                .map(|s| (s.id.clone(), s.route))
                .collect();
            for (task, route) in unreachable {
                if self.inbound_status(&task, route) == "not_satisfied" {
                    self.status = "failed".into();
                    self.log(error_entry(
                        format!("UnreachableJoinError: The join task|route \"{task}|{route}\" is partially satisfied but unreachable."),
                        Some(&task),
                        Some(route),
                    ));
                }
            }
        }
    }
}
