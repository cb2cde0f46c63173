//! Tests of evaluation, each function and the `<% %>` text rules; the values expected are
//! yaql 3.2.0's through orquesta (probed; `tests/it/yaql_differential.rs` compares many
//! more).

use serde_json::{json, Map, Value};

use super::*;

fn context() -> Map<String, Value> {
    let Value::Object(map) = json!({
        "a": [1, 2],
        "m": {"b": 1, "c": {"d": "e"}},
        "l": [{"n": 1}, {"n": 2}],
        "s": "Hello",
        "__x": 1,
    }) else {
        unreachable!()
    };
    map
}

fn eval_with(text: &str, functions: &Functions) -> Result<Value, Error> {
    Evaluator::new(&context(), functions).evaluate(&parse(text)?)
}

fn eval(text: &str) -> Result<Value, Error> {
    eval_with(text, &Functions::new())
}

fn ok(text: &str) -> Value {
    eval(text).unwrap_or_else(|err| panic!("{text}: {err}"))
}

fn err(text: &str) -> Error {
    eval(text).expect_err(text)
}

#[track_caller]
fn cases(table: &[(&str, Value)]) {
    for (text, expected) in table {
        assert_eq!(&ok(text), expected, "{text}");
    }
}

#[test]
fn operators() {
    cases(&[
        ("1 + 2", json!(3)),
        ("7/2", json!(3)),
        ("-7/2", json!(-4)),
        ("7 / 2.0", json!(3.5)),
        ("7 mod -3", json!(-2)),
        ("2 * 'ab'", json!("abab")),
        ("[1] * 2", json!([1, 1])),
        ("'ab' * true", json!("ab")),
        ("false * [1]", json!([])),
        ("'a' + 'b'", json!("ab")),
        ("[1] + [2]", json!([1, 2])),
        ("{a=>1} + {a=>2, b=>3}", json!({"a": 2, "b": 3})),
        ("1 = 1.0", json!(true)),
        ("true = 1", json!(true)),
        ("'1' = 1", json!(false)),
        ("null = null", json!(true)),
        ("[1, 2] != [1, 2]", json!(false)),
        ("null < 1", json!(true)),
        ("1 > null", json!(true)),
        ("'a' < null", json!(false)),
        ("null <= null", json!(true)),
        ("'a' < 'b'", json!(true)),
        ("'a' in 'abc'", json!(true)),
        ("1 in [1.0]", json!(true)),
        ("0 or x", json!("x")),
        ("'a' and 'b'", json!("b")),
        ("not 0", json!(true)),
        ("not a in [a]", json!(false)),
        ("-(1.5)", json!(-1.5)),
        ("+1", json!(1)),
        ("0.1 + 0.2", json!(0.30000000000000004)),
        ("'abc' =~ 'b.'", json!(true)),
        ("'abc' !~ '^b'", json!(true)),
    ]);
    for text in [
        "1 + null",
        "'a' + 1",
        "true + 1",
        "1 < 'a'",
        "[1] < [2]",
        "true < false",
        "a in {a => 1}",
        "1 in 'abc'",
        "-'a'",
        "-true",
    ] {
        assert_eq!(err(text).kind, "NoMatchingFunctionException", "{text}");
    }
    assert_eq!(
        err("1 + null").message,
        "No function \"#operator_+\" matches supplied arguments"
    );
    assert_eq!(err("1/0").kind, "ZeroDivisionError");
    assert_eq!(err("1.0/0").message, "float division by zero");
    assert_eq!(err("5 mod 0").message, "integer modulo by zero");
    assert_eq!(err("9223372036854775807 + 1").kind, "OverflowError");
}

#[test]
fn and_or_do_not_evaluate_what_they_skip() {
    assert_eq!(ok("false and foo()"), json!(false));
    assert_eq!(ok("1 or foo()"), json!(1));
}

