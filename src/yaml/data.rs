//! What PyYAML's SafeConstructor builds, as Rust values: the Python objects `safe_load` returns
//! (`int` of any size, `float` with NaN and infinities, `datetime.date`, `datetime.datetime`,
//! `bytes`, `set`, lists of tuples for `!!omap`/`!!pairs`, and `dict`s whose keys may be any
//! hashable value, compared as Python compares them: `1`, `1.0` and `True` are one key).
//!
//! [`Data::into_json`] is the one place where this becomes the JSON the rest of st2-rs uses.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::hash::{Hash, Hasher};

use serde_json::{Map, Number, Value};

/// A value as PyYAML's `safe_load` constructs it.
#[derive(Debug, Clone, PartialEq)]
pub enum Data {
    /// `None`.
    Null,
    /// `bool`.
    Bool(bool),
    /// An `int` that fits in 64 bits.
    Int(i64),
    /// An `int` beyond 64 bits, as its decimal digits (with a leading `-` when negative).
    BigInt(String),
    /// `float`, NaN and infinities included.
    Float(f64),
    /// `str`.
    Str(String),
    /// `bytes` (`!!binary`).
    Bytes(Vec<u8>),
    /// `datetime.date`.
    Date(Date),
    /// `datetime.datetime`, with a fixed UTC offset or none.
    Timestamp(Timestamp),
    /// `list`.
    List(Vec<Data>),
    /// `dict`: keys unique in Python's sense, in insertion order.
    Dict(Vec<(Data, Data)>),
    /// `set` (`!!set`), in document order.
    Set(Vec<Data>),
    /// A list of 2-tuples (`!!omap`, `!!pairs`).
    Pairs(Vec<(Data, Data)>),
}

/// A calendar date (`datetime.date`); valid by construction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Date {
    /// 1..=9999.
    pub year: u16,
    /// 1..=12.
    pub month: u8,
    /// 1..=31, valid for the month.
    pub day: u8,
}

/// A `datetime.datetime`; valid by construction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timestamp {
    /// The day.
    pub date: Date,
    /// 0..=23.
    pub hour: u8,
    /// 0..=59.
    pub minute: u8,
    /// 0..=59.
    pub second: u8,
    /// 0..=999_999.
    pub microsecond: u32,
    /// Offset from UTC in seconds (strictly within a day), or `None` for a naive datetime.
    pub offset: Option<i32>,
}

impl Date {
    /// A date when Python's `datetime.date(year, month, day)` accepts it.
    pub fn new(year: u32, month: u32, day: u32) -> Result<Date, String> {
        if !(1..=9999).contains(&year) {
            return Err(format!("year {year} is out of range"));
        }
        if !(1..=12).contains(&month) {
            return Err("month must be in 1..12".into());
        }
        if day < 1 || day > days_in_month(year, month) {
            return Err("day is out of range for month".into());
        }
        Ok(Date {
            year: year as u16,
            month: month as u8,
            day: day as u8,
        })
    }

    /// Days since 0001-01-01.
    fn ordinal(self) -> i64 {
        let y = i64::from(self.year) - 1;
        let mut days = y * 365 + y / 4 - y / 100 + y / 400;
        for m in 1..u32::from(self.month) {
            days += i64::from(days_in_month(u32::from(self.year), m));
        }
        days + i64::from(self.day) - 1
    }
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl Timestamp {
    /// Microseconds since 0001-01-01 00:00 in UTC (aware) or local time (naive).
    fn instant(&self) -> i128 {
        let seconds = self.date.ordinal() * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
            - i64::from(self.offset.unwrap_or(0));
        i128::from(seconds) * 1_000_000 + i128::from(self.microsecond)
    }
}

/// `str(date)`: `2001-12-14`.
impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// `str(datetime)`: `2001-12-14 21:59:43.100000-05:00`.
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {:02}:{:02}:{:02}",
            self.date, self.hour, self.minute, self.second
        )?;
        if self.microsecond != 0 {
            write!(f, ".{:06}", self.microsecond)?;
        }
        if let Some(offset) = self.offset {
            let sign = if offset < 0 { '-' } else { '+' };
            let offset = offset.abs();
            write!(f, "{sign}{:02}:{:02}", offset / 3600, offset / 60 % 60)?;
            if offset % 60 != 0 {
                write!(f, ":{:02}", offset % 60)?;
            }
        }
        Ok(())
    }
}

