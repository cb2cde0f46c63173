//! `to_human_time_from_seconds` (`st2common/expressions/functions/time.py`): `3h25m45s`.

use minijinja::value::{Value, ValueKind};
use minijinja::{Error, ErrorKind};

use super::pystr::py_str;

/// `1y12d16h36m37s` for 45678997 seconds: the parts of `datetime(1, 1, 1) + seconds`
/// from the first that is not zero (years, day of the month minus one, hours, minutes,
/// seconds; months are lost, as upstream loses them); `0s`; `0.1μs` below one second.
pub fn to_human_time_from_seconds(seconds: Value) -> Result<String, Error> {
    // `assert isinstance(seconds, (int, float))`; a boolean is an int in Python.
    if !matches!(seconds.kind(), ValueKind::Number | ValueKind::Bool) {
        return Err(Error::new(ErrorKind::InvalidOperation, "AssertionError"));
    }
    // A boolean is 0 or 1, as in Python.
    let seconds = match seconds.kind() {
        ValueKind::Bool => Value::from(i64::from(seconds.is_true())),
        _ => seconds,
    };
    let number = f64::try_from(seconds.clone()).unwrap_or(0.0);
    if number == 0.0 {
        return Ok("0s".into());
    }
    if number < 1.0 {
        return Ok(format!("{}\u{3bc}s", py_str(&seconds)));
    }
    let whole = if seconds.is_integer() {
        i64::try_from(seconds.clone()).unwrap_or(i64::MAX)
    } else {
        round_half_even(number) as i64
    };
    let overflow = || Error::new(ErrorKind::InvalidOperation, "date value out of range");
    let start = jiff::civil::date(1, 1, 1).at(0, 0, 0, 0);
    let offset = start
        .checked_add(jiff::SignedDuration::from_secs(whole))
        .map_err(|_| overflow())?;
    let parts = [
        i64::from(offset.year()) - 1,
        i64::from(offset.day()) - 1,
        i64::from(offset.hour()),
        i64::from(offset.minute()),
        i64::from(offset.second()),
    ];
    let Some(first) = parts.iter().position(|part| *part != 0) else {
        return Ok("0s".into());
    };
    let units = ["y", "d", "h", "m", "s"];
    let kept = &parts[first..];
    let units = &units[units.len() - kept.len()..];
    Ok(kept
        .iter()
        .zip(units)
        .map(|(part, unit)| format!("{part}{unit}"))
        .collect())
}

/// Python's `round()`: halves to even.
fn round_half_even(value: f64) -> f64 {
    let rounded = value.round();
    if (value - value.trunc()).abs() == 0.5 && rounded % 2.0 != 0.0 {
        rounded - value.signum()
    } else {
        rounded
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::render;
    use super::*;
    use serde_json::json;

    fn human(seconds: Value) -> String {
        to_human_time_from_seconds(seconds).unwrap()
    }

    /// StackStorm's `test_time_jinja_filters.py`.
    #[test]
    fn test_to_human_time_from_seconds() {
        assert_eq!(human(Value::from(0)), "0s");
        assert_eq!(human(Value::from(0.1)), "0.1\u{3bc}s");
        assert_eq!(human(Value::from(56)), "56s");
        assert_eq!(human(Value::from(56.2)), "56s");
        assert_eq!(human(Value::from(456)), "7m36s");
        assert_eq!(human(Value::from(4560)), "1h16m0s");
        assert_eq!(human(Value::from(45678997)), "1y12d16h36m37s");
        assert!(to_human_time_from_seconds(Value::from("stuff")).is_err());
        assert_eq!(human(Value::from(2.5)), "2s");
        assert_eq!(human(Value::from(true)), "1s");
    }

    /// StackStorm's `test_jinja_render_time_filters.py`.
    #[test]
    fn test_to_human_time_filter() {
        let template = "{{k1 | to_human_time_from_seconds}}";
        assert_eq!(render(template, json!({"k1": 12345})).unwrap(), "3h25m45s");
        assert_eq!(render(template, json!({"k1": 0})).unwrap(), "0s");
        assert!(render(template, json!({"k1": "stuff"})).is_err());
    }
}