#[test]
fn literals_context_attributes_and_indexes() {
    cases(&[
        ("foo", json!("foo")),
        ("True", json!("True")),
        ("$", json!(null)),
        ("$foo", json!(null)),
        ("010", json!(10)),
        ("2.50", json!(2.5)),
        ("`a\\nb`", json!("a\\nb")),
        ("ctx(a)", json!([1, 2])),
        ("ctx('a')", json!([1, 2])),
        ("ctx().m.c.d", json!("e")),
        ("ctx().l.n", json!([1, 2])),
        ("ctx(m)['b']", json!(1)),
        ("ctx(a)[-1]", json!(2)),
        ("[{a=>1},{a=>2}].a", json!([1, 2])),
        ("{a => 1, b => [1, 2]}", json!({"a": 1, "b": [1, 2]})),
        ("{1 => 2}", json!({"1": 2})),
        ("[]", json!([])),
        ("null?.a", json!(null)),
        ("null?.len()", json!(null)),
    ]);
    let all = ok("ctx()");
    assert_eq!(all.as_object().unwrap().len(), 4, "__x is hidden: {all}");
    assert_eq!(err("ctx(zz)").message, "The variable \"zz\" is undefined.");
    assert_eq!(err("ctx(__x)").kind, "YaqlLexicalException");
    assert_eq!(
        err("ctx('__x')").message,
        "The variable \"__x\" is for internal use and inaccessible."
    );
    assert_eq!(err("ctx().zz"), Error::key("zz"));
    assert_eq!(err("ctx().m.zz"), Error::key("zz"));
    assert_eq!(err("{a=>1}[b]"), Error::key("b"));
    assert_eq!(err("$.x").message, "Unknown function \"#property#x\"");
    assert_eq!(err("[1, 2].a").message, "Unknown function \"#property#a\"");
    assert_eq!(err("[{a=>1}, 3].a").kind, "NoFunctionRegisteredException");
    assert_eq!(err("[1, 2][5]").message, "tuple index out of range");
    assert_eq!(err("'abc'[0]").kind, "NoMatchingFunctionException");
    assert_eq!(err("[1]['a']").kind, "NoMatchingFunctionException");
}

#[test]
fn functions() {
    cases(&[
        ("len('héllo')", json!(5)),
        ("len([1])", json!(1)),
        ("len({})", json!(0)),
        ("str(1.0)", json!("1.0")),
        ("str(true)", json!("true")),
        ("str(null)", json!("null")),
        ("str({a=>1})", json!("{'a': 1}")),
        ("str([1, 'a'])", json!("[1, 'a']")),
        ("int(' 42 ')", json!(42)),
        ("int('1_0')", json!(10)),
        ("int(null)", json!(0)),
        ("int(-2.7)", json!(-2)),
        ("int(true)", json!(1)),
        ("float(1)", json!(1.0)),
        ("float('1.5')", json!(1.5)),
        ("float(null)", json!(0.0)),
        ("bool(0)", json!(false)),
        ("bool([0])", json!(true)),
        ("list()", json!([])),
        ("list(1, a)", json!([1, "a"])),
        ("list([1])", json!([[1]])),
        ("dict()", json!({})),
        ("dict(a => 1, b => 2)", json!({"a": 1, "b": 2})),
        ("dict([[a, 1], [b, 2]])", json!({"a": 1, "b": 2})),
        ("range(3)", json!([0, 1, 2])),
        ("range(1, 4)", json!([1, 2, 3])),
        ("range(5, 2)", json!([])),
        ("range(false, 2)", json!([0, 1])),
        ("abs(-2)", json!(2)),
        ("abs(-1.5)", json!(1.5)),
        ("max(1, 2)", json!(2)),
        ("min(3, 1.5)", json!(1.5)),
        ("zip([1, 2], [3])", json!([[1, 3], [2, null]])),
        ("zip([1], [2, 3], pad => 0)", json!([[1, 2], [0, 3]])),
        ("zip([1, 2])", json!([1, 2])),
        ("zip('ab', {k => 1})", json!([["a", "k"], ["b", null]])),
        ("zip(null, [1])", json!([[null, 1]])),
        ("json('{\"a\": [1]}')", json!({"a": [1]})),
    ]);
    assert_eq!(
        err("len(null)").message,
        "No function \"len\" matches supplied arguments"
    );
    assert_eq!(err("len()").kind, "NoMatchingFunctionException");
    assert_eq!(
        err("int('4.2')").message,
        "invalid literal for int() with base 10: '4.2'"
    );
    assert_eq!(err("float('x')").kind, "ValueError");
    assert_eq!(err("max([1, 2])").kind, "NoMatchingFunctionException");
    assert_eq!(err("json(1)").message, "Given object is not typeof string.");
    assert_eq!(err("foo(1)").message, "Unknown function \"foo\"");
    assert_eq!(err("toUpper('a')").kind, "NoFunctionRegisteredException");
    let random = ok("random()").as_f64().unwrap();
    assert!((0.0..1.0).contains(&random));
    let die = ok("random(1, 6)").as_i64().unwrap();
    assert!((1..=6).contains(&die));
}