impl Data {
    /// Python's `hash()` class of a key: equal keys (in Python's sense) give equal values.
    /// `None` for what Python cannot hash (lists, dicts, sets).
    fn key_hash(&self) -> Option<KeyHash<'_>> {
        Some(match self {
            Data::Null => KeyHash::Null,
            Data::Bool(b) => KeyHash::Int(i64::from(*b)),
            Data::Int(i) => KeyHash::Int(*i),
            Data::BigInt(digits) => KeyHash::Big(Cow::Borrowed(digits)),
            Data::Float(f) => float_key_hash(*f),
            Data::Str(s) => KeyHash::Str(s),
            Data::Bytes(b) => KeyHash::Bytes(b),
            Data::Date(d) => KeyHash::Date(*d),
            // Aware datetimes are equal when they are the same instant; a naive one never
            // equals an aware one.
            Data::Timestamp(t) => KeyHash::Time(t.offset.is_some(), t.instant()),
            Data::List(_) | Data::Dict(_) | Data::Set(_) | Data::Pairs(_) => return None,
        })
    }

    /// Whether Python can use this value as a dict key or set member.
    pub fn is_hashable(&self) -> bool {
        !matches!(
            self,
            Data::List(_) | Data::Dict(_) | Data::Set(_) | Data::Pairs(_)
        )
    }

    /// The JSON st2-rs works with, as Python's `json.dumps(value, default=str)` shows the
    /// value, except where JSON has no form for it: infinities and NaN become the strings
    /// `".inf"`, `"-.inf"`, `".nan"`; `bytes` their base64 text; a `set` a mapping to nulls;
    /// integers beyond 64 bits their decimal digits. Non-string keys become the text
    /// `json.dumps` gives them (`1`, `1.5`, `true`, `null`; dates their `str()`); keys that
    /// are then equal keep the first's place and the last's value.
    pub fn into_json(self) -> Value {
        match self {
            Data::Null => Value::Null,
            Data::Bool(b) => Value::Bool(b),
            Data::Int(i) => Value::Number(i.into()),
            Data::BigInt(digits) => match digits.parse::<u64>() {
                Ok(n) => Value::Number(n.into()),
                Err(_) => Value::String(digits),
            },
            Data::Float(f) => match Number::from_f64(f) {
                Some(n) => Value::Number(n),
                None if f.is_nan() => Value::String(".nan".into()),
                None if f > 0.0 => Value::String(".inf".into()),
                None => Value::String("-.inf".into()),
            },
            Data::Str(s) => Value::String(s),
            Data::Bytes(bytes) => {
                use base64::Engine;
                Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
            }
            Data::Date(d) => Value::String(d.to_string()),
            Data::Timestamp(t) => Value::String(t.to_string()),
            Data::List(items) => Value::Array(items.into_iter().map(Data::into_json).collect()),
            Data::Dict(pairs) => {
                let mut map = Map::with_capacity(pairs.len());
                for (key, value) in pairs {
                    map.insert(key.key_text(), value.into_json());
                }
                Value::Object(map)
            }
            Data::Set(items) => Value::Object(
                items
                    .into_iter()
                    .map(|key| (key.key_text(), Value::Null))
                    .collect(),
            ),
            Data::Pairs(pairs) => Value::Array(
                pairs
                    .into_iter()
                    .map(|(k, v)| Value::Array(vec![k.into_json(), v.into_json()]))
                    .collect(),
            ),
        }
    }

    /// A dict key as `json.dumps` writes it.
    fn key_text(self) -> String {
        match self {
            Data::Str(s) => s,
            Data::Null => "null".into(),
            Data::Bool(b) => b.to_string(),
            Data::Int(i) => i.to_string(),
            Data::BigInt(digits) => digits,
            Data::Float(f) => python_float_repr(f),
            Data::Date(d) => d.to_string(),
            Data::Timestamp(t) => t.to_string(),
            other => match other.into_json() {
                Value::String(s) => s,
                value => value.to_string(),
            },
        }
    }
}

/// `repr(float)` as `json.dumps` writes a float key: `1.0`, `1e+16`, `inf`.
pub(crate) fn python_float_repr(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f.is_infinite() {
        if f > 0.0 { "Infinity" } else { "-Infinity" }.into()
    } else if f.fract() == 0.0 && f.abs() < 1e16 {
        format!("{f:.1}")
    } else {
        let text = format!("{f:?}");
        if text.contains('e') {
            text.replace("e", "e+").replace("e+-", "e-")
        } else {
            text
        }
    }
}

