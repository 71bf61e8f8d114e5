//! A raw walk over the protobuf fields of a `Dnstap` record.
//!
//! prost drops fields it does not know, and cannot tell a required field
//! left out from one set to its default. This walk finds both: the fields
//! of `Dnstap`, `Message` and `Policy` that the schema does not name
//! (a newer writer: schema lag), and which known fields are present.
//! It is bounded by the input: every length is checked, groups nest at most
//! [`MAX_DEPTH`] deep.

use std::fmt;

/// Deepest nesting of groups the walk follows.
pub const MAX_DEPTH: usize = 64;

/// The schema's messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum In {
    Dnstap,
    Message,
    Policy,
}

impl In {
    pub fn name(self) -> &'static str {
        match self {
            In::Dnstap => "Dnstap",
            In::Message => "Message",
            In::Policy => "Policy",
        }
    }

    fn knows(self, field: u32) -> bool {
        match self {
            In::Dnstap => matches!(field, 1 | 2 | 3 | 14 | 15),
            In::Message => (1..=16).contains(&field),
            In::Policy => (1..=5).contains(&field),
        }
    }

    /// The message a known length-delimited field holds, if it is one.
    fn child(self, field: u32) -> Option<In> {
        match (self, field) {
            (In::Dnstap, 14) => Some(In::Message),
            (In::Message, 15) => Some(In::Policy),
            _ => None,
        }
    }
}

/// A field the schema does not define.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnknownField {
    pub within: In,
    pub field: u32,
    pub wire_type: u8,
}

/// What the walk found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fields {
    pub unknown: Vec<UnknownField>,
    /// Known fields present, bit `n` for field `n`.
    pub dnstap: u64,
    pub message: u64,
    pub policy: u64,
}

impl Fields {
    pub fn has(&self, within: In, field: u32) -> bool {
        let mask = match within {
            In::Dnstap => self.dnstap,
            In::Message => self.message,
            In::Policy => self.policy,
        };
        field < 64 && mask & (1 << field) != 0
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WalkError(&'static str);

impl fmt::Display for WalkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

fn varint(input: &mut &[u8]) -> Result<u64, WalkError> {
    let mut value = 0u64;
    for i in 0..10 {
        let (&byte, rest) = input
            .split_first()
            .ok_or(WalkError("varint runs past the end"))?;
        *input = rest;
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(WalkError("varint longer than 10 bytes"))
}

fn take<'a>(input: &mut &'a [u8], n: u64) -> Result<&'a [u8], WalkError> {
    if n > input.len() as u64 {
        return Err(WalkError("field runs past the end"));
    }
    let (head, rest) = input.split_at(n as usize);
    *input = rest;
    Ok(head)
}

/// Reads one key: field number and wire type.
fn key(input: &mut &[u8]) -> Result<(u32, u8), WalkError> {
    let key = varint(input)?;
    let field = key >> 3;
    if field == 0 || field > (1 << 29) - 1 {
        return Err(WalkError("invalid field number"));
    }
    Ok((field as u32, (key & 7) as u8))
}

/// Skips the value of a field of `wire_type`; returns the payload of a
/// length-delimited field.
fn skip_value<'a>(
    input: &mut &'a [u8],
    field: u32,
    wire_type: u8,
) -> Result<Option<&'a [u8]>, WalkError> {
    match wire_type {
        0 => varint(input).map(|_| None),
        1 => take(input, 8).map(|_| None),
        2 => {
            let len = varint(input)?;
            take(input, len).map(Some)
        }
        5 => take(input, 4).map(|_| None),
        3 => {
            // A group: skip to its matching end, nested groups included.
            let mut open = vec![field];
            while let Some(&current) = open.last() {
                let (inner, inner_type) = key(input)?;
                match inner_type {
                    3 if open.len() >= MAX_DEPTH => {
                        return Err(WalkError("groups nest too deep"));
                    }
                    3 => open.push(inner),
                    4 if inner == current => {
                        open.pop();
                    }
                    4 => return Err(WalkError("mismatched end of group")),
                    other => {
                        skip_value(input, inner, other)?;
                    }
                }
            }
            Ok(None)
        }
        4 => Err(WalkError("end of group without a start")),
        _ => Err(WalkError("invalid wire type")),
    }
}

