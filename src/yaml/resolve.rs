//! Scalars as PyYAML reads them: the Resolver's implicit tags for plain scalars (YAML 1.1:
//! `yes`/`on` booleans, `0777` octal, `1_000`, `1:30` sexagesimal, timestamps) and the
//! SafeConstructor's constructors for each tag, with Python's own conversions (`int()`,
//! `float()`, `base64.decodebytes`, `datetime`) and their errors.

use std::sync::LazyLock;

use regex::Regex;

use super::data::{fresh_nan, Data, Date, Timestamp, PYYAML_NAN};

/// The tags PyYAML's resolver and SafeConstructor know.
pub(crate) const NULL: &str = "tag:yaml.org,2002:null";
pub(crate) const BOOL: &str = "tag:yaml.org,2002:bool";
pub(crate) const INT: &str = "tag:yaml.org,2002:int";
pub(crate) const FLOAT: &str = "tag:yaml.org,2002:float";
pub(crate) const BINARY: &str = "tag:yaml.org,2002:binary";
pub(crate) const TIMESTAMP: &str = "tag:yaml.org,2002:timestamp";
pub(crate) const STR: &str = "tag:yaml.org,2002:str";
pub(crate) const SEQ: &str = "tag:yaml.org,2002:seq";
pub(crate) const MAP: &str = "tag:yaml.org,2002:map";
pub(crate) const SET: &str = "tag:yaml.org,2002:set";
pub(crate) const OMAP: &str = "tag:yaml.org,2002:omap";
pub(crate) const PAIRS: &str = "tag:yaml.org,2002:pairs";
pub(crate) const MERGE: &str = "tag:yaml.org,2002:merge";
pub(crate) const VALUE: &str = "tag:yaml.org,2002:value";

/// The words PyYAML's bool resolver matches (`^(?:yes|Yes|YES|no|...|OFF)$`).
const BOOL_WORDS: [&str; 18] = [
    "yes", "Yes", "YES", "no", "No", "NO", "true", "True", "TRUE", "false", "False", "FALSE", "on",
    "On", "ON", "off", "Off", "OFF",
];
/// The words of PyYAML's null resolver besides `~` and the empty string.
const NULL_WORDS: [&str; 3] = ["null", "Null", "NULL"];
static INT_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$",
    )
    .expect("valid")
});
static FLOAT_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
    )
    .expect("valid")
});
/// The resolver's timestamp pattern (two digits for month and day unless a time follows).
static TIMESTAMP_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$",
    )
    .expect("valid")
});
/// The constructor's timestamp pattern.
static TIMESTAMP_PARTS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(?P<year>[0-9][0-9][0-9][0-9])-(?P<month>[0-9][0-9]?)-(?P<day>[0-9][0-9]?)(?:(?:[Tt]|[ \t]+)(?P<hour>[0-9][0-9]?):(?P<minute>[0-9][0-9]):(?P<second>[0-9][0-9])(?:\.(?P<fraction>[0-9]*))?(?:[ \t]*(?P<tz>Z|(?P<tz_sign>[-+])(?P<tz_hour>[0-9][0-9]?)(?::(?P<tz_minute>[0-9][0-9]))?))?)?$",
    )
    .expect("valid")
});

/// The tag PyYAML's Resolver gives a scalar without an explicit tag. `plain` is the
/// `implicit[0]` flag: a plain scalar, or any scalar tagged with the non-specific `!`.
///
/// As PyYAML's Resolver does, only the resolvers registered for the scalar's first character
/// are tried (`yaml_implicit_resolvers`), in their order (bool, float, int, merge, null,
/// timestamp, value). The bool and null patterns are lists of words, compared as such; the
/// number and timestamp patterns are regexes, compiled the first time a scalar starting with
/// a digit, a sign or a dot needs them, and a plain run of digits (the common number) is
/// told without them. Reading a file of words and strings compiles no regex at all, which
/// saves a command reading one small YAML file most of its time.
pub(crate) fn resolve(value: &str, plain: bool) -> &'static str {
    if !plain {
        return STR;
    }
    match value.as_bytes().first() {
        None => NULL,
        Some(b'y' | b'Y' | b'n' | b'N' | b't' | b'T' | b'f' | b'F' | b'o' | b'O') => {
            if BOOL_WORDS.contains(&value) {
                BOOL
            } else if NULL_WORDS.contains(&value) {
                NULL
            } else {
                STR
            }
        }
        Some(b'~') if value == "~" => NULL,
        Some(b'<') if value == "<<" => MERGE,
        Some(b'=') if value == "=" => VALUE,
        Some(b'0'..=b'9' | b'-' | b'+' | b'.') => number_or_timestamp(value),
        _ => STR,
    }
}

