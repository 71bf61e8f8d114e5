//! The JetStream API: JSON requests to `$JS.API.…` subjects, answered
//! with JSON that holds either the result or `{"error": {"code",
//! "err_code", "description"}}`.

use std::time::Duration;

use serde_json::{Value, json};

use super::conn::Conn;
use crate::log::LogError;

/// An API request waits this long for its answer (a leader election
/// takes a few seconds).
const API_TIMEOUT: Duration = Duration::from_secs(5);
/// `err_code`s: no such stream, no such consumer.
pub const STREAM_NOT_FOUND: u64 = 10059;
pub const CONSUMER_NOT_FOUND: u64 = 10014;
/// How long the stream remembers a Nats-Msg-Id, so that a batch
/// published again is not stored twice: JetStream's default.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

/// Why an API request failed.
#[derive(Debug)]
pub enum ApiError {
    /// The API answered with an error.
    Api {
        code: u64,
        err_code: u64,
        text: String,
    },
    Log(LogError),
}

impl From<LogError> for ApiError {
    fn from(err: LogError) -> ApiError {
        ApiError::Log(err)
    }
}

impl From<ApiError> for LogError {
    /// A 503 (no leader, no quorum) is worth retrying; other API errors
    /// are not.
    fn from(err: ApiError) -> LogError {
        match err {
            ApiError::Log(err) => err,
            ApiError::Api {
                code: 503, text, ..
            } => LogError::Unavailable(text),
            ApiError::Api { text, .. } => LogError::Refused(text),
        }
    }
}

impl ApiError {
    pub fn is(&self, wanted: u64) -> bool {
        matches!(self, ApiError::Api { err_code, .. } if *err_code == wanted)
    }
}

/// Reads a JSON answer from JetStream: an acknowledgement, an API result.
pub fn answer(subject: &str, status: Option<u16>, payload: &[u8]) -> Result<Value, ApiError> {
    if status == Some(503) {
        return Err(ApiError::Api {
            code: 503,
            err_code: 0,
            text: format!(
                "{subject}: no JetStream answers (is JetStream enabled, the stream there?)"
            ),
        });
    }
    let value: Value = serde_json::from_slice(payload).map_err(|err| {
        LogError::Unavailable(format!("{subject}: an answer that is not JSON: {err}"))
    })?;
    match value.get("error") {
        None => Ok(value),
        Some(error) => Err(ApiError::Api {
            code: error["code"].as_u64().unwrap_or(0),
            err_code: error["err_code"].as_u64().unwrap_or(0),
            text: format!(
                "{subject}: {} ({})",
                error["description"].as_str().unwrap_or("error"),
                error["code"]
            ),
        }),
    }
}

/// Sends `body` to `$JS.API.<api>` and returns the result.
pub fn call(conn: &mut Conn, api: &str, body: &Value) -> Result<Value, ApiError> {
    let subject = format!("$JS.API.{api}");
    let payload = if body.is_null() {
        Vec::new()
    } else {
        body.to_string().into_bytes()
    };
    let msg = conn.request(&subject, &payload, API_TIMEOUT)?;
    answer(&subject, msg.status, &msg.payload)
}

/// Creates stream `name` taking `subject` with `replicas` copies, unless
/// it exists. Returns whether it created it.
pub fn ensure_stream(
    conn: &mut Conn,
    name: &str,
    subject: &str,
    replicas: usize,
) -> Result<bool, ApiError> {
    match call(conn, &format!("STREAM.INFO.{name}"), &Value::Null) {
        Ok(_) => return Ok(false),
        Err(err) if err.is(STREAM_NOT_FOUND) => {}
        Err(err) => return Err(err),
    }
    let config = json!({
        "name": name,
        "subjects": [subject],
        "num_replicas": replicas,
        "storage": "file",
        "retention": "limits",
        "discard": "old",
        "duplicate_window": DUPLICATE_WINDOW.as_nanos() as u64,
    });
    call(conn, &format!("STREAM.CREATE.{name}"), &config)?;
    Ok(true)
}
