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
//! - [`dns`]: DNS messages in wire format, parsed by NLnet Labs' `domain`
//!   and printed dig-style.
//!
//! Everything here is bounded by its input and never panics on hostile
//! bytes (fuzzed by `fuzz/fuzz_targets/read.rs`).

pub mod dns;
pub mod names;
pub mod pbwalk;
mod record;
mod render;
pub(crate) mod time;

pub use record::Record;
pub use render::{is_query, policy_value_text};

/// How `dnstap-kit read` prints a record (`--format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One line per message, like `dnstap-ldns -q`.
    Text,
    /// Every field, DNS messages decoded dig-style, like `dnstap-ldns -y`.
    Yaml,
    /// One JSON object per line (schema in the README).
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
