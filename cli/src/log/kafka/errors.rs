//! The protocol's error codes, as the contract's two kinds: worth retrying
//! after finding the leader or coordinator again ([`LogError::Unavailable`]),
//! or not ([`LogError::Refused`]).

use super::wire::Malformed;
use crate::log::LogError;

/// A response of `api` that does not parse: the connection is suspect.
pub fn malformed(api: &str) -> impl Fn(Malformed) -> LogError + '_ {
    move |err| LogError::Unavailable(format!("{api}: {err}"))
}

/// The codes the client acts on.
pub const OFFSET_OUT_OF_RANGE: i16 = 1;
pub const ILLEGAL_GENERATION: i16 = 22;
pub const UNKNOWN_MEMBER_ID: i16 = 25;
pub const REBALANCE_IN_PROGRESS: i16 = 27;
pub const MEMBER_ID_REQUIRED: i16 = 79;

/// The codes this client meets, by name; others are shown by number.
fn name(code: i16) -> &'static str {
    match code {
        OFFSET_OUT_OF_RANGE => "OFFSET_OUT_OF_RANGE",
        2 => "CORRUPT_MESSAGE",
        3 => "UNKNOWN_TOPIC_OR_PARTITION",
        5 => "LEADER_NOT_AVAILABLE",
        6 => "NOT_LEADER_OR_FOLLOWER",
        7 => "REQUEST_TIMED_OUT",
        10 => "MESSAGE_TOO_LARGE",
        13 => "NETWORK_EXCEPTION",
        14 => "COORDINATOR_LOAD_IN_PROGRESS",
        15 => "COORDINATOR_NOT_AVAILABLE",
        16 => "NOT_COORDINATOR",
        17 => "INVALID_TOPIC_EXCEPTION",
        18 => "RECORD_LIST_TOO_LARGE",
        19 => "NOT_ENOUGH_REPLICAS",
        20 => "NOT_ENOUGH_REPLICAS_AFTER_APPEND",
        ILLEGAL_GENERATION => "ILLEGAL_GENERATION",
        UNKNOWN_MEMBER_ID => "UNKNOWN_MEMBER_ID",
        REBALANCE_IN_PROGRESS => "REBALANCE_IN_PROGRESS",
        29 => "TOPIC_AUTHORIZATION_FAILED",
        30 => "GROUP_AUTHORIZATION_FAILED",
        35 => "UNSUPPORTED_VERSION",
        56 => "KAFKA_STORAGE_ERROR",
        MEMBER_ID_REQUIRED => "MEMBER_ID_REQUIRED",
        _ => "",
    }
}

/// Codes that a new leader, a new coordinator or a moment's patience
/// cure (the protocol marks them retriable).
fn retriable(code: i16) -> bool {
    matches!(code, 5 | 6 | 7 | 13 | 14 | 15 | 16 | 19 | 20 | 27 | 56)
}

/// `Ok` for 0, else the error `code` means, about `what`.
pub fn check(code: i16, what: &str) -> Result<(), LogError> {
    if code == 0 {
        return Ok(());
    }
    let why = match name(code) {
        "" => format!("{what}: error {code}"),
        name => format!("{what}: {name} ({code})"),
    };
    Err(if retriable(code) {
        LogError::Unavailable(why)
    } else {
        LogError::Refused(why)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_sort_into_retriable_and_not() {
        assert!(check(0, "x").is_ok());
        assert!(
            matches!(check(6, "p"), Err(LogError::Unavailable(why)) if why == "p: NOT_LEADER_OR_FOLLOWER (6)")
        );
        assert!(matches!(check(3, "t"), Err(LogError::Refused(_))));
        assert!(matches!(check(999, "t"), Err(LogError::Refused(why)) if why == "t: error 999"));
    }
}
