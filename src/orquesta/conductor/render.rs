//! Rendering a staged task into the action executions it asks for
//! (`WorkflowConductor.get_next_tasks` / `get_task`): its `delay`, `with` items and
//! concurrency, `action` and `input` evaluated in the task's context, and the task state
//! entry it gets in the sequence.

use super::*;
use crate::orquesta::model::{TaskSpec, WithItems};

/// A task's action and input as written, the inline `action: ref k=v` form split.
fn action_and_input(spec: &TaskSpec) -> (Option<Value>, Value) {
    match spec.action.as_deref().and_then(inline::split_action) {
        Some((action, pairs)) => (
            Some(Value::String(action)),
            Value::Object(pairs.into_iter().collect()),
        ),
        None => (
            spec.action.clone().map(Value::String),
            spec.input.clone().unwrap_or_else(|| json!({})),
        ),
    }
}

/// The context of one item: `item()` gives it, named by `with`'s names when it has any.
fn item_context(with: &WithItems, item: &Value, ctx: &Map<String, Value>) -> Map<String, Value> {
    let item = match (&with.names[..], item) {
        ([], item) => item.clone(),
        (names, Value::Array(values)) => {
            Value::Object(names.iter().cloned().zip(values.iter().cloned()).collect())
        }
        ([name], item) => json!({ name.clone(): item }),
        (_, item) => item.clone(),
    };
    let mut item_ctx = ctx.clone();
    item_ctx.insert("__current_item".into(), item);
    item_ctx
}

