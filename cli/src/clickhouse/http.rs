//! ClickHouse's HTTP interface, through `ureq` (blocking, no async
//! runtime, no TLS: a server on loopback or a trusted network, or a TLS
//! terminator in front). What it uses is in ClickHouse since before 18.16:
//! the SQL in the request body or the `query` parameter, settings as URL
//! parameters, `query_id`, HTTP basic authentication, an exception as the
//! body of a non-200 answer.

use std::io;
use std::time::Duration;

use base64::Engine as _;

/// Why a request failed.
#[derive(Debug)]
pub enum Error {
    /// No connection: the request was not sent.
    Refused,
    /// No answer: reset or timed out (the server is down or restarting).
    /// What the request did is not known.
    Unreachable(String),
    /// The server answered with an exception.
    Failed(String),
}

impl Error {
    /// Whether the server may have carried the request out: it was sent
    /// and no answer said what came of it.
    pub fn may_have_run(&self) -> bool {
        matches!(self, Error::Unreachable(_))
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Refused => f.write_str("not reachable: connection refused"),
            Error::Unreachable(why) => write!(f, "not reachable: {why}"),
            Error::Failed(why) => f.write_str(why),
        }
    }
}

/// A ClickHouse server's HTTP interface.
pub struct Server {
    agent: ureq::Agent,
    /// `http://host:port/`
    endpoint: String,
    authorization: Option<String>,
}

/// Below ClickHouse's keep_alive_timeout (3 s by default): an idle
/// connection is dropped here before the server closes it under a request.
const MAX_IDLE: Duration = Duration::from_secs(2);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// A large insert into a loaded server takes seconds; a hung one is given
/// up after this, and its batch tried again (see `export::clickhouse::sender`).
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(300);

impl Server {
    /// `url` is `http://[user[:password]@]host:port[/]`.
    pub fn new(url: &str) -> Result<Server, String> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("{url}: not an http:// URL (https is not supported)"))?;
        let authority = rest.trim_end_matches('/');
        if authority.is_empty() || authority.contains('/') {
            return Err(format!("{url}: expected http://host:port"));
        }
        let (credentials, host) = match authority.rsplit_once('@') {
            Some((credentials, host)) => (Some(credentials), host),
            None => (None, authority),
        };
        let authorization = credentials.map(|credentials| {
            let pair = if credentials.contains(':') {
                credentials.to_string()
            } else {
                format!("{credentials}:")
            };
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(pair)
            )
        });
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_idle_age(MAX_IDLE)
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_recv_response(Some(RESPONSE_TIMEOUT))
            .timeout_recv_body(Some(RESPONSE_TIMEOUT))
            .build()
            .new_agent();
        Ok(Server {
            agent,
            endpoint: format!("http://{host}/"),
            authorization,
        })
    }

    /// Runs `sql` (the request body) with `settings` as URL parameters;
    /// returns the answer's body.
    pub fn query(&self, sql: &str, settings: &[(&str, &str)]) -> Result<String, Error> {
        self.post(settings, sql.as_bytes())
    }

    /// `INSERT … FORMAT RowBinary` of `rows`, with `settings` as URL
    /// parameters (a `query_id`, which the server refuses while a query of
    /// that id still runs).
    pub fn insert(
        &self,
        insert: &str,
        rows: &[u8],
        settings: &[(&str, &str)],
    ) -> Result<(), Error> {
        let mut params = vec![("query", insert)];
        params.extend_from_slice(settings);
        self.post(&params, rows).map(drop)
    }

    fn post(&self, params: &[(&str, &str)], body: &[u8]) -> Result<String, Error> {
        let mut request = self.agent.post(&self.endpoint);
        for (name, value) in params {
            request = request.query(*name, *value);
        }
        if let Some(authorization) = &self.authorization {
            request = request.header("Authorization", authorization);
        }
        let mut response = request.send(body).map_err(unreachable)?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .with_config()
            .limit(u64::MAX)
            .read_to_string()
            .map_err(unreachable)?;
        if status == 200 {
            Ok(text)
        } else {
            Err(Error::Failed(format!("HTTP {status}: {}", text.trim_end())))
        }
    }
}

fn unreachable(err: ureq::Error) -> Error {
    match err {
        ureq::Error::Io(err) if err.kind() == io::ErrorKind::ConnectionRefused => Error::Refused,
        err => Error::Unreachable(err.to_string()),
    }
}

/// A string literal in ClickHouse SQL: quotes and backslashes escaped, and
/// every byte that is not printable ASCII as `\xHH` (the same in 18.16 and
/// current servers).
pub fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    for byte in text.bytes() {
        match byte {
            b'\'' | b'\\' => {
                out.push('\\');
                out.push(byte as char);
            }
            0x20..=0x7e => out.push(byte as char),
            _ => out.push_str(&format!("\\x{byte:02X}")),
        }
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let server = Server::new("http://127.0.0.1:8123").unwrap();
        assert_eq!(server.endpoint, "http://127.0.0.1:8123/");
        assert!(server.authorization.is_none());
        let server = Server::new("http://dnstap:secret@[::1]:8123/").unwrap();
        assert_eq!(server.endpoint, "http://[::1]:8123/");
        // base64("dnstap:secret")
        assert_eq!(
            server.authorization.as_deref(),
            Some("Basic ZG5zdGFwOnNlY3JldA==")
        );
        assert!(Server::new("https://127.0.0.1:8443").is_err());
        assert!(Server::new("http://127.0.0.1:8123/db").is_err());
        assert!(Server::new("http://").is_err());
    }

    #[test]
    fn literals() {
        assert_eq!(quote("a'b\\c"), "'a\\'b\\\\c'");
        assert_eq!(quote("é\n"), "'\\xC3\\xA9\\x0A'");
    }

    #[test]
    fn a_closed_port_refuses_and_ran_nothing() {
        let port = dnstap_testkit::env::closed_port();
        let server = Server::new(&format!("http://127.0.0.1:{port}")).unwrap();
        match server.query("SELECT 1", &[]) {
            Err(err @ Error::Refused) => assert!(!err.may_have_run()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_peer_that_closes_mid_request_may_have_run_it() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let peer = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut head = [0u8; 16];
            std::io::Read::read_exact(&mut stream, &mut head).unwrap();
        });
        let server = Server::new(&format!("http://127.0.0.1:{port}")).unwrap();
        let answer = server.query("SELECT 1", &[]);
        peer.join().unwrap();
        match answer {
            Err(err @ Error::Unreachable(_)) => assert!(err.may_have_run()),
            other => panic!("{other:?}"),
        }
    }
}
