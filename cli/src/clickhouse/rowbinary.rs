//! RowBinary, the insert format both ClickHouse 18.16 and current servers
//! take: each row's values in column order, integers little-endian,
//! strings with a LEB128 length, FixedString and IPv6 as their bytes
//! (IPv6 in network order), DateTime as UInt32 seconds, DateTime64(P) as
//! Int64 units of 10^-P s, arrays with a LEB128 count. LowCardinality
//! changes nothing on the wire.

/// A column type this writer can fill, as `system.columns` spells it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Wire {
    /// UInt8 … UInt64 and Int8 … Int64: this many bytes.
    Int(usize),
    String,
    FixedString(usize),
    Ipv6,
    DateTime,
    /// The precision P.
    DateTime64(u32),
}

/// A value for one column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value<'a> {
    Int(u64),
    Text(std::borrow::Cow<'a, [u8]>),
    /// IPv6, or IPv4 mapped (`::ffff:a.b.c.d`).
    Address([u8; 16]),
    /// Seconds and nanoseconds since the epoch.
    Time(u64, u32),
}

impl Wire {
    /// The type named `name`; None for one this writer does not fill.
    pub fn parse(name: &str) -> Option<Wire> {
        let name = unwrap_type(name, "LowCardinality").unwrap_or(name);
        let wire = match name {
            "UInt8" | "Int8" => Wire::Int(1),
            "UInt16" | "Int16" => Wire::Int(2),
            "UInt32" | "Int32" => Wire::Int(4),
            "UInt64" | "Int64" => Wire::Int(8),
            "String" => Wire::String,
            "IPv6" => Wire::Ipv6,
            "DateTime" => Wire::DateTime,
            _ => {
                if let Some(length) = unwrap_type(name, "FixedString") {
                    Wire::FixedString(length.parse().ok()?)
                } else if unwrap_type(name, "DateTime").is_some() {
                    Wire::DateTime // DateTime('zone'): the same seconds
                } else if let Some(arguments) = unwrap_type(name, "DateTime64") {
                    let precision = arguments.split(',').next()?.trim().parse().ok()?;
                    (precision <= 9).then_some(Wire::DateTime64(precision))?
                } else {
                    return None;
                }
            }
        };
        Some(wire)
    }

    /// Whether this type can hold `value`'s kind.
    pub fn holds(&self, value: &Value<'_>) -> bool {
        matches!(
            (self, value),
            (Wire::Int(_), Value::Int(_))
                | (Wire::String | Wire::FixedString(_), Value::Text(_))
                | (Wire::Ipv6, Value::Address(_))
                | (Wire::FixedString(16), Value::Address(_))
                | (Wire::DateTime | Wire::DateTime64(_), Value::Time(..))
        )
    }

    /// Appends `value` in this type's bytes; a kind it does not
    /// [`hold`](Wire::holds) writes a zero value, so a row stays whole.
    pub fn put(&self, out: &mut Vec<u8>, value: &Value<'_>) {
        match (self, value) {
            (Wire::Int(width), Value::Int(n)) => out.extend_from_slice(&n.to_le_bytes()[..*width]),
            (Wire::String, Value::Text(text)) => put_string(out, text),
            (Wire::FixedString(length), Value::Text(text)) => put_fixed(out, *length, text),
            (Wire::Ipv6 | Wire::FixedString(_), Value::Address(address)) => {
                put_fixed(out, self.width(), address)
            }
            (Wire::DateTime, Value::Time(seconds, _)) => {
                out.extend_from_slice(&u32::try_from(*seconds).unwrap_or(u32::MAX).to_le_bytes())
            }
            (Wire::DateTime64(precision), Value::Time(seconds, nanos)) => {
                let units = i128::from(*seconds) * 10i128.pow(*precision)
                    + i128::from(*nanos) / 10i128.pow(9 - precision);
                let units = i64::try_from(units).unwrap_or(i64::MAX);
                out.extend_from_slice(&units.to_le_bytes());
            }
            _ => self.put_zero(out),
        }
    }

    fn width(&self) -> usize {
        match self {
            Wire::Int(width) | Wire::FixedString(width) => *width,
            Wire::Ipv6 => 16,
            Wire::DateTime => 4,
            Wire::DateTime64(_) => 8,
            Wire::String => 0,
        }
    }

