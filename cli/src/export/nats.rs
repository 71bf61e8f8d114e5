//! `dnstap-kit export nats`: one JetStream message per dnstap frame on a
//! subject, through the shared log export (`export::log`). Each record
//! carries a `Nats-Msg-Id`, so a batch published again is not stored
//! twice within the stream's duplicate window.

use super::log::{self, KeyChoice};
use crate::exit;
use crate::log::nats::NatsProducer;
use crate::log::parse_servers;
use crate::report::report;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub export: log::ExportArgs,
    /// The servers: `nats://ADDR:PORT[,ADDR:PORT…]` (any one will do; the
    /// next is tried when one does not answer).
    #[arg(long, value_name = "URL")]
    pub server: String,
    /// The subject records are published on.
    #[arg(long, value_name = "SUBJECT")]
    pub subject: String,
    /// Create this stream, taking the subject, if it does not exist (file
    /// storage, one replica per server given, up to 3).
    #[arg(long, value_name = "NAME")]
    pub stream: Option<String>,
}

pub fn run(args: Args) -> u8 {
    let servers = match args
        .server
        .strip_prefix("nats://")
        .ok_or_else(|| "does not start with nats://".to_string())
        .and_then(parse_servers)
    {
        Ok(servers) => servers,
        Err(err) => {
            report!("dnstap-kit: --server {}: {err}", args.server);
            return exit::FAILURE;
        }
    };
    let mut producer = NatsProducer::new(servers, args.subject.clone());
    if let Some(stream) = &args.stream {
        match producer.ensure_stream(stream) {
            Ok(true) => report!("dnstap-kit export: created stream {stream}"),
            Ok(false) => {}
            Err(err) => {
                report!("dnstap-kit: stream {stream}: {err}");
                return exit::FAILURE;
            }
        }
    }
    let name = format!("nats {}", args.subject);
    log::run(&args.export, KeyChoice::None, Box::new(producer), &name)
}