impl Conductor<'_> {
    pub(super) fn render_task(&mut self, staged_at: usize) -> Result<Option<NextTask>, String> {
        let staged = self.staged[staged_at].clone();
        let spec = self
            .spec
            .task(&staged.id)
            .ok_or_else(|| format!("InvalidTask: {}", staged.id))?;
        let ctx = self.with_current(
            self.context_of(&staged.ctxs_in),
            &staged.id,
            staged.route,
            None,
        );
        let (action, input) = action_and_input(spec);
        let delay = self.render_delay(spec, &ctx)?;
        // A retry waits its own delay instead of the task's.
        let delay = match &staged.retry {
            Some(retry) => Some(retry.1.unwrap_or(0)),
            None => delay,
        };
        let Some(with) = &spec.with else {
            let action = self.render_action(&action, &input, &ctx, None)?;
            return Ok(Some(NextTask {
                id: staged.id,
                route: staged.route,
                actions: vec![action],
                delay,
                items_count: None,
                concurrency: None,
            }));
        };
        let (items, concurrency) = self.render_items(with, &ctx)?;
        let count = items.len();
        let (first, chosen) = self.items_to_start(staged_at, count, concurrency);
        let render_item = |i: usize| {
            let item_ctx = item_context(with, &items[i], &ctx);
            self.render_action(&action, &input, &item_ctx, Some(i))
        };
        // Every item is rendered the first time (a rendering error in any fails the task
        // then, as upstream renders them all); later waves render the items they start.
        if first {
            for i in 0..count {
                render_item(i)?;
            }
        }
        let actions: Vec<ActionSpec> = chosen
            .into_iter()
            .map(render_item)
            .collect::<Result<_, _>>()?;
        if actions.is_empty() && count != 0 {
            return Ok(None);
        }
        Ok(Some(NextTask {
            id: staged.id,
            route: staged.route,
            actions,
            delay,
            items_count: Some(count),
            concurrency: concurrency.map(|c| c.max(1)),
        }))
    }

    /// The action ref and input of one action execution, evaluated over `ctx`.
    fn render_action(
        &self,
        action: &Option<Value>,
        input: &Value,
        ctx: &Map<String, Value>,
        item_id: Option<usize>,
    ) -> Result<ActionSpec, String> {
        let action = match action {
            Some(a) => match expr::evaluate(a, ctx, &self.functions).map_err(|e| e.to_string())? {
                Value::Null => None,
                Value::String(s) => Some(s),
                other => Some(yaql::py_str(&other)),
            },
            None => None,
        };
        let input = match expr::evaluate(input, ctx, &self.functions).map_err(|e| e.to_string())? {
            Value::Object(map) => map,
            Value::Null => Map::new(),
            other => {
                return Err(format!(
                    "TypeError: The input of task is not a map: {}",
                    yaql::py_str(&other)
                ))
            }
        };
        Ok(ActionSpec {
            action,
            input,
            item_id,
        })
    }

    /// The task's `delay`, evaluated: whole seconds.
    fn render_delay(
        &self,
        spec: &TaskSpec,
        ctx: &Map<String, Value>,
    ) -> Result<Option<i64>, String> {
        let Some(value) = &spec.delay else {
            return Ok(None);
        };
        match expr::evaluate(value, ctx, &self.functions) {
            Ok(Value::Number(n)) if n.is_i64() => Ok(n.as_i64()),
            Ok(_) => Err("TypeError: The value of task delay is not type of integer.".into()),
            Err(e) => Err(e.to_string()),
        }
    }

    /// A with-items task's items and concurrency, evaluated.
    fn render_items(
        &self,
        with: &WithItems,
        ctx: &Map<String, Value>,
    ) -> Result<(Vec<Value>, Option<i64>), String> {
        let items = match expr::evaluate(&Value::String(with.items.clone()), ctx, &self.functions) {
            Ok(Value::Array(items)) => items,
            Ok(_) => {
                return Err(format!(
                    "TypeError: The value of \"{}\" is not type of list.",
                    with.items
                ))
            }
            Err(e) => return Err(e.to_string()),
        };
        let concurrency = match &with.concurrency {
            None => None,
            Some(value) => match expr::evaluate(value, ctx, &self.functions) {
                Ok(Value::Number(n)) => n.as_i64(),
                Ok(Value::Null) => None,
                Ok(other) => {
                    return Err(format!(
                        "TypeError: The concurrency value is not an integer: {}",
                        yaql::py_str(&other)
                    ))
                }
                Err(e) => return Err(e.to_string()),
            },
        };
        Ok((items, concurrency))
    }

    /// Whether this is the task's first wave (its items' statuses are set up then), and
    /// which of its `count` items start now: those not started yet, as many as
    /// `concurrency` leaves room for beside the active ones.
    fn items_to_start(
        &mut self,
        staged_at: usize,
        count: usize,
        concurrency: Option<i64>,
    ) -> (bool, Vec<usize>) {
        let staged = &mut self.staged[staged_at];
        let first = staged.items.as_ref().is_none_or(|i| i.is_empty());
        if first {
            staged.items = Some(vec![String::new(); count]);
        }
        let statuses = staged.items.as_deref().unwrap_or_default();
        let notrun = (0..count).filter(|&i| statuses[i].is_empty());
        let chosen = match concurrency {
            Some(c) => {
                let active = statuses.iter().filter(|s| is(s, ACTIVE)).count() as i64;
                let available = (c.max(1) - active).max(0) as usize;
                notrun.take(available).collect()
            }
            None => notrun.collect(),
        };
        (first, chosen)
    }

    pub(super) fn add_task_state(
        &mut self,
        id: &str,
        route: usize,
        ctxs_in: Vec<usize>,
        prev: Map<String, Value>,
    ) -> Result<usize, String> {
        let mut entry = TaskState {
            id: id.to_string(),
            route,
            status: None,
            ctxs_in: if ctxs_in.is_empty() { vec![0] } else { ctxs_in },
            prev,
            next: Map::new(),
            term: false,
            retry: None,
        };
        if let Some(retry) = self.graph.retry.get(id).cloned() {
            let ctx = self.context_of(&entry.ctxs_in);
            let int = |value: &Value, what: &str| -> Result<i64, String> {
                match expr::evaluate(value, &ctx, &self.functions) {
                    Ok(Value::Number(n)) if n.is_i64() => Ok(n.as_i64().unwrap()),
                    _ => Err(format!(
                        "ValueError: The retry {what} for task \"{id}\" is not an integer."
                    )),
                }
            };
            let count = int(&retry.count, "count")?;
            let delay = retry.delay.as_ref().map(|d| int(d, "delay")).transpose()?;
            entry.retry = Some((count, delay, retry.when.clone(), 0));
        }
        self.sequence.push(entry);
        let at = self.sequence.len() - 1;
        self.tasks.insert((id.to_string(), route), at);
        Ok(at)
    }
}