    fn put_zero(&self, out: &mut Vec<u8>) {
        match self {
            Wire::String => put_string(out, b""),
            other => out.resize(out.len() + other.width(), 0),
        }
    }
}

/// `Name(arguments)` → `arguments`.
fn unwrap_type<'a>(name: &'a str, outer: &str) -> Option<&'a str> {
    name.strip_prefix(outer)?
        .strip_prefix('(')?
        .strip_suffix(')')
}

/// A LEB128 length or count.
pub fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

pub fn put_string(out: &mut Vec<u8>, bytes: &[u8]) {
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Exactly `length` bytes: cut, or padded with zeros as ClickHouse pads.
fn put_fixed(out: &mut Vec<u8>, length: usize, bytes: &[u8]) {
    let taken = bytes.len().min(length);
    out.extend_from_slice(&bytes[..taken]);
    out.resize(out.len() + length - taken, 0);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    fn bytes(wire: &Wire, value: Value<'_>) -> Vec<u8> {
        let mut out = Vec::new();
        wire.put(&mut out, &value);
        out
    }

    #[test]
    fn types_as_system_columns_names_them() {
        assert_eq!(Wire::parse("UInt16"), Some(Wire::Int(2)));
        assert_eq!(Wire::parse("LowCardinality(String)"), Some(Wire::String));
        assert_eq!(Wire::parse("FixedString(16)"), Some(Wire::FixedString(16)));
        assert_eq!(Wire::parse("DateTime('UTC')"), Some(Wire::DateTime));
        assert_eq!(
            Wire::parse("DateTime64(9, 'UTC')"),
            Some(Wire::DateTime64(9))
        );
        assert_eq!(Wire::parse("DateTime64(3)"), Some(Wire::DateTime64(3)));
        assert_eq!(Wire::parse("IPv6"), Some(Wire::Ipv6));
        for other in [
            "Nullable(String)",
            "Array(String)",
            "IPv4",
            "Float64",
            "DateTime64(12)",
        ] {
            assert_eq!(Wire::parse(other), None, "{other}");
        }
    }

    #[test]
    fn values_in_rowbinary() {
        assert_eq!(bytes(&Wire::Int(2), Value::Int(0x1234)), [0x34, 0x12]);
        assert_eq!(bytes(&Wire::Int(1), Value::Int(0x1ff)), [0xff]);
        let text = Value::Text(Cow::Borrowed(b"abc"));
        assert_eq!(bytes(&Wire::String, text.clone()), b"\x03abc");
        assert_eq!(bytes(&Wire::FixedString(5), text), b"abc\0\0");
        let long = Value::Text(Cow::Owned(vec![b'x'; 300]));
        assert_eq!(bytes(&Wire::String, long)[..2], [0xac, 0x02]);
        let mut mapped = [0u8; 16];
        mapped[10..].copy_from_slice(&[0xff, 0xff, 192, 0, 2, 1]);
        assert_eq!(bytes(&Wire::Ipv6, Value::Address(mapped)), mapped);
        let time = Value::Time(1_700_000_000, 123_456_789);
        assert_eq!(
            bytes(&Wire::DateTime, time.clone()),
            1_700_000_000u32.to_le_bytes()
        );
        assert_eq!(
            bytes(&Wire::DateTime64(9), time.clone()),
            1_700_000_000_123_456_789i64.to_le_bytes()
        );
        assert_eq!(
            bytes(&Wire::DateTime64(3), time),
            1_700_000_000_123i64.to_le_bytes()
        );
        assert_eq!(bytes(&Wire::DateTime, Value::Time(u64::MAX, 0)), [0xff; 4]);
    }

    #[test]
    fn kinds_and_types_that_do_not_fit() {
        let address = Value::Address([0; 16]);
        assert!(Wire::FixedString(16).holds(&address));
        assert!(!Wire::FixedString(4).holds(&address));
        assert!(!Wire::String.holds(&Value::Int(1)));
        assert!(!Wire::Int(4).holds(&Value::Time(0, 0)));
        assert_eq!(bytes(&Wire::String, Value::Int(1)), [0]);
        assert_eq!(bytes(&Wire::Int(4), Value::Time(1, 0)), [0; 4]);
    }
}