/// The float, int and timestamp resolvers, in that order (Python's `$` also matches before a
/// final line break; plain scalars never end with one).
fn number_or_timestamp(value: &str) -> &'static str {
    if value.bytes().all(|b| b.is_ascii_digit()) {
        // No float without a dot; an int unless it is a leading-zero octal with an 8 or 9,
        // which no other resolver takes either (a timestamp has dashes).
        let octal = value.len() > 1 && value.starts_with('0');
        return if !octal || value.bytes().all(|b| b <= b'7') {
            INT
        } else {
            STR
        };
    }
    if FLOAT_RE.is_match(value) {
        FLOAT
    } else if INT_RE.is_match(value) {
        INT
    } else if TIMESTAMP_RE.is_match(value) {
        TIMESTAMP
    } else {
        STR
    }
}

/// Whether a plain scalar with this text reads back as the same string.
pub(crate) fn plain_is_string(text: &str) -> bool {
    resolve(text, true) == STR
}

/// The SafeConstructor's constructor for a scalar with this (resolved or explicit) tag.
pub(crate) fn construct(tag: &str, value: &str) -> Result<Data, String> {
    match tag {
        STR => Ok(Data::Str(value.to_string())),
        NULL => Ok(Data::Null),
        BOOL => match value.to_lowercase().as_str() {
            "yes" | "true" | "on" => Ok(Data::Bool(true)),
            "no" | "false" | "off" => Ok(Data::Bool(false)),
            // PyYAML: `self.bool_values[value.lower()]`, a KeyError.
            _ => Err(format!("invalid boolean value '{value}'")),
        },
        INT => construct_int(value),
        FLOAT => construct_float(value),
        BINARY => construct_binary(value),
        TIMESTAMP => construct_timestamp(value),
        SEQ => Err("expected a sequence node, but found scalar".into()),
        MAP | SET => Err("expected a mapping node, but found scalar".into()),
        OMAP => {
            Err("while constructing an ordered map: expected a sequence, but found scalar".into())
        }
        PAIRS => Err("while constructing pairs: expected a sequence, but found scalar".into()),
        _ => Err(format!(
            "could not determine a constructor for the tag '{tag}'"
        )),
    }
}

/// PyYAML's `construct_yaml_int`: underscores dropped, one sign, then `0b`/`0x`/`0` (octal)
/// prefixes, `a:b:c` base 60, else Python's `int()`.
fn construct_int(text: &str) -> Result<Data, String> {
    let invalid = || format!("invalid literal for int(): '{text}'");
    let value: String = text.chars().filter(|c| *c != '_').collect();
    let (negative, body) = match value.chars().next() {
        None => return Err(invalid()),
        Some('-') => (true, &value[1..]),
        Some('+') => (false, &value[1..]),
        Some(_) => (false, &value[..]),
    };
    let magnitude = if body == "0" {
        Big::zero()
    } else if let Some(bin) = body.strip_prefix("0b") {
        python_int(bin, 2).ok_or_else(invalid)?
    } else if let Some(hex) = body.strip_prefix("0x") {
        python_int(hex, 16).ok_or_else(invalid)?
    } else if body.starts_with('0') {
        python_int(body, 8).ok_or_else(invalid)?
    } else if body.contains(':') {
        // Python: `sum(int(part) * 60**i ...)`; parts carry their own sign only with an
        // explicit `!!int`, and then the number is small.
        let parts: Vec<Big> = body
            .split(':')
            .map(|part| python_int(part, 10))
            .collect::<Option<_>>()
            .ok_or_else(invalid)?;
        let small = parts.iter().try_fold(0i128, |total, part| {
            total.checked_mul(60)?.checked_add(part.to_signed_i128()?)
        });
        match small {
            Some(total) => Big::from_i128(total),
            None => parts
                .iter()
                .fold(Big::zero(), |total, part| total.mul_add(60, 0).add(part)),
        }
    } else {
        python_int(body, 10).ok_or_else(invalid)?
    };
    Ok(magnitude.into_data(negative))
}

