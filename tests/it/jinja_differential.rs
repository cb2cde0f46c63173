//! Differential tests of orquesta's Jinja (`st2_rs::orquesta::expr`, `{{ }}` and `{% %}` in
//! workflow values) against `JinjaEvaluator.evaluate` of orquesta as StackStorm 3.9.0 pins it
//! (`../shared/oracles/orquesta-5ba1467.tar.gz`): both sides get the same text and context;
//! `tests/differential/jinja_eval.py` answers for orquesta, with `task` and `st2kv` registered
//! as yaql_eval.py registers them.
//!
//! - `handwritten_jinja_matches_orquesta`: the shapes the evaluator treats apart: one
//!   expression (a native value), several or with text around (a string), a string result
//!   that holds Jinja itself (evaluated again), `{% %}` blocks (the whole text rendered, then
//!   evaluated again), `{% raw %}` blocks (set aside, then rendered), unresolved variables,
//!   and the engine's functions.
//! - `exchange_jinja_matches_orquesta`: every string with Jinja in the Exchange's orquesta
//!   workflows, under the three contexts of `yaql_differential::contexts_for`.
//!
//! Outcomes agree when the values are equal, or when both fail (the messages may differ:
//! Jinja2's and minijinja's own wording of the same error). Not comparable, and counted
//! apart: texts that call StackStorm's own filters (`to_json_string`, `regex_replace`, ...),
//! which the oracle, orquesta alone, does not have.

use serde_json::{json, Map, Value};
use st2_rs::orquesta::expr;

use crate::common::*;
use crate::yaql_differential::{contexts_for, engine_functions, probe};

/// Ours, in the probe's shape: `{"value": ...}` or `{"error": "..."}`.
fn ours(case: &Value, functions: &st2_rs::yaql::Functions) -> Value {
    let text = Value::String(case["text"].as_str().unwrap().to_string());
    let context = case["data"].as_object().cloned().unwrap_or_default();
    match expr::evaluate(&text, &context, functions) {
        Ok(value) => json!({ "value": value }),
        Err(err) => json!({ "error": err.to_string() }),
    }
}

#[derive(Default)]
struct Tally {
    compared: usize,
    equal_values: usize,
    both_errors: usize,
    stackstorm_filters: usize,
    differ: Vec<String>,
}

impl Tally {
    fn compare(&mut self, case: &Value, theirs: &Value, ours: &Value) {
        self.compared += 1;
        if theirs.get("value").is_some() && theirs.get("value") == ours.get("value") {
            self.equal_values += 1;
            return;
        }
        if theirs.get("error").is_some() && ours.get("error").is_some() {
            self.both_errors += 1;
            return;
        }
        let error = theirs["error"].as_str().unwrap_or_default();
        if error.contains("No filter named") && ours.get("value").is_some() {
            self.stackstorm_filters += 1;
            return;
        }
        self.differ.push(format!(
            "{} over {}:\n  orquesta {theirs}\n  ours     {ours}",
            case["text"], case["data"]
        ));
    }

    fn report(&self, what: &str) {
        println!(
            "{what}: {} compared, {} equal values, {} failing on both sides, {} calling \
             StackStorm's filters (not in the oracle), {} different",
            self.compared,
            self.equal_values,
            self.both_errors,
            self.stackstorm_filters,
            self.differ.len()
        );
        for line in self.differ.iter().take(30) {
            println!("{line}");
        }
        assert!(
            self.differ.is_empty(),
            "{what}: {} cases differ",
            self.differ.len()
        );
    }
}

fn compare_all(what: &str, cases: &[Value]) -> Tally {
    let Some(python) = orquesta_oracle_python() else {
        return Tally::default();
    };
    let theirs = probe(&python, "jinja_eval.py", cases);
    let functions = engine_functions();
    let mut tally = Tally::default();
    for (case, theirs) in cases.iter().zip(&theirs) {
        tally.compare(case, theirs, &ours(case, &functions));
    }
    tally.report(what);
    tally
}

