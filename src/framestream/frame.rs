//! Frames: control frames and their fields, data frames, the encoder and
//! the decoder ([`parse_frame`], a pure function over a byte slice).

use std::fmt;

/// The content type of dnstap payloads.
pub const DNSTAP_CONTENT_TYPE: &[u8] = b"protobuf:dnstap.Dnstap";
/// Largest control payload a conforming reader accepts.
pub const CONTROL_FRAME_LENGTH_MAX: usize = 512;
/// Largest content-type field.
pub const CONTENT_TYPE_LENGTH_MAX: usize = 256;
/// Control field carrying a content type.
pub const CONTROL_FIELD_CONTENT_TYPE: u32 = 0x01;

/// Control frame types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ControlType {
    Accept,
    Start,
    Stop,
    Ready,
    Finish,
    /// A type this implementation does not know; readers ignore it in the data phase.
    Unknown(u32),
}

impl ControlType {
    pub fn to_wire(self) -> u32 {
        match self {
            ControlType::Accept => 0x01,
            ControlType::Start => 0x02,
            ControlType::Stop => 0x03,
            ControlType::Ready => 0x04,
            ControlType::Finish => 0x05,
            ControlType::Unknown(value) => value,
        }
    }

    pub fn from_wire(value: u32) -> ControlType {
        match value {
            0x01 => ControlType::Accept,
            0x02 => ControlType::Start,
            0x03 => ControlType::Stop,
            0x04 => ControlType::Ready,
            0x05 => ControlType::Finish,
            other => ControlType::Unknown(other),
        }
    }

    /// How many content-type fields this type may carry.
    fn max_content_types(self) -> usize {
        match self {
            ControlType::Start => 1,
            ControlType::Stop | ControlType::Finish => 0,
            ControlType::Accept | ControlType::Ready | ControlType::Unknown(_) => usize::MAX,
        }
    }
}

/// A decoded control frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Control {
    pub kind: ControlType,
    pub content_types: Vec<Vec<u8>>,
}

impl Control {
    /// Whether this frame admits `content_type`. As in libfstrm, a frame with
    /// no content-type field matches any type.
    pub fn matches(&self, content_type: &[u8]) -> bool {
        self.content_types.is_empty() || self.content_types.iter().any(|t| t == content_type)
    }
}

/// One frame borrowed from the input.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    Data(&'a [u8]),
    Control(Control),
}

/// What is wrong with a stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FrameError {
    DataFrameTooLarge { length: usize, max: usize },
    ControlFrameTooLarge { length: usize },
    ControlFrameTooShort { length: usize },
    ContentTypeTooLarge { length: usize },
    FieldOverrun,
    TooManyContentTypes(ControlType),
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::DataFrameTooLarge { length, max } => {
                write!(f, "data frame of {length} bytes exceeds the limit of {max}")
            }
            FrameError::ControlFrameTooLarge { length } => write!(
                f,
                "control frame of {length} bytes exceeds the limit of {CONTROL_FRAME_LENGTH_MAX}"
            ),
            FrameError::ControlFrameTooShort { length } => {
                write!(f, "control frame of {length} bytes has no type")
            }
            FrameError::ContentTypeTooLarge { length } => write!(
                f,
                "content type of {length} bytes exceeds the limit of {CONTENT_TYPE_LENGTH_MAX}"
            ),
            FrameError::FieldOverrun => write!(f, "control field runs past the end of its frame"),
            FrameError::TooManyContentTypes(kind) => {
                write!(f, "{kind:?} control frame carries too many content types")
            }
        }
    }
}

impl std::error::Error for FrameError {}

