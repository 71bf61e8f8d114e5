//! The schema's names for enum values (`Dnstap.Type`, `Message.Type`,
//! `SocketFamily`, `SocketProtocol`, `HttpProtocol`, `Policy.Action`,
//! `Policy.Match`): the name, or `None` for a value the schema does not
//! define (a newer writer, or garbage), which callers print as a number.

use std::borrow::Cow;

use dnstap::proto;

/// Names of an enum's values: the schema's name, or None.
pub type EnumNames = fn(i32) -> Option<&'static str>;

/// The schema's name of `value`, or the number when it has none.
pub fn name_or_number(value: i32, names: EnumNames) -> Cow<'static, str> {
    match names(value) {
        Some(name) => Cow::Borrowed(name),
        None => Cow::Owned(value.to_string()),
    }
}

pub fn dnstap_type_name(value: i32) -> Option<&'static str> {
    proto::dnstap::Type::try_from(value)
        .ok()
        .map(|v| v.as_str_name())
}

pub fn message_type_name(value: i32) -> Option<&'static str> {
    proto::message::Type::try_from(value)
        .ok()
        .map(|v| v.as_str_name())
}

pub fn socket_family_name(value: i32) -> Option<&'static str> {
    proto::SocketFamily::try_from(value)
        .ok()
        .map(|v| v.as_str_name())
}

pub fn socket_protocol_name(value: i32) -> Option<&'static str> {
    proto::SocketProtocol::try_from(value)
        .ok()
        .map(|v| v.as_str_name())
}

pub fn http_protocol_name(value: i32) -> Option<&'static str> {
    proto::HttpProtocol::try_from(value)
        .ok()
        .map(|v| v.as_str_name())
}

pub fn policy_action_name(value: i32) -> Option<&'static str> {
    proto::policy::Action::try_from(value)
        .ok()
        .map(|v| v.as_str_name())
}

pub fn policy_match_name(value: i32) -> Option<&'static str> {
    proto::policy::Match::try_from(value)
        .ok()
        .map(|v| v.as_str_name())
}
