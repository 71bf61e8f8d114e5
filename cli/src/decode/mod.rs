//! Reading dnstap: a `Dnstap` protobuf payload (one Frame Streams data
//! frame) decoded into a [`Record`] and printed as one line of text, YAML
//! or JSON ([`Format`]), as `dnstap-kit read` does; the pieces `dnstap-kit
//! check` builds on.
//!
//! - [`Record`]: prost's decoding, plus the raw field walk ([`pbwalk`])
//!   for what prost cannot tell (unknown fields, required fields left out).
//! - [`render()`] and [`Format::write`]: the three renderings (formats in
//!   the README: "The `dnstap-kit` tool", "JSON schema").
//! - [`names`]: the schema's names for enum values.
//! - [`dns`]: DNS messages in wire format, parsed and printed dig-style.
//!
//! Everything here is bounded by its input and never panics on hostile
//! bytes (fuzzed by `fuzz/fuzz_targets/read.rs`).

pub mod dns;
pub mod names;
pub mod pbwalk;
mod render;
mod time;

use prost::Message as _;

use dnstap::proto;
use pbwalk::In;

/// A `Dnstap` record as prost decodes it, plus what prost cannot tell:
/// unknown fields and whether required fields are present.
pub struct Record {
    pub dnstap: proto::Dnstap,
    pub fields: pbwalk::Fields,
}

impl Record {
    /// Decodes one `Dnstap` protobuf; an error when prost rejects it.
    pub fn decode(payload: &[u8]) -> Result<Record, prost::DecodeError> {
        let dnstap = proto::Dnstap::decode(payload)?;
        // prost accepted the bytes, so the walk does too; should it not,
        // the record still prints, only without its unknown fields.
        let fields = pbwalk::walk(payload).unwrap_or_default();
        Ok(Record { dnstap, fields })
    }

    /// `Dnstap.type`, if the record carries it.
    pub fn dnstap_type(&self) -> Option<i32> {
        self.fields
            .has(In::Dnstap, 15)
            .then_some(self.dnstap.r#type)
    }

    /// `Message.type`, if the record carries a message with a type.
    pub fn message_type(&self) -> Option<i32> {
        let message = self.dnstap.message.as_ref()?;
        self.fields.has(In::Message, 1).then_some(message.r#type)
    }
}

/// How `dnstap-kit read` prints a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// One line per message, the columns of `dnstap-ldns -q`.
    Text,
    /// Every field, DNS messages decoded dig-style, one document ended by
    /// `---` (the layout of `dnstap-ldns -y`).
    Yaml,
    /// One JSON object on one line.
    Json,
}

impl Format {
    /// Appends `record` to `out` in this format, with its final newline.
    pub fn write(self, out: &mut String, record: &Record) {
        match self {
            Format::Text => render::write_text(out, record),
            Format::Yaml => render::write_yaml(out, record),
            Format::Json => render::write_json(out, record),
        }
    }
}

/// Decodes `payload` (one `Dnstap` protobuf) and appends it to `out` in
/// `format`; on an error `out` is left as it was.
pub fn render(payload: &[u8], format: Format, out: &mut String) -> Result<(), prost::DecodeError> {
    let record = Record::decode(payload)?;
    format.write(out, &record);
    Ok(())
}