fn be32(bytes: &[u8]) -> u32 {
    u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

/// Appends a control frame to `out`.
pub fn encode_control(kind: ControlType, content_types: &[&[u8]], out: &mut Vec<u8>) {
    let payload_len: usize = 4 + content_types.iter().map(|t| 8 + t.len()).sum::<usize>();
    out.extend_from_slice(&0u32.to_be_bytes());
    out.extend_from_slice(&(payload_len as u32).to_be_bytes());
    out.extend_from_slice(&kind.to_wire().to_be_bytes());
    for content_type in content_types {
        out.extend_from_slice(&CONTROL_FIELD_CONTENT_TYPE.to_be_bytes());
        out.extend_from_slice(&(content_type.len() as u32).to_be_bytes());
        out.extend_from_slice(content_type);
    }
}

/// A control frame as a new buffer.
pub fn control_frame(kind: ControlType, content_types: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(CONTROL_FRAME_LENGTH_MAX);
    encode_control(kind, content_types, &mut out);
    out
}

/// Decodes a control payload (the bytes after the escape and length words).
/// Unknown field types are skipped, for forward compatibility.
pub fn decode_control(payload: &[u8]) -> Result<Control, FrameError> {
    if payload.len() > CONTROL_FRAME_LENGTH_MAX {
        return Err(FrameError::ControlFrameTooLarge {
            length: payload.len(),
        });
    }
    if payload.len() < 4 {
        return Err(FrameError::ControlFrameTooShort {
            length: payload.len(),
        });
    }
    let kind = ControlType::from_wire(be32(payload));
    let mut content_types = Vec::new();
    let mut rest = &payload[4..];
    while !rest.is_empty() {
        if rest.len() < 8 {
            return Err(FrameError::FieldOverrun);
        }
        let field_type = be32(rest);
        let field_len = be32(&rest[4..]) as usize;
        let value = rest.get(8..8 + field_len).ok_or(FrameError::FieldOverrun)?;
        if field_type == CONTROL_FIELD_CONTENT_TYPE {
            if field_len > CONTENT_TYPE_LENGTH_MAX {
                return Err(FrameError::ContentTypeTooLarge { length: field_len });
            }
            content_types.push(value.to_vec());
        }
        rest = &rest[8 + field_len..];
    }
    if content_types.len() > kind.max_content_types() {
        return Err(FrameError::TooManyContentTypes(kind));
    }
    Ok(Control {
        kind,
        content_types,
    })
}

/// Parses the frame at the start of `input`.
///
/// Returns `Ok(None)` when `input` holds only part of a frame (read more and
/// call again), or the frame and the number of bytes it occupies. A length
/// above `max_data` (data) or [`CONTROL_FRAME_LENGTH_MAX`] (control) is an
/// error as soon as the length word is in: the caller never needs to buffer
/// more than `max_data + 4` bytes.
pub fn parse_frame(
    input: &[u8],
    max_data: usize,
) -> Result<Option<(Frame<'_>, usize)>, FrameError> {
    if input.len() < 4 {
        return Ok(None);
    }
    let length = be32(input) as usize;
    if length != 0 {
        if length > max_data {
            return Err(FrameError::DataFrameTooLarge {
                length,
                max: max_data,
            });
        }
        return Ok(input
            .get(4..4 + length)
            .map(|payload| (Frame::Data(payload), 4 + length)));
    }
    if input.len() < 8 {
        return Ok(None);
    }
    let control_len = be32(&input[4..]) as usize;
    if control_len > CONTROL_FRAME_LENGTH_MAX {
        return Err(FrameError::ControlFrameTooLarge {
            length: control_len,
        });
    }
    match input.get(8..8 + control_len) {
        None => Ok(None),
        Some(payload) => Ok(Some((
            Frame::Control(decode_control(payload)?),
            8 + control_len,
        ))),
    }
}

/// Appends a data frame (its length word, then `payload`) to `out`.
pub fn encode_data(payload: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
}

/// A whole unidirectional stream in memory, as a file holds it: START with
/// `content_type`, a data frame per payload, then STOP if `stop` (without
/// it, a stream that was cut short).
pub fn encode_stream<'a>(
    content_type: &[u8],
    payloads: impl IntoIterator<Item = &'a [u8]>,
    stop: bool,
) -> Vec<u8> {
    let mut out = control_frame(ControlType::Start, &[content_type]);
    for payload in payloads {
        encode_data(payload, &mut out);
    }
    if stop {
        encode_control(ControlType::Stop, &[], &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const START_HEX: &str = "00000000 00000022 00000002 00000001 00000016";
    const STOP_HEX: &str = "00000000 00000004 00000003";

    fn hex(text: &str) -> Vec<u8> {
        let digits: String = text.split_whitespace().collect();
        (0..digits.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn start_frame_is_byte_exact() {
        let mut expected = hex(START_HEX);
        expected.extend_from_slice(b"protobuf:dnstap.Dnstap");
        let frame = control_frame(ControlType::Start, &[DNSTAP_CONTENT_TYPE]);
        assert_eq!(frame, expected);
        assert_eq!(frame.len(), 42);
    }

    #[test]
    fn stop_frame_is_byte_exact() {
        assert_eq!(control_frame(ControlType::Stop, &[]), hex(STOP_HEX));
    }

    #[test]
    fn control_frames_round_trip() {
        for kind in [
            ControlType::Accept,
            ControlType::Start,
            ControlType::Ready,
            ControlType::Stop,
            ControlType::Finish,
        ] {
            let types: &[&[u8]] = match kind {
                ControlType::Stop | ControlType::Finish => &[],
                _ => &[DNSTAP_CONTENT_TYPE],
            };
            let frame = control_frame(kind, types);
            let (parsed, used) = parse_frame(&frame, 0).unwrap().unwrap();
            assert_eq!(used, frame.len());
            let Frame::Control(control) = parsed else {
                panic!("not a control frame")
            };
            assert_eq!(control.kind, kind);
            assert_eq!(control.content_types.len(), types.len());
        }
    }

    #[test]
    fn partial_input_asks_for_more() {
        let frame = control_frame(ControlType::Start, &[DNSTAP_CONTENT_TYPE]);
        for cut in 0..frame.len() {
            assert_eq!(parse_frame(&frame[..cut], 0), Ok(None), "cut at {cut}");
        }
        let mut data = vec![0, 0, 0, 3, b'a', b'b'];
        assert_eq!(parse_frame(&data, 10), Ok(None));
        data.push(b'c');
        assert_eq!(parse_frame(&data, 10), Ok(Some((Frame::Data(b"abc"), 7))));
    }

    #[test]
    fn lengths_are_checked_before_buffering() {
        let huge = [0xff, 0xff, 0xff, 0xff];
        assert!(matches!(
            parse_frame(&huge, 1024),
            Err(FrameError::DataFrameTooLarge {
                length: 0xffff_ffff,
                max: 1024
            })
        ));
        let control = hex("00000000 00000201");
        assert_eq!(
            parse_frame(&control, 1024),
            Err(FrameError::ControlFrameTooLarge { length: 513 })
        );
    }

    #[test]
    fn malformed_control_payloads_are_rejected() {
        assert!(matches!(
            decode_control(&[0, 0]),
            Err(FrameError::ControlFrameTooShort { .. })
        ));
        let overrun = hex("00000002 00000001 000000ff 41");
        assert_eq!(decode_control(&overrun), Err(FrameError::FieldOverrun));
        let two_starts = control_frame(ControlType::Start, &[b"a", b"b"]);
        assert_eq!(
            decode_control(&two_starts[8..]),
            Err(FrameError::TooManyContentTypes(ControlType::Start))
        );
        let stop_with_type = control_frame(ControlType::Stop, &[b"a"]);
        assert!(decode_control(&stop_with_type[8..]).is_err());
    }

    #[test]
    fn unknown_fields_are_skipped() {
        let payload = hex("00000004 00000009 00000002 abcd 00000001 00000001 41");
        let control = decode_control(&payload).unwrap();
        assert_eq!(control.kind, ControlType::Ready);
        assert_eq!(control.content_types, vec![b"A".to_vec()]);
    }

    #[test]
    fn empty_accept_matches_anything() {
        let accept = decode_control(&control_frame(ControlType::Accept, &[])[8..]).unwrap();
        assert!(accept.matches(DNSTAP_CONTENT_TYPE));
        let other = decode_control(&control_frame(ControlType::Accept, &[b"x"])[8..]).unwrap();
        assert!(!other.matches(DNSTAP_CONTENT_TYPE));
    }
}
