//! Frame Streams: the framing dnstap travels in.
//!
//! All integers are 32-bit big-endian. A data frame is its length (≥ 1)
//! followed by the payload. A control frame is the escape word 0, the length
//! of the control payload, then the payload: a control type and fields; the
//! only field type is CONTENT_TYPE. Unidirectional streams (files) carry
//! START … STOP; bidirectional ones (sockets) add READY, ACCEPT and FINISH.
//!
//! The decoder is a pure function over a byte slice ([`parse_frame`]): it
//! checks every length against a limit before the caller buffers anything,
//! so a hostile peer cannot make a reader allocate by announcing a size.

mod file;
mod frame;
mod reader;

pub use file::StreamFile;
pub use frame::{
    CONTENT_TYPE_LENGTH_MAX, CONTROL_FIELD_CONTENT_TYPE, CONTROL_FRAME_LENGTH_MAX, Control,
    ControlType, DNSTAP_CONTENT_TYPE, Frame, FrameError, control_frame, decode_control,
    encode_control, encode_data, encode_stream, parse_frame,
};
pub use reader::{FrameReader, ReadError, StreamEnd};