fn walk_message(mut input: &[u8], within: In, fields: &mut Fields) -> Result<(), WalkError> {
    while !input.is_empty() {
        let (field, wire_type) = key(&mut input)?;
        let payload = skip_value(&mut input, field, wire_type)?;
        if !within.knows(field) {
            fields.unknown.push(UnknownField {
                within,
                field,
                wire_type,
            });
            continue;
        }
        let mask = match within {
            In::Dnstap => &mut fields.dnstap,
            In::Message => &mut fields.message,
            In::Policy => &mut fields.policy,
        };
        *mask |= 1 << field;
        if let (Some(child), Some(payload)) = (within.child(field), payload) {
            walk_message(payload, child, fields)?;
        }
    }
    Ok(())
}

/// Walks a `Dnstap` record.
pub fn walk(payload: &[u8]) -> Result<Fields, WalkError> {
    let mut fields = Fields::default();
    walk_message(payload, In::Dnstap, &mut fields)?;
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dnstap::proto;
    use dnstap_testkit::wire::{Rng, put_bytes, put_key, put_varint};
    use prost::Message as _;

    #[test]
    fn finds_unknown_fields_at_every_level() {
        let mut policy = Vec::new();
        put_bytes(&mut policy, 1, b"RPZ");
        put_key(&mut policy, 9, 5);
        policy.extend_from_slice(&[1, 2, 3, 4]);
        let mut message = Vec::new();
        put_key(&mut message, 1, 0);
        put_varint(&mut message, 5);
        put_bytes(&mut message, 15, &policy);
        put_key(&mut message, 17, 0);
        put_varint(&mut message, 300);
        let mut record = Vec::new();
        put_bytes(&mut record, 14, &message);
        put_key(&mut record, 15, 0);
        put_varint(&mut record, 1);
        put_key(&mut record, 20, 1);
        record.extend_from_slice(&[0; 8]);
        // A group with a nested group, known to nobody.
        put_key(&mut record, 21, 3);
        put_key(&mut record, 1, 3);
        put_key(&mut record, 2, 0);
        put_varint(&mut record, 7);
        put_key(&mut record, 1, 4);
        put_key(&mut record, 21, 4);

        // prost decodes it, dropping what it does not know.
        let decoded = proto::Dnstap::decode(&record[..]).unwrap();
        assert_eq!(decoded.message.unwrap().r#type, 5);

        let fields = walk(&record).unwrap();
        let unknown: Vec<(&str, u32, u8)> = fields
            .unknown
            .iter()
            .map(|u| (u.within.name(), u.field, u.wire_type))
            .collect();
        assert_eq!(
            unknown,
            vec![
                ("Policy", 9, 5),
                ("Message", 17, 0),
                ("Dnstap", 20, 1),
                ("Dnstap", 21, 3)
            ]
        );
        assert!(fields.has(In::Dnstap, 15));
        assert!(!fields.has(In::Dnstap, 1));
        assert!(fields.has(In::Message, 1));
        assert!(fields.has(In::Message, 15));
        assert!(fields.has(In::Policy, 1));
        assert!(!fields.has(In::Policy, 3));
    }

    #[test]
    fn a_missing_required_type_is_seen() {
        let mut message = Vec::new();
        put_key(&mut message, 6, 0);
        put_varint(&mut message, 53);
        let mut record = Vec::new();
        put_bytes(&mut record, 14, &message);
        let fields = walk(&record).unwrap();
        assert!(!fields.has(In::Dnstap, 15));
        assert!(!fields.has(In::Message, 1));
        assert!(fields.has(In::Message, 6));
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        for bad in [
            &[0x08][..],   // varint missing
            &[0x0a, 5, 1], // length past the end
            &[0x00],       // field 0
            &[0x0e],       // wire type 6
            &[0x0c],       // end group without start
            &[0x0b, 0x14], // mismatched end group
            &[0x0b],       // unterminated group
            &[
                0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1,
            ],
        ] {
            assert!(walk(bad).is_err(), "{bad:?}");
        }
        let deep: Vec<u8> = std::iter::repeat_n(0x0b, 100).collect();
        assert!(walk(&deep).is_err());
        let mut rng = Rng(12345);
        for _ in 0..20_000 {
            let len = (rng.next_u64() % 64) as usize;
            let bytes: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
            let _ = walk(&bytes);
        }
    }
}