#[test]
fn methods() {
    cases(&[
        ("[1, 2].len()", json!(2)),
        ("'ab'.len()", json!(2)),
        ("{a=>1}.len()", json!(1)),
        ("[1, 3].max()", json!(3)),
        ("[3, 1].min()", json!(1)),
        ("{a=>1}.get(a)", json!(1)),
        ("{a=>1}.get(b)", json!(null)),
        ("{a=>1}.get(b, 3)", json!(3)),
        ("{a=>1, b=>2}.keys()", json!(["a", "b"])),
        ("{a=>1, b=>2}.values()", json!([1, 2])),
        ("{a=>1}.containsKey(a)", json!(true)),
        ("{a=>1}.containsKey(b)", json!(false)),
        ("[1].contains(true)", json!(true)),
        ("[1, 2].select($ * 2)", json!([2, 4])),
        ("[1, 2].where($ > 1)", json!([2])),
        ("ctx(l).select($.n)", json!([1, 2])),
        ("[1, 2, 3].where($ mod 2 = 1).len()", json!(2)),
        ("[1, 2, 1.0, true].distinct()", json!([1, 2])),
        (
            "[1, [2, [3, [4]]], {a=>[5]}].flatten()",
            json!([1, 2, 3, 4, {"a": [5]}]),
        ),
        ("[3, 1].first()", json!(3)),
        ("[].first(5)", json!(5)),
        ("[1, 2].last()", json!(2)),
        ("[1, 2].last(9)", json!(2)),
        ("[1, 'a', null, true].join('-')", json!("1-a-null-true")),
        ("'-'.join([1, 'a', null])", json!("1-a-null")),
        ("'a,b,,c'.split(',')", json!(["a", "b", "", "c"])),
        ("' a  b '.split()", json!(["a", "b"])),
        ("' a '.split(null)", json!(["a"])),
        ("' a '.trim()", json!("a")),
        ("'AbC'.toUpper()", json!("ABC")),
        ("'AbC'.toLower()", json!("abc")),
        ("[1.5, 2].sum()", json!(3.5)),
        ("[a, b].sum()", json!("ab")),
        ("[1, 2].count()", json!(2)),
    ]);
    assert_eq!(err("[].first()").kind, "StopIteration");
    assert_eq!(err("[].sum()").kind, "TypeError");
    assert_eq!(err("[].max()").kind, "ValueError");
    assert_eq!(err("[1].toUpper()").kind, "NoMatchingMethodException");
    assert_eq!(err("[1, 2].get(0)").kind, "NoMatchingMethodException");
    assert_eq!(err("{a=>1}.contains(a)").kind, "NoMatchingMethodException");
    assert_eq!(err("'ab'.count()").kind, "NoMatchingMethodException");
    assert_eq!(err("['a'].join(1)").kind, "NoMatchingMethodException");
    assert_eq!(err("'x'.split('')").message, "empty separator");
    assert_eq!(
        err("'a'.foo()").message,
        "Unknown method \"foo\" for receiver a"
    );
    assert_eq!(
        err("[1, 2].len").message,
        "Unknown function \"#property#len\""
    );
}

