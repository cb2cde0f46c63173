//! orquesta's own expression functions (`orquesta/expressions/functions/workflow.py`).

use super::*;

/// orquesta's own functions: `succeeded`, `failed`, `completed`, `result`, `item`,
/// `task_status` (over `__current_task`, `__current_item`, `__task_status`).
pub(super) fn register_functions(functions: &mut Functions) {
    fn current(call: &yaql::Call<'_>) -> Result<Value, yaql::Error> {
        match call.context.get("__current_task") {
            Some(task) if !task.is_null() => Ok(task.clone()),
            _ => Err(yaql::Error::new(
                "ExpressionEvaluationException",
                "The current task is not set in the context.".into(),
            )),
        }
    }
    fn status_of(call: &yaql::Call<'_>, task: &str, route: &Value) -> Value {
        let key = format!("{task}__r{route}");
        call.context
            .get("__task_status")
            .and_then(|m| m.get(&key))
            .cloned()
            .filter(|v| !v.is_null())
            .unwrap_or(json!("null"))
    }
    fn status(call: &yaql::Call<'_>) -> Result<Value, yaql::Error> {
        let task = current(call)?;
        Ok(status_of(
            call,
            task["id"].as_str().unwrap_or_default(),
            &task["route"],
        ))
    }
    functions.register("succeeded", |call| Ok(json!(status(call)? == "succeeded")));
    functions.register("failed", |call| Ok(json!(status(call)? == "failed")));
    functions.register("completed", |call| {
        let status = status(call)?;
        Ok(json!(COMPLETED.iter().any(|s| status == *s)))
    });
    functions.register("result", |call| {
        Ok(current(call)?.get("result").cloned().unwrap_or(Value::Null))
    });
    functions.register("task_status", |call| {
        let name = call.args.first().map(yaql::py_str).unwrap_or_default();
        let route = match call.args.get(1) {
            Some(route) => route.clone(),
            None => current(call)
                .map(|t| t["route"].clone())
                .unwrap_or(json!(0)),
        };
        Ok(status_of(call, &name, &route))
    });
    functions.register("item", |call| {
        let item = call.context.get("__current_item").cloned().ok_or_else(|| {
            yaql::Error::new(
                "ExpressionEvaluationException",
                "The current item is not set in the context.".into(),
            )
        })?;
        match call.args.first() {
            None | Some(Value::Null) => Ok(item),
            Some(key) => {
                let key = yaql::py_str(key);
                item.get(&key).cloned().ok_or_else(|| {
                    yaql::Error::new(
                        "ExpressionEvaluationException",
                        format!("Item does not have key \"{key}\"."),
                    )
                })
            }
        }
    });
}
