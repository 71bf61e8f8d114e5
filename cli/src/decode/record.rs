//! A `Dnstap` record decoded: prost's types, plus the raw field walk for
//! what prost cannot tell.

use prost::Message as _;

use super::pbwalk::{self, In};
use dnstap::proto;

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
