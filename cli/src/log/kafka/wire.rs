//! The Kafka protocol's primitive types (big-endian integers, strings and
//! byte arrays with a length prefix, arrays with a count) and the record
//! format's zigzag varints. Only the non-flexible ("classic") encodings:
//! every request version this client uses predates tagged fields.

use std::fmt;

/// A response that does not parse: too short, a negative length where
/// none may be.
#[derive(Debug, PartialEq, Eq)]
pub struct Malformed(pub &'static str);

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed response: {}", self.0)
    }
}

/// Appends protocol values to a buffer.
#[derive(Default)]
pub struct Writer {
    pub buf: Vec<u8>,
}

impl Writer {
    pub fn i8(&mut self, v: i8) -> &mut Self {
        self.buf.push(v as u8);
        self
    }

    pub fn i16(&mut self, v: i16) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    pub fn i32(&mut self, v: i32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    pub fn i64(&mut self, v: i64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// STRING: an int16 length, then UTF-8.
    pub fn string(&mut self, s: &str) -> &mut Self {
        self.i16(s.len() as i16);
        self.buf.extend_from_slice(s.as_bytes());
        self
    }

    /// NULLABLE_STRING's null: length -1.
    pub fn null_string(&mut self) -> &mut Self {
        self.i16(-1)
    }

    /// BYTES / RECORDS: an int32 length, then the bytes.
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.i32(b.len() as i32);
        self.buf.extend_from_slice(b);
        self
    }

    /// ARRAY: an int32 count, then each element written by `each`.
    pub fn array<T>(&mut self, items: &[T], mut each: impl FnMut(&mut Self, &T)) -> &mut Self {
        self.i32(items.len() as i32);
        for item in items {
            each(self, item);
        }
        self
    }

    /// The record format's signed varint (zigzag, 7 bits a byte).
    pub fn varint(&mut self, v: i64) -> &mut Self {
        let mut z = ((v << 1) ^ (v >> 63)) as u64;
        while z >= 0x80 {
            self.buf.push((z as u8) | 0x80);
            z >>= 7;
        }
        self.buf.push(z as u8);
        self
    }

    /// A varint length then the bytes, or -1 for none.
    pub fn varbytes(&mut self, b: Option<&[u8]>) -> &mut Self {
        match b {
            Some(b) => {
                self.varint(b.len() as i64);
                self.buf.extend_from_slice(b);
            }
            None => {
                self.varint(-1);
            }
        }
        self
    }
}

/// Reads protocol values from a response.
pub struct Reader<'a> {
    pub rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { rest: bytes }
    }

    pub fn take(&mut self, n: usize) -> Result<&'a [u8], Malformed> {
        if self.rest.len() < n {
            return Err(Malformed("truncated"));
        }
        let (head, rest) = self.rest.split_at(n);
        self.rest = rest;
        Ok(head)
    }

    fn array_of<const N: usize>(&mut self) -> Result<[u8; N], Malformed> {
        Ok(self.take(N)?.try_into().expect("N bytes"))
    }

    pub fn i8(&mut self) -> Result<i8, Malformed> {
        Ok(self.array_of::<1>()?[0] as i8)
    }

    pub fn i16(&mut self) -> Result<i16, Malformed> {
        self.array_of().map(i16::from_be_bytes)
    }

    pub fn i32(&mut self) -> Result<i32, Malformed> {
        self.array_of().map(i32::from_be_bytes)
    }

    pub fn i64(&mut self) -> Result<i64, Malformed> {
        self.array_of().map(i64::from_be_bytes)
    }

    pub fn u32(&mut self) -> Result<u32, Malformed> {
        self.array_of().map(u32::from_be_bytes)
    }

    /// A NULLABLE_STRING (`None` for null); STRING reads the same way.
    pub fn string(&mut self) -> Result<Option<String>, Malformed> {
        let len = self.i16()?;
        if len < 0 {
            return Ok(None);
        }
        let bytes = self.take(len as usize)?;
        Ok(Some(String::from_utf8_lossy(bytes).into_owned()))
    }

    /// NULLABLE_BYTES / RECORDS (`None` for null).
    pub fn bytes(&mut self) -> Result<Option<&'a [u8]>, Malformed> {
        let len = self.i32()?;
        if len < 0 {
            return Ok(None);
        }
        self.take(len as usize).map(Some)
    }

    /// An ARRAY's count; a null array (-1) reads as empty.
    pub fn count(&mut self) -> Result<usize, Malformed> {
        let n = self.i32()?;
        // Each element takes at least a byte: a count beyond the rest is
        // a corrupt response, not a reason to allocate.
        if n > 0 && n as usize > self.rest.len() {
            return Err(Malformed("array count beyond the response"));
        }
        Ok(n.max(0) as usize)
    }

    /// An ARRAY, each element read by `each`.
    pub fn array<T>(
        &mut self,
        mut each: impl FnMut(&mut Self) -> Result<T, Malformed>,
    ) -> Result<Vec<T>, Malformed> {
        let n = self.count()?;
        (0..n).map(|_| each(self)).collect()
    }

    /// The `[topic [partition]]` arrays of every per-partition response:
    /// each topic's name and its partitions, each read by `each`.
    pub fn topics<T>(
        &mut self,
        mut each: impl FnMut(&mut Self) -> Result<T, Malformed>,
    ) -> Result<Vec<(String, Vec<T>)>, Malformed> {
        self.array(|r| {
            let name = r.string()?.unwrap_or_default();
            Ok((name, r.array(&mut each)?))
        })
    }

    pub fn varint(&mut self) -> Result<i64, Malformed> {
        let mut z: u64 = 0;
        for shift in (0..70).step_by(7) {
            let byte = self.i8()? as u8;
            z |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok((z >> 1) as i64 ^ -((z & 1) as i64));
            }
        }
        Err(Malformed("varint longer than 10 bytes"))
    }

    /// A varint length then the bytes; `None` for -1.
    pub fn varbytes(&mut self) -> Result<Option<&'a [u8]>, Malformed> {
        let len = self.varint()?;
        if len < 0 {
            return Ok(None);
        }
        let len = usize::try_from(len).map_err(|_| Malformed("length"))?;
        self.take(len).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classic_types_are_big_endian_with_length_prefixes() {
        let mut w = Writer::default();
        w.i16(1)
            .i32(-2)
            .string("ab")
            .null_string()
            .bytes(b"xyz")
            .array(&[7i32], |w, v| {
                w.i32(*v);
            });
        assert_eq!(
            w.buf,
            [
                0, 1, 0xff, 0xff, 0xff, 0xfe, 0, 2, b'a', b'b', 0xff, 0xff, 0, 0, 0, 3, b'x', b'y',
                b'z', 0, 0, 0, 1, 0, 0, 0, 7
            ]
        );
        let mut r = Reader::new(&w.buf);
        assert_eq!(r.i16(), Ok(1));
        assert_eq!(r.i32(), Ok(-2));
        assert_eq!(r.string(), Ok(Some("ab".into())));
        assert_eq!(r.string(), Ok(None));
        assert_eq!(r.bytes(), Ok(Some(&b"xyz"[..])));
        assert_eq!(r.array(|r| r.i32()), Ok(vec![7]));
        assert_eq!(r.i8(), Err(Malformed("truncated")));
    }

    #[test]
    fn varints_are_zigzag() {
        // The protocol guide's examples: 0 → 00, -1 → 01, 1 → 02, -2 → 03,
        // 63 → 7e, -64 → 7f, 64 → 80 01, 300 → d8 04.
        for (v, bytes) in [
            (0i64, &[0x00u8][..]),
            (-1, &[0x01]),
            (1, &[0x02]),
            (-2, &[0x03]),
            (63, &[0x7e]),
            (-64, &[0x7f]),
            (64, &[0x80, 0x01]),
            (300, &[0xd8, 0x04]),
        ] {
            let mut w = Writer::default();
            w.varint(v);
            assert_eq!(w.buf, bytes, "{v}");
            assert_eq!(Reader::new(bytes).varint(), Ok(v));
        }
        let mut w = Writer::default();
        w.varint(i64::MIN).varint(i64::MAX);
        let mut r = Reader::new(&w.buf);
        assert_eq!((r.varint(), r.varint()), (Ok(i64::MIN), Ok(i64::MAX)));
        assert!(Reader::new(&[0xff; 11]).varint().is_err());
    }

    #[test]
    fn a_count_beyond_the_response_is_malformed() {
        assert!(Reader::new(&[0x7f, 0, 0, 0]).count().is_err());
        assert_eq!(Reader::new(&[0xff, 0xff, 0xff, 0xff]).count(), Ok(0));
    }
}