/// The extension point: a function the caller adds, which sees the arguments and the
/// context, and shadows nothing it does not name.
#[test]
fn caller_functions() {
    let mut functions = Functions::new();
    functions.register("succeeded", |call| {
        Ok(json!(
            call.context["s"] == json!("Hello") && call.args.is_empty()
        ))
    });
    functions.register("st2kv", |call| {
        let decrypt = call
            .named
            .iter()
            .find(|(name, _)| name == "decrypt")
            .map(|(_, value)| value.clone());
        Ok(json!({"key": call.args[0], "decrypt": decrypt}))
    });
    functions.register("failing", |_| Err(Error::new("Exception", "boom".into())));
    assert_eq!(
        eval_with("succeeded() and 1", &functions).unwrap(),
        json!(1)
    );
    assert_eq!(
        eval_with("st2kv(system.k, decrypt => true)", &functions).unwrap_err(),
        Error::new(
            "NoFunctionRegisteredException",
            "Unknown function \"#property#k\"".into()
        )
    );
    assert_eq!(
        eval_with("st2kv('system.k', decrypt => true)", &functions).unwrap(),
        json!({"key": "system.k", "decrypt": true})
    );
    assert_eq!(
        eval_with("failing()", &functions).unwrap_err().to_string(),
        "Exception: boom"
    );
    assert_eq!(err("succeeded()").message, "Unknown function \"succeeded\"");

    let expr = parse("succeeded() and foo(ctx(x).bar(), len(y)) and [1].baz()").unwrap();
    assert_eq!(
        unknown_functions(&expr, &functions),
        vec!["foo".to_string(), ".bar".into(), ".baz".into()]
    );
    assert!(unknown_functions(&expr, &Functions::new()).contains(&"succeeded".into()));
}

#[test]
fn text_with_expressions() {
    let context = context();
    let functions = Functions::new();
    let render = |text: &str| evaluate_text(text, &context, &functions);
    assert_eq!(render("<% ctx(a) %>").unwrap(), json!([1, 2]));
    assert_eq!(render("<%ctx(a)%>").unwrap(), json!([1, 2]));
    assert_eq!(render(" <% ctx(a) %>").unwrap(), json!(" [1, 2]"));
    assert_eq!(
        render("x <% ctx(a) %> y <% true %> <% null %> <% 1.0 %> <% ctx(m) %>").unwrap(),
        json!("x [1, 2] y True None 1.0 {'b': 1, 'c': {'d': 'e'}}")
    );
    assert_eq!(render("no expressions").unwrap(), json!("no expressions"));
    // Not across a line break.
    assert_eq!(render("<% 1 +\n 2 %>").unwrap(), json!("<% 1 +\n 2 %>"));
    // A string result is data, not evaluated again ([fix]).
    assert_eq!(
        render("<% '<' + '% 1 %' + '>' %>").unwrap(),
        json!("<% 1 %>")
    );
    assert_eq!(
        render("a <% ctx().zz %>").unwrap_err().to_string(),
        "Unable to resolve key 'zz' in expression '<% ctx().zz %>' from context."
    );
    assert_eq!(
        render("<% foo() %>").unwrap_err().to_string(),
        "Unable to evaluate expression '<% foo() %>'. NoFunctionRegisteredException: \
         Unknown function \"foo\""
    );
    assert_eq!(find_expressions("<% a %> and <%b%>%>"), vec![0..7, 12..17]);
}