/// Python's `int(text, base)`: surrounding whitespace, one sign, the prefix of the base
/// (`0b`, `0o`, `0x`), underscores between digits. A negative result is kept as the sign of
/// the returned magnitude.
fn python_int(text: &str, base: u32) -> Option<Big> {
    let text = text.trim_matches(char::is_whitespace);
    let (negative, digits) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let prefix = match base {
        2 => ["0b", "0B"],
        8 => ["0o", "0O"],
        16 => ["0x", "0X"],
        _ => ["", ""],
    };
    let digits = if base != 10 {
        prefix
            .iter()
            .find_map(|p| {
                digits
                    .strip_prefix(p)
                    .map(|rest| rest.strip_prefix('_').unwrap_or(rest))
            })
            .unwrap_or(digits)
    } else {
        digits
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return None;
    }
    let mut value = Big::zero();
    for c in digits.chars().filter(|c| *c != '_') {
        let digit = c.to_digit(base)?;
        value = value.mul_add(base, digit);
    }
    value.negative = negative;
    Some(value)
}

/// PyYAML's `construct_yaml_float`: underscores dropped, lower case, one sign, `.inf`/`.nan`,
/// `a:b:c` base 60, else Python's `float()`.
fn construct_float(text: &str) -> Result<Data, String> {
    let invalid = || format!("could not convert string to float: '{text}'");
    let value: String = text
        .chars()
        .filter(|c| *c != '_')
        .collect::<String>()
        .to_lowercase();
    let (sign, body) = match value.chars().next() {
        None => return Err(invalid()),
        Some('-') => (-1.0, &value[1..]),
        Some('+') => (1.0, &value[1..]),
        Some(_) => (1.0, &value[..]),
    };
    if body == ".inf" {
        return Ok(Data::Float(sign * f64::INFINITY));
    }
    if body == ".nan" {
        return Ok(Data::Float(PYYAML_NAN));
    }
    let value = if body.contains(':') {
        let mut total = 0.0;
        for part in body.split(':') {
            total = total * 60.0 + python_float(part).ok_or_else(invalid)?;
        }
        sign * total
    } else {
        sign * python_float(body).ok_or_else(invalid)?
    };
    // `float('nan')` (`!!float nan`): not PyYAML's `.nan` object.
    Ok(Data::Float(if value.is_nan() {
        fresh_nan()
    } else {
        value
    }))
}

/// Python's `float()` on text already lower-cased and without underscores.
fn python_float(text: &str) -> Option<f64> {
    let text = text.trim_matches(char::is_whitespace);
    let unsigned = text.trim_start_matches(['+', '-']);
    // Rust also reads "infinity"/"inf"/"nan" as Python does, but not a second sign.
    if text.len() - unsigned.len() > 1 || unsigned.is_empty() {
        return None;
    }
    if !unsigned
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | '+' | '-'))
        && !matches!(unsigned, "inf" | "infinity" | "nan")
    {
        return None;
    }
    text.parse::<f64>().ok()
}

/// PyYAML's `construct_yaml_binary`: ASCII text, decoded by `base64.decodebytes`.
fn construct_binary(text: &str) -> Result<Data, String> {
    if !text.is_ascii() {
        return Err(
            "while constructing a binary value: failed to convert base64 data into ascii".into(),
        );
    }
    decode_base64(text.as_bytes())
        .map(Data::Bytes)
        .map_err(|reason| format!("failed to decode base64 data: {reason}"))
}

/// CPython's `binascii.a2b_base64` (non-strict): characters outside the alphabet are skipped,
/// a complete padding ends the data.
fn decode_base64(input: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(input.len() / 4 * 3);
    let mut quad_pos = 0;
    let mut left: u32 = 0;
    let mut pads = 0;
    for &byte in input {
        if byte == b'=' {
            if quad_pos >= 2 {
                pads += 1;
                if quad_pos + pads >= 4 {
                    return Ok(out);
                }
            }
            continue;
        }
        let value = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => continue,
        } as u32;
        pads = 0;
        match quad_pos {
            0 => {
                left = value;
                quad_pos = 1;
            }
            1 => {
                out.push(((left << 2) | (value >> 4)) as u8);
                left = value & 0x0f;
                quad_pos = 2;
            }
            2 => {
                out.push(((left << 4) | (value >> 2)) as u8);
                left = value & 0x03;
                quad_pos = 3;
            }
            _ => {
                out.push(((left << 6) | value) as u8);
                left = 0;
                quad_pos = 0;
            }
        }
    }
    match quad_pos {
        0 => Ok(out),
        1 => Err("Invalid base64-encoded string".into()),
        _ => Err("Incorrect padding".into()),
    }
}

