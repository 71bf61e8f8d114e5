//! The NATS client protocol's text framing: the operations a client
//! writes (CONNECT, PUB, HPUB, SUB, PING, PONG) and the ones a server
//! sends (INFO, MSG, HMSG, PING, PONG, +OK, -ERR), each a line ended by
//! CRLF, MSG and HMSG followed by their payload and a CRLF.

/// A message delivered to one of our subscriptions.
#[derive(Debug, PartialEq, Eq)]
pub struct Msg {
    pub subject: String,
    pub reply: Option<String>,
    /// The status of a headers-only status message (`NATS/1.0 404 …`):
    /// JetStream's way to say a pull ended, or that nobody listens (503).
    pub status: Option<u16>,
    /// The status line's words after the code.
    pub description: String,
    pub payload: Vec<u8>,
}

/// One operation from the server.
#[derive(Debug, PartialEq, Eq)]
pub enum Op {
    Info(String),
    Msg(Msg),
    Ping,
    Pong,
    Ok,
    Err(String),
}

/// Parses the operation at the start of `buf`: `Ok(None)` while it is
/// incomplete, else the operation and how many bytes it took.
pub fn parse(buf: &[u8]) -> Result<Option<(Op, usize)>, String> {
    let Some(end) = buf.windows(2).position(|w| w == b"\r\n") else {
        return Ok(None);
    };
    let line = std::str::from_utf8(&buf[..end]).map_err(|_| "a line that is not UTF-8")?;
    let after = end + 2;
    let (verb, rest) = line.split_once([' ', '\t']).unwrap_or((line, ""));
    let simple = |op| Ok(Some((op, after)));
    match verb.to_ascii_uppercase().as_str() {
        "PING" => simple(Op::Ping),
        "PONG" => simple(Op::Pong),
        "+OK" => simple(Op::Ok),
        "-ERR" => simple(Op::Err(rest.trim().trim_matches('\'').to_string())),
        "INFO" => simple(Op::Info(rest.trim().to_string())),
        "MSG" | "HMSG" => {
            let headers = verb.eq_ignore_ascii_case("HMSG");
            let args: Vec<&str> = rest.split_whitespace().collect();
            let counts = if headers { 2 } else { 1 };
            if args.len() != 2 + counts && args.len() != 3 + counts {
                return Err(format!("malformed {line:?}"));
            }
            let number = |text: &str| {
                text.parse::<usize>()
                    .map_err(|_| format!("malformed {line:?}"))
            };
            let total = number(args[args.len() - 1])?;
            let header_len = if headers {
                number(args[args.len() - 2])?
            } else {
                0
            };
            if header_len > total {
                return Err(format!("malformed {line:?}"));
            }
            if buf.len() < after + total + 2 {
                return Ok(None);
            }
            let reply = (args.len() == 3 + counts).then(|| args[2].to_string());
            let block = &buf[after..after + header_len];
            let (status, description) = status_of(block);
            let msg = Msg {
                subject: args[0].to_string(),
                reply,
                status,
                description,
                payload: buf[after + header_len..after + total].to_vec(),
            };
            Ok(Some((Op::Msg(msg), after + total + 2)))
        }
        _ => Err(format!("unknown operation {line:?}")),
    }
}

/// The status code and description of a header block's first line
/// (`NATS/1.0 408 Request Timeout`), if it has one.
fn status_of(block: &[u8]) -> (Option<u16>, String) {
    let first = block.split(|&b| b == b'\r').next().unwrap_or_default();
    let first = String::from_utf8_lossy(first);
    let mut words = first.splitn(3, ' ').skip(1);
    let status = words.next().and_then(|code| code.trim().parse().ok());
    (status, words.next().unwrap_or("").trim().to_string())
}

