//! The `version_*` filters (`st2common/expressions/functions/version.py`), with the
//! semantics of Python's `semver` 3.0 that StackStorm 3.9.0 pins: strict SemVer 2.0 parsing
//! (`"1.2" is not valid SemVer string`), precedence without build metadata, `match` with
//! `<`, `>`, `==`, `<=`, `>=`, `!=` or a bare version, bumps that drop pre-release and build.

use std::cmp::Ordering;

use minijinja::value::Value;
use minijinja::{Error, ErrorKind};
use semver::Version;

use super::pystr::py_str;

fn parse(value: &Value) -> Result<Version, Error> {
    super::defined(value)?;
    let text = py_str(value);
    Version::parse(&text).map_err(|_| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("{text} is not valid SemVer string"),
        )
    })
}

fn compare(value: &Value, other: &Value) -> Result<i64, Error> {
    let (left, right) = (parse(value)?, parse(other)?);
    Ok(match left.cmp_precedence(&right) {
        Ordering::Less => -1,
        Ordering::Equal => 0,
        Ordering::Greater => 1,
    })
}

/// `version_compare`: -1, 0 or 1.
pub fn version_compare(value: Value, pattern: Value) -> Result<i64, Error> {
    compare(&value, &pattern)
}

/// `version_more_than`.
pub fn version_more_than(value: Value, pattern: Value) -> Result<bool, Error> {
    Ok(compare(&value, &pattern)? == 1)
}

/// `version_less_than`.
pub fn version_less_than(value: Value, pattern: Value) -> Result<bool, Error> {
    Ok(compare(&value, &pattern)? == -1)
}

/// `version_equal`.
pub fn version_equal(value: Value, pattern: Value) -> Result<bool, Error> {
    Ok(compare(&value, &pattern)? == 0)
}

/// `version_match`: `semver.Version.match(">=1.0.0")`.
pub fn version_match(value: Value, pattern: String) -> Result<bool, Error> {
    let version = parse(&value)?;
    let two: String = pattern.chars().take(2).collect();
    let (operator, rest) = if matches!(two.as_str(), ">=" | "<=" | "==" | "!=") {
        (two.clone(), &pattern[2..])
    } else if pattern.starts_with(['>', '<']) {
        (pattern[..1].to_string(), &pattern[1..])
    } else if pattern.starts_with(|c: char| c.is_ascii_digit()) {
        ("==".to_string(), pattern.as_str())
    } else {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!(
                "match_expr parameter should be in format <op><ver>, where <op> is one of \
                 ['<', '>', '==', '<=', '>=', '!=']. You provided: {}",
                crate::schema::repr::py_str_repr(&pattern)
            ),
        ));
    };
    let other = parse(&Value::from(rest))?;
    let ordering = version.cmp_precedence(&other);
    Ok(match operator.as_str() {
        ">" => ordering == Ordering::Greater,
        "<" => ordering == Ordering::Less,
        "==" => ordering == Ordering::Equal,
        "!=" => ordering != Ordering::Equal,
        ">=" => ordering != Ordering::Less,
        _ => ordering != Ordering::Greater,
    })
}

/// `version_bump_major`: `1.2.3` -> `2.0.0`.
pub fn version_bump_major(value: Value) -> Result<String, Error> {
    let version = parse(&value)?;
    Ok(format!("{}.0.0", version.major + 1))
}

/// `version_bump_minor`: `1.2.3` -> `1.3.0`.
pub fn version_bump_minor(value: Value) -> Result<String, Error> {
    let version = parse(&value)?;
    Ok(format!("{}.{}.0", version.major, version.minor + 1))
}

/// `version_bump_patch`: `1.2.3` -> `1.2.4`.
pub fn version_bump_patch(value: Value) -> Result<String, Error> {
    let version = parse(&value)?;
    Ok(format!(
        "{}.{}.{}",
        version.major,
        version.minor,
        version.patch + 1
    ))
}

/// `version_strip_patch`: `1.2.3` -> `1.2`.
pub fn version_strip_patch(value: Value) -> Result<String, Error> {
    let version = parse(&value)?;
    Ok(format!("{}.{}", version.major, version.minor))
}

#[cfg(test)]
mod tests {
    use super::super::tests::render;
    use serde_json::json;

    fn check(template: &str, version: &str, expected: &str) {
        assert_eq!(
            render(template, json!({ "version": version })).unwrap(),
            expected,
            "{template} with {version}"
        );
    }

    /// StackStorm's `test_jinja_render_version_filters.py`, every case.
    #[test]
    fn test_version_compare() {
        let template = r#"{{version | version_compare("0.10.0")}}"#;
        check(template, "0.9.0", "-1");
        check(template, "0.10.1", "1");
        check(template, "0.10.0", "0");
    }

    #[test]
    fn test_version_more_than() {
        let template = r#"{{version | version_more_than("0.10.0")}}"#;
        check(template, "0.9.0", "False");
        check(template, "0.10.1", "True");
        check(template, "0.10.0", "False");
    }

    #[test]
    fn test_version_less_than() {
        let template = r#"{{version | version_less_than("0.10.0")}}"#;
        check(template, "0.9.0", "True");
        check(template, "0.10.1", "False");
        check(template, "0.10.0", "False");
    }

    #[test]
    fn test_version_equal() {
        let template = r#"{{version | version_equal("0.10.0")}}"#;
        check(template, "0.9.0", "False");
        check(template, "0.10.1", "False");
        check(template, "0.10.0", "True");
    }

    #[test]
    fn test_version_match() {
        check(
            r#"{{version | version_match(">0.10.0")}}"#,
            "0.10.1",
            "True",
        );
        check(
            r#"{{version | version_match(">0.10.0")}}"#,
            "0.1.1",
            "False",
        );
        check(r#"{{version | version_match("<0.10.0")}}"#, "0.1.0", "True");
        check(
            r#"{{version | version_match("<0.10.0")}}"#,
            "1.1.0",
            "False",
        );
        check(
            r#"{{version | version_match("==0.10.0")}}"#,
            "0.10.0",
            "True",
        );
        check(
            r#"{{version | version_match("==0.10.0")}}"#,
            "0.10.1",
            "False",
        );
        // Beyond upstream's cases: pre-releases, build metadata, a bare version.
        check(
            r#"{{version | version_match("<1.0.0")}}"#,
            "1.0.0-rc.1",
            "True",
        );
        check(
            r#"{{version | version_match("1.0.0")}}"#,
            "1.0.0+build.5",
            "True",
        );
        check(r#"{{version | version_match("!=1.0.0")}}"#, "1.0.1", "True");
    }

    #[test]
    fn test_version_bump_major() {
        check("{{version | version_bump_major}}", "0.10.1", "1.0.0");
    }

    #[test]
    fn test_version_bump_minor() {
        check("{{version | version_bump_minor}}", "0.10.1", "0.11.0");
    }

    #[test]
    fn test_version_bump_patch() {
        check("{{version | version_bump_patch}}", "0.10.1", "0.10.2");
    }

    #[test]
    fn test_version_strip_patch() {
        check("{{version | version_strip_patch}}", "0.10.1", "0.10");
    }

    #[test]
    fn invalid_versions_are_named() {
        let err = render("{{ '1.2' | version_bump_minor }}", json!({})).unwrap_err();
        assert!(err.contains("1.2 is not valid SemVer string"), "{err}");
    }
}