/// PyYAML's `construct_yaml_timestamp`: a `date`, or a `datetime` with an optional offset;
/// what `datetime` refuses (2001-02-30, hour 24, offsets of a day) is an error.
fn construct_timestamp(text: &str) -> Result<Data, String> {
    // Python's `$` matches before a final line break too.
    let matched = text.strip_suffix('\n').unwrap_or(text);
    let caps = TIMESTAMP_PARTS
        .captures(matched)
        .ok_or_else(|| format!("invalid timestamp '{text}'"))?;
    let number = |name: &str| {
        caps.name(name)
            .map_or(0, |m| m.as_str().parse::<u32>().unwrap_or(0))
    };
    let date = Date::new(number("year"), number("month"), number("day"))?;
    if caps.name("hour").is_none() {
        return Ok(Data::Date(date));
    }
    let (hour, minute, second) = (number("hour"), number("minute"), number("second"));
    if hour > 23 {
        return Err("hour must be in 0..23".into());
    }
    if minute > 59 {
        return Err("minute must be in 0..59".into());
    }
    if second > 59 {
        return Err("second must be in 0..59".into());
    }
    let microsecond = caps.name("fraction").map_or(0, |m| {
        let mut digits: String = m.as_str().chars().take(6).collect();
        while digits.len() < 6 {
            digits.push('0');
        }
        digits.parse::<u32>().unwrap_or(0)
    });
    let offset = if let Some(sign) = caps.name("tz_sign") {
        let seconds = (number("tz_hour") * 60 + number("tz_minute")) as i32 * 60;
        if seconds >= 86_400 {
            return Err("offset must be strictly between -24 and 24 hours".into());
        }
        Some(if sign.as_str() == "-" {
            -seconds
        } else {
            seconds
        })
    } else if caps.name("tz").is_some() {
        Some(0)
    } else {
        None
    };
    Ok(Data::Timestamp(Timestamp {
        date,
        hour: hour as u8,
        minute: minute as u8,
        second: second as u8,
        microsecond,
        offset,
    }))
}

/// A non-negative integer of any size (base 10^9 limbs, least significant first), with the
/// sign on the side.
struct Big {
    limbs: Vec<u32>,
    negative: bool,
}

const LIMB: u64 = 1_000_000_000;

impl Big {
    fn zero() -> Big {
        Big {
            limbs: Vec::new(),
            negative: false,
        }
    }

    fn mul_add(mut self, mul: u32, add: u32) -> Big {
        let mut carry = u64::from(add);
        for limb in &mut self.limbs {
            let v = u64::from(*limb) * u64::from(mul) + carry;
            *limb = (v % LIMB) as u32;
            carry = v / LIMB;
        }
        while carry > 0 {
            self.limbs.push((carry % LIMB) as u32);
            carry /= LIMB;
        }
        self
    }

    /// The sum of two magnitudes.
    fn add(self, other: &Big) -> Big {
        let mut limbs = Vec::new();
        let mut carry = 0u64;
        for i in 0..self.limbs.len().max(other.limbs.len()) {
            let v = u64::from(self.limbs.get(i).copied().unwrap_or(0))
                + u64::from(other.limbs.get(i).copied().unwrap_or(0))
                + carry;
            limbs.push((v % LIMB) as u32);
            carry = v / LIMB;
        }
        if carry > 0 {
            limbs.push(carry as u32);
        }
        Big {
            limbs,
            negative: false,
        }
    }

    fn to_signed_i128(&self) -> Option<i128> {
        let magnitude = self.to_i128()?;
        Some(if self.negative { -magnitude } else { magnitude })
    }

    fn to_i128(&self) -> Option<i128> {
        let mut value: i128 = 0;
        for limb in self.limbs.iter().rev() {
            value = value
                .checked_mul(LIMB as i128)?
                .checked_add(i128::from(*limb))?;
        }
        Some(value)
    }

    fn from_i128(value: i128) -> Big {
        let negative = value < 0;
        let mut magnitude = value.unsigned_abs();
        let mut limbs = Vec::new();
        while magnitude > 0 {
            limbs.push((magnitude % LIMB as u128) as u32);
            magnitude /= LIMB as u128;
        }
        Big { limbs, negative }
    }

