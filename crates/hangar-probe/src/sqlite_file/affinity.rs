//! Type affinity (<https://www.sqlite.org/datatype3.html>, 3.1): how a column's declared type
//! changes the values stored into it and read from it, and the value of a `DEFAULT` literal,
//! which a row written before `ALTER TABLE ADD COLUMN` reads.

use super::Value;
use super::tokens::Tok;

/// A column's type affinity (<https://www.sqlite.org/datatype3.html>, 3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Affinity {
    Blob,
    Text,
    Numeric,
    Integer,
    Real,
}

impl Affinity {
    /// The affinity of a declared type, by SQLite's rules, in order.
    pub(super) fn of(declared: &str) -> Self {
        let t = declared.to_ascii_uppercase();
        if t.contains("INT") {
            Affinity::Integer
        } else if ["CHAR", "CLOB", "TEXT"].iter().any(|w| t.contains(w)) {
            Affinity::Text
        } else if t.is_empty() || t.contains("BLOB") {
            Affinity::Blob
        } else if ["REAL", "FLOA", "DOUB"].iter().any(|w| t.contains(w)) {
            Affinity::Real
        } else {
            Affinity::Numeric
        }
    }

    /// The value as a column of this affinity reads it: a REAL column reads integers as
    /// reals (SQLite stores integral reals as integers to save space).
    pub(super) fn on_read(self, v: Value) -> Value {
        match (self, v) {
            #[allow(clippy::cast_precision_loss)] // as SQLite does
            (Affinity::Real, Value::Integer(i)) => Value::Real(i as f64),
            (_, v) => v,
        }
    }

    /// The value stored into a column of this affinity (how a default is applied).
    pub(super) fn on_store(self, v: Value) -> Value {
        match (self, v) {
            (Affinity::Text, Value::Integer(i)) => Value::Text(i.to_string()),
            (Affinity::Numeric | Affinity::Integer | Affinity::Real, Value::Text(s)) => {
                numeric(&s).unwrap_or(Value::Text(s))
            }
            (_, v) => v,
        }
    }
}

/// Text that is a well-formed number, as a number: an integer when it is one (or a real with
/// an integral value that fits), else a real. `None` when it is not a number.
fn numeric(s: &str) -> Option<Value> {
    let t = s.trim_matches(|c: char| c.is_ascii_whitespace());
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    if !digits.starts_with(|c: char| c.is_ascii_digit() || c == '.')
        || !digits
            .chars()
            .all(|c| c.is_ascii_digit() || "eE.+-".contains(c))
    {
        return None;
    }
    if let Ok(i) = t.parse::<i64>() {
        return Some(Value::Integer(i));
    }
    let r = t.parse::<f64>().ok()?;
    #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
    let i = r as i64;
    #[allow(clippy::cast_precision_loss, clippy::float_cmp)]
    Some(if i as f64 == r && i > i64::MIN && i < i64::MAX {
        Value::Integer(i)
    } else {
        Value::Real(r)
    })
}

/// The value of a `DEFAULT` clause as a row missing the column reads it: literals only (the
/// only defaults `ALTER TABLE ADD COLUMN` accepts), anything else reads NULL.
pub(super) fn default(toks: &[Tok], affinity: Affinity) -> Value {
    let (negative, toks) = match toks.first() {
        Some(Tok::Punct('-')) => (true, &toks[1..]),
        Some(Tok::Punct('+')) => (false, &toks[1..]),
        _ => (false, toks),
    };
    let value = match toks.first() {
        Some(Tok::Num(n)) => {
            let sign = if negative { "-" } else { "" };
            // SQLite keeps small integers (hex too) as integers, other numbers as their text,
            // and then applies the column's affinity (none counts as NUMERIC here).
            let small = parse_int32(n).map(|v| Value::Integer(if negative { -v } else { v }));
            let v = small.unwrap_or_else(|| Value::Text(format!("{sign}{n}")));
            let affinity = if affinity == Affinity::Blob {
                Affinity::Numeric
            } else {
                affinity
            };
            return affinity.on_store(v);
        }
        Some(Tok::Str(s)) if !negative => Value::Text(s.clone()),
        Some(Tok::Blob(b)) if !negative => Value::Blob(b.clone()),
        Some(t) if t.is("TRUE") && !negative => Value::Integer(1),
        Some(t) if t.is("FALSE") && !negative => Value::Integer(0),
        _ => Value::Null,
    };
    affinity.on_store(value)
}

/// A decimal or `0x` hex integer literal that fits in 32 bits (SQLite's `sqlite3GetInt32`).
fn parse_int32(n: &str) -> Option<i64> {
    let v = match n.strip_prefix("0x").or_else(|| n.strip_prefix("0X")) {
        Some(hex) => i64::from(u32::from_str_radix(hex, 16).ok()?.cast_signed()),
        None => i64::from(n.parse::<i32>().ok()?),
    };
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn affinities() {
        for (t, a) in [
            ("INTEGER", Affinity::Integer),
            ("BIGINT", Affinity::Integer),
            ("FLOATING POINT", Affinity::Integer),
            ("VARCHAR(250)", Affinity::Text),
            ("CLOB", Affinity::Text),
            ("", Affinity::Blob),
            ("BLOB", Affinity::Blob),
            ("REAL", Affinity::Real),
            ("DOUBLE PRECISION", Affinity::Real),
            ("FLOAT", Affinity::Real),
            ("DECIMAL", Affinity::Numeric),
            ("BOOLEAN", Affinity::Numeric),
            ("DATETIME", Affinity::Numeric),
            ("TIMESTAMP", Affinity::Numeric),
        ] {
            assert_eq!(Affinity::of(t), a, "{t}");
        }
        assert_eq!(Affinity::Real.on_read(Value::Integer(3)), Value::Real(3.0));
        assert_eq!(
            Affinity::Numeric.on_read(Value::Integer(3)),
            Value::Integer(3)
        );
    }

    #[test]
    fn numbers_in_text() {
        assert_eq!(numeric(" 42 "), Some(Value::Integer(42)));
        assert_eq!(numeric("-0.5"), Some(Value::Real(-0.5)));
        assert_eq!(numeric(".5e1"), Some(Value::Integer(5)));
        assert_eq!(numeric("1e400"), Some(Value::Real(f64::INFINITY)));
        for s in ["", "abc", "inf", "NaN", "1x", "0x10", "--1", "e5"] {
            assert_eq!(numeric(s), None, "{s}");
        }
    }
}
