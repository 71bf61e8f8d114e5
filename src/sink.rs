//! Where the log goes: the sink spec.
//!
//! `file:PATH` or a bare path writes a Frame Streams file; `unix:PATH`
//! connects to a collector's unix socket; `tcp:ADDR@PORT` connects to a
//! collector over TCP, ADDR being an IPv4 or IPv6 literal (the convention of
//! Knot's mod-dnstap and Unbound's `dnstap-ip`); `tls:ADDR@PORT` does so
//! inside TLS.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;

use crate::error::Error;

/// Longest unix socket path `sockaddr_un` holds, without the NUL.
const UNIX_PATH_MAX: usize = 107;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SinkSpec {
    File(PathBuf),
    Unix(PathBuf),
    Tcp(SocketAddr),
    Tls(SocketAddr),
}

fn non_empty_path(kind: &str, path: &str) -> Result<PathBuf, Error> {
    if path.is_empty() {
        return Err(Error::invalid(format!("{kind} sink has an empty path")));
    }
    Ok(PathBuf::from(path))
}

fn parse_address(kind: &str, target: &str) -> Result<SocketAddr, Error> {
    let (address, port) = target
        .rsplit_once('@')
        .ok_or_else(|| Error::invalid(format!("{kind} sink '{target}' is not ADDR@PORT")))?;
    let address = address
        .strip_prefix('[')
        .and_then(|a| a.strip_suffix(']'))
        .unwrap_or(address);
    let ip = IpAddr::from_str(address).map_err(|_| {
        Error::invalid(format!(
            "{kind} sink address '{address}' is not an IPv4 or IPv6 literal"
        ))
    })?;
    let port = port
        .parse::<u16>()
        .ok()
        .filter(|&number| number != 0 && port.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| Error::invalid(format!("{kind} sink port '{port}' is not in 1..65535")))?;
    Ok(SocketAddr::new(ip, port))
}

impl FromStr for SinkSpec {
    type Err = Error;

    fn from_str(spec: &str) -> Result<Self, Error> {
        if spec.is_empty() {
            return Err(Error::invalid("the sink spec is empty"));
        }
        if let Some(path) = spec.strip_prefix("file:") {
            return Ok(SinkSpec::File(non_empty_path("file", path)?));
        }
        if let Some(path) = spec.strip_prefix("unix:") {
            if path.len() > UNIX_PATH_MAX {
                return Err(Error::invalid(format!(
                    "unix sink path is {} bytes; sockets allow at most {UNIX_PATH_MAX}",
                    path.len()
                )));
            }
            return Ok(SinkSpec::Unix(non_empty_path("unix", path)?));
        }
        if let Some(target) = spec.strip_prefix("tcp:") {
            return Ok(SinkSpec::Tcp(parse_address("tcp", target)?));
        }
        if let Some(target) = spec.strip_prefix("tls:") {
            return Ok(SinkSpec::Tls(parse_address("tls", target)?));
        }
        // "udp:…" or "tcp6:…" is a mistyped sink rather than a relative file name.
        if let Some((scheme, _)) = spec.split_once(':') {
            if !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(Error::invalid(format!(
                    "unknown sink type '{scheme}:' (use file:, unix:, tcp: or tls:)"
                )));
            }
        }
        Ok(SinkSpec::File(PathBuf::from(spec)))
    }
}

impl fmt::Display for SinkSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SinkSpec::File(path) => write!(f, "file:{}", path.display()),
            SinkSpec::Unix(path) => write!(f, "unix:{}", path.display()),
            SinkSpec::Tcp(addr) => write!(f, "tcp:{}@{}", addr.ip(), addr.port()),
            SinkSpec::Tls(addr) => write!(f, "tls:{}@{}", addr.ip(), addr.port()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(spec: &str) -> Result<SinkSpec, Error> {
        spec.parse()
    }

    fn reason(spec: &str) -> String {
        parse(spec).unwrap_err().to_string()
    }

    #[test]
    fn accepts_every_documented_form() {
        assert_eq!(
            parse("file:/var/log/dnstap.fs"),
            Ok(SinkSpec::File("/var/log/dnstap.fs".into()))
        );
        assert_eq!(
            parse("/var/log/dnstap.fs"),
            Ok(SinkSpec::File("/var/log/dnstap.fs".into()))
        );
        assert_eq!(
            parse("relative.tap"),
            Ok(SinkSpec::File("relative.tap".into()))
        );
        assert_eq!(
            parse("unix:/run/dnstap.sock"),
            Ok(SinkSpec::Unix("/run/dnstap.sock".into()))
        );
        assert_eq!(
            parse("tcp:127.0.0.1@6000"),
            Ok(SinkSpec::Tcp("127.0.0.1:6000".parse().unwrap()))
        );
        assert_eq!(
            parse("tcp:::1@53"),
            Ok(SinkSpec::Tcp("[::1]:53".parse().unwrap()))
        );
        assert_eq!(
            parse("tcp:[::1]@53"),
            Ok(SinkSpec::Tcp("[::1]:53".parse().unwrap()))
        );
        assert_eq!(
            parse("tcp:1.2.3.4@65535").unwrap().to_string(),
            "tcp:1.2.3.4@65535"
        );
        assert_eq!(
            parse("tls:[::1]@853"),
            Ok(SinkSpec::Tls("[::1]:853".parse().unwrap()))
        );
        assert_eq!(
            parse("tls:192.0.2.1@6000").unwrap().to_string(),
            "tls:192.0.2.1@6000"
        );
    }

    #[test]
    fn rejects_with_a_reason() {
        assert!(reason("").contains("empty"));
        assert!(reason("file:").contains("empty path"));
        assert!(reason("unix:").contains("empty path"));
        assert!(reason("tcp:localhost@53").contains("not an IPv4 or IPv6 literal"));
        assert!(reason("tcp:127.0.0.1").contains("ADDR@PORT"));
        assert!(reason("tcp:127.0.0.1@0").contains("1..65535"));
        assert!(reason("tcp:127.0.0.1@65536").contains("1..65535"));
        assert!(reason("tcp:127.0.0.1@+53").contains("1..65535"));
        assert!(reason("tcp:127.0.0.1@").contains("1..65535"));
        assert!(reason("udp:127.0.0.1@53").contains("unknown sink type"));
        assert!(reason("tls:collector.example@6000").contains("tls sink address"));
        assert!(reason("tls:127.0.0.1@0").contains("tls sink port"));
        assert!(reason(&format!("unix:/{}", "x".repeat(200))).contains("at most 107"));
    }
}