/// PyYAML's `.nan` (any spelling, any sign): the one float object `SafeConstructor.nan_value`,
/// so one key however often it is written (Python's dict compares keys by identity first).
pub(crate) const PYYAML_NAN: f64 = f64::NAN;

/// Any other NaN (`!!float nan` is Python's `float('nan')`): a new object each time, equal to
/// no key, not even another one written the same way. Its payload tells it from
/// [`PYYAML_NAN`].
pub(crate) fn fresh_nan() -> f64 {
    f64::from_bits(PYYAML_NAN.to_bits() | 1)
}

/// Whether a key is a NaN that no other key equals (see [`fresh_nan`]).
fn is_fresh_nan(key: &Data) -> bool {
    matches!(key, Data::Float(f) if f.is_nan() && f.to_bits() != PYYAML_NAN.to_bits())
}

/// What decides equality of keys, borrowed from the key: two keys are equal in Python's
/// sense when their `KeyHash`es are equal (and neither is a fresh NaN).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum KeyHash<'a> {
    Null,
    Int(i64),
    /// Integers (and integral floats) beyond 64 bits, by their decimal digits.
    Big(Cow<'a, str>),
    /// Floats that are not integers, by their bits.
    FloatBits(u64),
    Str(&'a str),
    Bytes(&'a [u8]),
    Date(Date),
    Time(bool, i128),
}

fn float_key_hash(f: f64) -> KeyHash<'static> {
    if f.is_finite() && f.fract() == 0.0 {
        // i64's range: [-2^63, 2^63).
        if (-(2f64.powi(63))..2f64.powi(63)).contains(&f) {
            return KeyHash::Int(f as i64);
        }
        return KeyHash::Big(Cow::Owned(format!("{f:.0}")));
    }
    KeyHash::FloatBits(if f == 0.0 { 0 } else { f.to_bits() })
}

const INDEX_FROM: usize = 16;

/// A `dict` being built with Python's assignment semantics: assigning to a key equal to one
/// already there replaces the value and keeps the first key and its place.
#[derive(Default)]
pub(crate) struct DictBuilder {
    pairs: Vec<(Data, Data)>,
    /// Beyond [`INDEX_FROM`] pairs: positions by the hash of their key.
    index: HashMap<u64, Vec<usize>>,
}

fn hash64(key: &KeyHash<'_>) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut hasher);
    hasher.finish()
}

/// Where a key equal to `key` is, in keys numbered as `key_at` numbers them.
fn position<'a>(
    len: usize,
    key_at: impl Fn(usize) -> &'a Data,
    index: &HashMap<u64, Vec<usize>>,
    key: &Data,
) -> Option<usize> {
    // A NaN is equal to no other object; PyYAML's `.nan` is one object.
    if is_fresh_nan(key) {
        return None;
    }
    let wanted = key.key_hash().expect("caller checks hashability");
    let equal = |i: &usize| key_at(*i).key_hash().as_ref() == Some(&wanted);
    if len < INDEX_FROM {
        (0..len).find(equal)
    } else {
        index.get(&hash64(&wanted))?.iter().copied().find(equal)
    }
}

/// Adds position `at` of `key` to the index (built whole when the keys reach [`INDEX_FROM`]).
fn index_key<'a>(
    len: usize,
    key_at: impl Fn(usize) -> &'a Data,
    index: &mut HashMap<u64, Vec<usize>>,
) {
    if len < INDEX_FROM {
        return;
    }
    let from = if len == INDEX_FROM { 0 } else { len - 1 };
    for i in from..len {
        if let Some(hash) = key_at(i).key_hash() {
            index.entry(hash64(&hash)).or_default().push(i);
        }
    }
}

impl DictBuilder {
    /// `dict[key] = value`; the key must be hashable.
    pub(crate) fn insert(&mut self, key: Data, value: Data) {
        let pairs = &self.pairs;
        if let Some(at) = position(pairs.len(), |i| &pairs[i].0, &self.index, &key) {
            self.pairs[at].1 = value;
            return;
        }
        self.pairs.push((key, value));
        let pairs = &self.pairs;
        index_key(pairs.len(), |i| &pairs[i].0, &mut self.index);
    }

    pub(crate) fn finish(self) -> Vec<(Data, Data)> {
        self.pairs
    }
}