/// CONNECT: no +OK per operation, headers (for Nats-Msg-Id and statuses),
/// and a 503 status instead of silence for a request nobody listens to.
pub fn connect(out: &mut Vec<u8>) {
    let options = serde_json::json!({
        "verbose": false,
        "pedantic": false,
        "lang": "rust",
        "version": env!("CARGO_PKG_VERSION"),
        "name": "dnstap-kit",
        "protocol": 1,
        "headers": true,
        "no_responders": true,
    });
    out.extend_from_slice(format!("CONNECT {options}\r\n").as_bytes());
}

pub fn sub(out: &mut Vec<u8>, subject: &str, sid: u64) {
    out.extend_from_slice(format!("SUB {subject} {sid}\r\n").as_bytes());
}

/// PUB, or HPUB when there are headers.
pub fn publish(
    out: &mut Vec<u8>,
    subject: &str,
    reply: Option<&str>,
    headers: &[(&str, &str)],
    payload: &[u8],
) {
    let reply = reply.map_or(String::new(), |reply| format!(" {reply}"));
    if headers.is_empty() {
        out.extend_from_slice(format!("PUB {subject}{reply} {}\r\n", payload.len()).as_bytes());
    } else {
        let mut block = String::from("NATS/1.0\r\n");
        for (name, value) in headers {
            block.push_str(&format!("{name}: {value}\r\n"));
        }
        block.push_str("\r\n");
        let total = block.len() + payload.len();
        out.extend_from_slice(
            format!("HPUB {subject}{reply} {} {total}\r\n", block.len()).as_bytes(),
        );
        out.extend_from_slice(block.as_bytes());
    }
    out.extend_from_slice(payload);
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(bytes: &[u8]) -> Op {
        let (op, used) = parse(bytes).unwrap().unwrap();
        assert_eq!(used, bytes.len());
        op
    }

    #[test]
    fn server_operations() {
        assert_eq!(one(b"PING\r\n"), Op::Ping);
        assert_eq!(one(b"+OK\r\n"), Op::Ok);
        assert_eq!(
            one(b"-ERR 'Authorization Violation'\r\n"),
            Op::Err("Authorization Violation".into())
        );
        assert_eq!(one(b"INFO {\"a\":1}\r\n"), Op::Info("{\"a\":1}".into()));
        let Op::Msg(msg) = one(b"MSG s.x 1 r.y 3\r\nabc\r\n") else {
            panic!()
        };
        assert_eq!(
            (msg.subject.as_str(), msg.reply.as_deref(), &msg.payload[..]),
            ("s.x", Some("r.y"), &b"abc"[..])
        );
        let Op::Msg(msg) = one(b"HMSG i.1 1 28 28\r\nNATS/1.0 404 No Messages\r\n\r\n\r\n") else {
            panic!()
        };
        assert_eq!(
            (msg.status, msg.description.as_str()),
            (Some(404), "No Messages")
        );
        assert!(msg.payload.is_empty() && msg.reply.is_none());
        let Op::Msg(msg) = one(b"HMSG i 1 r 12 14\r\nNATS/1.0\r\n\r\nhi\r\n") else {
            panic!()
        };
        assert_eq!((msg.status, &msg.payload[..]), (None, &b"hi"[..]));
    }

    #[test]
    fn incomplete_and_bad_input() {
        assert_eq!(parse(b"PIN").unwrap(), None);
        assert_eq!(parse(b"MSG s 1 5\r\nab").unwrap(), None);
        assert!(parse(b"WHAT\r\n").is_err());
        assert!(parse(b"MSG s\r\n").is_err());
    }

    #[test]
    fn publishing() {
        let mut out = Vec::new();
        publish(&mut out, "s", Some("r"), &[], b"ab");
        publish(&mut out, "s", None, &[("Nats-Msg-Id", "7")], b"c");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "PUB s r 2\r\nab\r\nHPUB s 28 29\r\nNATS/1.0\r\nNats-Msg-Id: 7\r\n\r\nc\r\n"
        );
    }
}