    /// The value, negated when `negate` (PyYAML's `sign * int(...)`).
    fn into_data(self, negate: bool) -> Data {
        let negative = self.negative != negate;
        if let Some(magnitude) = self.to_i128() {
            let value = if negative { -magnitude } else { magnitude };
            if let Ok(small) = i64::try_from(value) {
                return Data::Int(small);
            }
            return Data::BigInt(value.to_string());
        }
        let mut digits = String::new();
        if negative {
            digits.push('-');
        }
        let mut limbs = self.limbs.iter().rev();
        if let Some(first) = limbs.next() {
            digits.push_str(&first.to_string());
        }
        for limb in limbs {
            digits.push_str(&format!("{limb:09}"));
        }
        Data::BigInt(digits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// PyYAML's resolver as its regexes say it, every pattern tried in order whatever the
    /// first character (what `resolve` did before it dispatched on it).
    fn by_regexes(value: &str) -> &'static str {
        let bool_re = Regex::new(
            r"^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$",
        )
        .unwrap();
        let null_re = Regex::new(r"^(?:~|null|Null|NULL|)$").unwrap();
        if bool_re.is_match(value) {
            BOOL
        } else if FLOAT_RE.is_match(value) {
            FLOAT
        } else if INT_RE.is_match(value) {
            INT
        } else if value == "<<" {
            MERGE
        } else if null_re.is_match(value) {
            NULL
        } else if TIMESTAMP_RE.is_match(value) {
            TIMESTAMP
        } else if value == "=" {
            VALUE
        } else {
            STR
        }
    }

    proptest::proptest! {
        /// The first-character dispatch and the digit shortcut resolve as the patterns do.
        #[test]
        fn resolving_by_first_character_agrees_with_the_patterns(
            value in "[-+.:_0-9eEbxoa-fA-FinINtTyYsSlLuU~<= ]{0,12}|(yes|No|TRUE|off|null|NULL|~|<<|=|0|00|09|0777|1_000|1:30|2001-12-14|\\.inf|-\\.nan)[0-9a-z]{0,2}"
        ) {
            proptest::prop_assert_eq!(resolve(&value, true), by_regexes(&value), "{:?}", value);
        }
    }

    #[test]
    fn digits_alone_are_ints_unless_an_octal_says_otherwise() {
        for (value, tag) in [
            ("0", INT),
            ("7", INT),
            ("0777", INT),
            ("089", STR),
            ("10", INT),
        ] {
            assert_eq!(resolve(value, true), tag, "{value}");
            assert_eq!(by_regexes(value), tag, "{value}");
        }
    }

    fn plain(text: &str) -> Result<Data, String> {
        construct(resolve(text, true), text)
    }

    #[test]
    fn integers_of_any_size_and_base() {
        assert_eq!(plain("0x1F"), Ok(Data::Int(31)));
        assert_eq!(plain("-0b101"), Ok(Data::Int(-5)));
        assert_eq!(plain("0777"), Ok(Data::Int(511)));
        assert_eq!(plain("1_000"), Ok(Data::Int(1000)));
        assert_eq!(plain("190:20:30"), Ok(Data::Int(685230)));
        assert_eq!(
            plain("99999999999999999999999999999"),
            Ok(Data::BigInt("99999999999999999999999999999".into()))
        );
        assert_eq!(
            plain(&format!("0x{}", "f".repeat(40))),
            Ok(Data::BigInt(
                "1461501637330902918203684832716283019655932542975".into()
            ))
        );
        assert!(plain("0b_").is_err());
        assert_eq!(construct(INT, " 12 "), Ok(Data::Int(12)));
        assert_eq!(construct(INT, "--5"), Ok(Data::Int(5)));
        assert!(construct(INT, "09").is_err());
        assert!(construct(INT, "").is_err());
    }

    #[test]
    fn floats_timestamps_binary() {
        assert_eq!(plain("1.5e+3"), Ok(Data::Float(1500.0)));
        assert_eq!(plain("1:30.5"), Ok(Data::Float(90.5)));
        assert_eq!(plain("-.INF"), Ok(Data::Float(f64::NEG_INFINITY)));
        assert_eq!(plain("1e3"), Ok(Data::Str("1e3".into())));
        assert_eq!(plain("._"), Ok(Data::Str("._".into())));
        assert_eq!(construct(FLOAT, "inf"), Ok(Data::Float(f64::INFINITY)));
        assert!(plain("2001-02-30").is_err());
        assert!(plain("2001-12-14 25:00:00").is_err());
        assert!(construct(TIMESTAMP, "x").is_err());
        assert_eq!(
            construct(BINARY, "a!GVsbG8="),
            Ok(Data::Bytes(b"hello".to_vec()))
        );
        assert!(construct(BINARY, "aGVsbG8").is_err());
        assert_eq!(plain("="), construct(VALUE, "="));
        assert!(plain("<<").is_err());
    }
}