#[test]
fn handwritten_jinja_matches_orquesta() {
    let data = json!({
        "who": "world", "n": 3, "l": [1, 2, 3], "t": true, "e": "",
        "m": {"a": 1, "b": "{{ ctx().who }}"},
        "s": "{{ ctx().who }}", "deeper": "{{ ctx().s }}!",
        "block": "{% if ctx().t %}on{% endif %}",
        "__current_task": {"id": "t", "route": 0, "result": {"stdout": "out"}},
        "__current_item": {"name": "i1"},
        "__state": {"tasks": {"t__r0": 0}, "sequence": [{"status": "succeeded"}], "routes": [[]]},
        "__tasks": {"t": {"result": {"stdout": "out"}}},
        "__kv": {"k": "v"},
    });
    let texts = [
        "{{ ctx().who }}",
        "{{ ctx().l }}",
        "{{ ctx().m }}",
        "{{ ctx().n + 1 }}",
        "{{ ctx().n / 2 }}",
        "{{ None }}",
        "{{ true }}",
        "{{ 1.5 }}",
        "hi {{ ctx().who }}",
        "{{ ctx().who }} {{ ctx().n }}",
        "{{ ctx().who }}{{ ctx().who }}",
        "{{ ctx().l }} and {{ ctx().m }}",
        "{{ ctx().s }}",
        "x {{ ctx().s }}",
        "{{ ctx().deeper }}",
        "{{ ctx().block }}",
        "{{ '{{ ctx().who }}' }}",
        "{{ ctx().missing }}",
        "a {{ ctx().missing }} b {{ ctx().other }}",
        "{{ ctx('missing') }}",
        "{{ x }}",
        "{{ ctx().l[5] }}",
        "{{ 1 / 0 }}",
        "{{ 1 // 0 }}",
        "{{ 1 % 0 }}",
        "{{ 1.0 / 0 }}",
        "{{ zip([1, 2], [3]) }}",
        "{{ zip([1, 2], [3], pad=0) }}",
        "{{ zip([1, 2]) }}",
        "{{ zip(None) }}",
        "{{ json(ctx().m) }}",
        "{{ json(3) }}",
        "{{ json('nope') }}",
        "{{ ctx().who | upper }}",
        "{{ ctx().l | length }}",
        "{% if ctx().t %}yes{% endif %}",
        "{% if not ctx().t %}yes{% endif %}",
        "{% for i in ctx().l %}{{ i }},{% endfor %}",
        "{% if ctx().n > 2 %}{{ ctx().l }}{% endif %}",
        "{% if ctx().t %}\n{{ ctx().who }}\n{% endif %}",
        "{% if ctx().t %}{{ ctx().s }}{% endif %}",
        "{% if ctx().t %}{{ '{{ ctx().n }}' }}{% endif %}",
        "{% if ctx().t %}{{ '{{ nope }}' }}{% endif %}",
        "{% raw %}{{ not rendered }}{% endraw %}",
        "{% raw %}{{ ctx().who }}{% endraw %} and {{ ctx().who }}",
        "{% raw %}{% if x %}{% endraw %}",
        "a {% raw %}<% ctx().who %>{% endraw %}",
        "{% raw %}{{ a }}{% endraw %}{% raw %}{{ b }}{% endraw %}",
        "{% raw %}{{ a }}{% endraw %} {% raw %}{{ a }}{% endraw %}",
        "{%raw%}{{ a }}{%endraw%}",
        "{% raw %}{{ a }}{% endraw %} {% if ctx().t %}{{ ctx().n }}{% endif %}",
        "{% raw %}plain{% endraw %}",
        "{{ ctx().l }} {% raw %}{{ a }}{% endraw %}",
        "{{ json('{\"a\": 1}') }}",
        "{{ item() }}",
        "{{ item('name') }}",
        "{{ succeeded() }}",
        "{{ failed() }}",
        "{{ result() }}",
        "{{ task('t').result.stdout }}",
        "{{ st2kv('k') }}",
        "{{ ctx().e or 'empty' }}",
        "{{ ctx().who if ctx().t else 'no' }}",
        "{{ ctx().l + [4] }}",
    ];
    let cases: Vec<Value> = texts
        .iter()
        .map(|text| json!({"text": text, "data": data}))
        .collect();
    compare_all("handwritten Jinja", &cases);
}

/// Every string holding `{{` or `{%` in the Exchange's orquesta workflows, each once.
fn exchange_texts() -> Vec<String> {
    fn strings(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::String(s) if (s.contains("{{") || s.contains("{%")) && !out.contains(s) => {
                out.push(s.clone())
            }
            Value::Array(items) => items.iter().for_each(|item| strings(item, out)),
            Value::Object(map) => map.iter().for_each(|(key, item)| {
                strings(&Value::String(key.clone()), out);
                strings(item, out);
            }),
            _ => {}
        }
    }
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(shared_dir().join("exchange/packs"))
        .unwrap()
        .flat_map(|pack| {
            std::fs::read_dir(pack.unwrap().path().join("actions/workflows"))
                .into_iter()
                .flatten()
                .map(|entry| entry.unwrap().path())
        })
        .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let mut found = Vec::new();
    for file in files {
        let Ok(workflow) = st2_rs::yaml::from_path(&file) else {
            continue;
        };
        // Orquesta workflows only: action-chains render Jinja their own way.
        if workflow
            .get("version")
            .is_some_and(|v| *v == json!(1.0) || *v == json!("1.0"))
        {
            strings(&workflow, &mut found);
        }
    }
    found
}

#[test]
fn exchange_jinja_matches_orquesta() {
    let texts = exchange_texts();
    if skip_unless(
        !texts.is_empty(),
        "../shared/exchange/packs holds no orquesta workflow with Jinja",
    ) {
        return;
    }
    let cases: Vec<Value> = texts
        .iter()
        .flat_map(|text| {
            contexts_for(text).into_iter().map(move |mut data| {
                // Names read as `ctx('x')` with any spacing, which contexts_for's pattern
                // may miss in Jinja's spellings, are strings.
                let map: &mut Map<String, Value> = data.as_object_mut().unwrap();
                map.entry("st2")
                    .or_insert(json!({"action_execution_id": "x"}));
                json!({"text": text, "data": data})
            })
        })
        .collect();
    let tally = compare_all("Exchange Jinja", &cases);
    println!("{} distinct Exchange texts", texts.len());
    assert!(tally.compared == 0 || tally.equal_values > 0);
}