/// A `set` being built: members unique in Python's sense, first one kept.
#[derive(Default)]
pub(crate) struct SetBuilder {
    members: Vec<Data>,
    index: HashMap<u64, Vec<usize>>,
}

impl SetBuilder {
    pub(crate) fn insert(&mut self, member: Data) {
        let members = &self.members;
        if position(members.len(), |i| &members[i], &self.index, &member).is_some() {
            return;
        }
        self.members.push(member);
        let members = &self.members;
        index_key(members.len(), |i| &members[i], &mut self.index);
    }

    pub(crate) fn finish(self) -> Vec<Data> {
        self.members
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dict_keys_compare_as_python_compares_them() {
        let mut dict = DictBuilder::default();
        dict.insert(Data::Int(1), Data::Str("a".into()));
        dict.insert(Data::Float(1.0), Data::Str("b".into()));
        dict.insert(Data::Bool(true), Data::Str("c".into()));
        dict.insert(Data::Str("1".into()), Data::Str("d".into()));
        dict.insert(Data::Float(fresh_nan()), Data::Null);
        dict.insert(Data::Float(fresh_nan()), Data::Null);
        dict.insert(Data::Float(PYYAML_NAN), Data::Int(1));
        dict.insert(Data::Float(PYYAML_NAN), Data::Int(2));
        dict.insert(Data::Float(-0.0), Data::Null);
        dict.insert(Data::Bool(false), Data::Int(0));
        dict.insert(Data::BigInt("18446744073709551616".into()), Data::Null);
        dict.insert(Data::Float(18446744073709551616.0), Data::Int(2));
        let pairs = dict.finish();
        assert_eq!(pairs.len(), 7, "{pairs:?}");
        assert_eq!(pairs[0], (Data::Int(1), Data::Str("c".into())));
        assert!(matches!(pairs[4], (Data::Float(f), Data::Int(2)) if f.is_nan()));
        assert_eq!(pairs[5], (Data::Float(-0.0), Data::Int(0)));
        assert_eq!(
            pairs[6],
            (Data::BigInt("18446744073709551616".into()), Data::Int(2))
        );
    }

    /// Past the size where keys are indexed, equal keys are still found.
    #[test]
    fn large_dicts_and_sets() {
        let mut dict = DictBuilder::default();
        for i in 0..100 {
            dict.insert(Data::Int(i), Data::Int(i));
        }
        for i in 0..100 {
            dict.insert(Data::Float(i as f64), Data::Int(-i));
            dict.insert(Data::Str(i.to_string()), Data::Null);
        }
        let pairs = dict.finish();
        assert_eq!(pairs.len(), 200);
        assert_eq!(pairs[42], (Data::Int(42), Data::Int(-42)));
        let mut set = SetBuilder::default();
        for i in 0..50 {
            set.insert(Data::Int(i % 20));
            set.insert(Data::Bool(i % 2 == 0));
        }
        assert_eq!(set.finish().len(), 20);
    }

    #[test]
    fn timestamps_show_as_python_str_shows_them() {
        let date = Date::new(2001, 12, 14).unwrap();
        let t = Timestamp {
            date,
            hour: 21,
            minute: 59,
            second: 43,
            microsecond: 100_000,
            offset: Some(-5 * 3600),
        };
        assert_eq!(t.to_string(), "2001-12-14 21:59:43.100000-05:00");
        assert_eq!(
            Data::Timestamp(Timestamp {
                microsecond: 0,
                offset: None,
                ..t
            })
            .into_json(),
            json!("2001-12-14 21:59:43")
        );
        assert!(Date::new(2001, 2, 29).is_err());
        assert!(Date::new(2000, 2, 29).is_ok());
        assert!(Date::new(0, 1, 1).is_err());
    }

    #[test]
    fn json_view() {
        let data = Data::Dict(vec![
            (Data::Int(1), Data::Float(f64::INFINITY)),
            (
                Data::Float(2.5),
                Data::BigInt("-99999999999999999999".into()),
            ),
            (Data::Null, Data::Bytes(b"hello".to_vec())),
            (
                Data::Str("p".into()),
                Data::Pairs(vec![(Data::Str("a".into()), Data::Int(1))]),
            ),
        ]);
        assert_eq!(
            data.into_json(),
            json!({"1": ".inf", "2.5": "-99999999999999999999", "null": "aGVsbG8=",
                   "p": [["a", 1]]})
        );
    }
}
