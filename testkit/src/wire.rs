//! Bytes built by hand: DNS names and messages in wire format, protobuf
//! fields one by one (for records prost would not write), and a
//! deterministic generator of "random" input.

// ---------------------------------------------------------------------------
// DNS messages.

/// A message builder for tests.
pub struct Builder(pub Vec<u8>);

impl Builder {
    pub fn new(id: u16, flags: u16, counts: [u16; 4]) -> Builder {
        let mut b = Vec::new();
        b.extend_from_slice(&id.to_be_bytes());
        b.extend_from_slice(&flags.to_be_bytes());
        for c in counts {
            b.extend_from_slice(&c.to_be_bytes());
        }
        Builder(b)
    }

    pub fn name(mut self, name: &str) -> Builder {
        self.0.extend_from_slice(&wire_name(name));
        self
    }

    pub fn bytes(mut self, bytes: &[u8]) -> Builder {
        self.0.extend_from_slice(bytes);
        self
    }

    pub fn u16(self, value: u16) -> Builder {
        self.bytes(&value.to_be_bytes())
    }

    pub fn u32(self, value: u32) -> Builder {
        self.bytes(&value.to_be_bytes())
    }

    /// Type, class, TTL and RDATA after an owner name.
    pub fn rr(self, rtype: u16, class: u16, ttl: u32, rdata: &[u8]) -> Builder {
        self.u16(rtype)
            .u16(class)
            .u32(ttl)
            .u16(rdata.len() as u16)
            .bytes(rdata)
    }
}

pub fn wire_name(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for label in name.split('.').filter(|l| !l.is_empty()) {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out
}

/// example.com. A query, with a compressed answer and an OPT record.
pub fn response() -> Vec<u8> {
    Builder::new(0x1234, 0x8180, [1, 2, 1, 1])
        .name("www.example.com")
        .u16(1)
        .u16(1)
        // answer 1: CNAME via pointer to the question name (offset 12)
        .bytes(&[0xc0, 12])
        .rr(5, 1, 300, &[3, b'w', b'e', b'b', 0xc0, 16])
        // answer 2: A at web.example.com (offset 12 + 17 + 4 + 12 = 45)
        .bytes(&[0xc0, 45])
        .rr(1, 1, 300, &[192, 0, 2, 1])
        // authority: SOA
        .bytes(&[0xc0, 16])
        .rr(
            6,
            1,
            3600,
            &[
                &[2, b'n', b's', 0xc0, 16][..],
                &[4, b'h', b'o', b's', b't', 0xc0, 16],
                &1u32.to_be_bytes(),
                &2u32.to_be_bytes(),
                &3u32.to_be_bytes(),
                &4u32.to_be_bytes(),
                &5u32.to_be_bytes(),
            ]
            .concat(),
        )
        // OPT: udp 1232, DO, a cookie
        .bytes(&[0])
        .rr(
            41,
            1232,
            0x0000_8000,
            &[0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8],
        )
        .0
}

/// An UPDATE of example.com. (RFC 2136): a prerequisite without RDATA
/// (class ANY: the RRset exists) and the deletion of one record (class
/// NONE, with its RDATA).
pub fn update() -> Vec<u8> {
    Builder::new(7, 0x2800, [1, 1, 1, 0])
        .name("example.com")
        .u16(6)
        .u16(1)
        .name("www.example.com")
        .rr(1, 255, 0, &[])
        .name("www.example.com")
        .rr(1, 254, 0, &[192, 0, 2, 1])
        .0
}

// ---------------------------------------------------------------------------
// Protobuf, field by field (for records prost would not write).

pub fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

pub fn put_key(out: &mut Vec<u8>, field: u32, wire_type: u8) {
    put_varint(out, (u64::from(field) << 3) | u64::from(wire_type));
}

pub fn put_uint(out: &mut Vec<u8>, field: u32, value: u64) {
    put_key(out, field, 0);
    put_varint(out, value);
}

pub fn put_bytes(out: &mut Vec<u8>, field: u32, value: &[u8]) {
    put_key(out, field, 2);
    put_varint(out, value.len() as u64);
    out.extend_from_slice(value);
}

// ---------------------------------------------------------------------------

/// A small xorshift generator: deterministic "random" input.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}
