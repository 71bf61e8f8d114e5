//! The key a record is published with (Kafka's partitioning: records of
//! one key stay in order in one partition).

use dnstap::proto;
use prost::Message as _;

use crate::decode::dns;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum KeyChoice {
    /// The dnstap identity: a server's records in order.
    Identity,
    /// The question name, lowercased: a name's records together.
    Qname,
    /// No key: records spread over partitions.
    None,
}

impl KeyChoice {
    /// The key of a dnstap frame; `None` for [`KeyChoice::None`] and for a
    /// frame without what the key is made of.
    pub fn key_of(self, payload: &[u8]) -> Option<Vec<u8>> {
        if self == KeyChoice::None {
            return None;
        }
        let dnstap = proto::Dnstap::decode(payload).ok()?;
        match self {
            KeyChoice::Identity => dnstap.identity,
            KeyChoice::Qname => {
                let message = dnstap.message?;
                let wire = message.query_message.or(message.response_message)?;
                Some(dns::summarize(&wire)?.qname.into_bytes())
            }
            KeyChoice::None => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        let query = [
            0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, b'W', b'w', b'W', 7, b'e', b'x', b'a', b'm',
            b'p', b'l', b'e', 0, 0, 1, 0, 1,
        ];
        let payload = proto::Dnstap {
            identity: Some(b"ns1".to_vec()),
            r#type: proto::dnstap::Type::Message as i32,
            message: Some(proto::Message {
                r#type: proto::message::Type::ClientQuery as i32,
                query_message: Some(query.to_vec()),
                ..Default::default()
            }),
            ..Default::default()
        }
        .encode_to_vec();
        assert_eq!(KeyChoice::Identity.key_of(&payload), Some(b"ns1".to_vec()));
        assert_eq!(
            KeyChoice::Qname.key_of(&payload),
            Some(b"www.example.".to_vec())
        );
        assert_eq!(KeyChoice::None.key_of(&payload), None);
        assert_eq!(KeyChoice::Identity.key_of(b"\xff"), None);
    }
}
