//! `dnstap-kit export kafka`: one Kafka record per dnstap frame in a
//! topic, through the shared log export (`export::log`). What only Kafka
//! needs (its brokers, topic, record key and compression) is made into a
//! producer here. Records carry no producer id or sequence (no idempotent
//! producer): a batch published again after an unanswered request may be
//! stored twice (at-least-once).

use super::log::{self, KeyChoice};
use crate::exit;
use crate::log::{Engine, LogUrl, kafka, parse_servers};
use crate::report::report;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub export: log::ExportArgs,
    /// Bootstrap brokers, `ADDR:PORT` each (any one will do).
    #[arg(long, value_name = "ADDR:PORT[,…]", required = true)]
    pub brokers: String,
    /// The topic (made beforehand, with the partitions wanted).
    #[arg(long, value_name = "NAME")]
    pub topic: String,
    /// What records are keyed by (which partition they go to).
    #[arg(long, value_enum, default_value_t = KeyChoice::None)]
    pub key: KeyChoice,
    /// The codec of record batches.
    #[arg(long, value_enum, default_value_t = kafka::Compression::None)]
    pub compression: kafka::Compression,
}

pub fn run(args: Args) -> u8 {
    let servers = match parse_servers(&args.brokers) {
        Ok(servers) => servers,
        Err(err) => {
            report!("dnstap-kit: --brokers {}: {err}", args.brokers);
            return exit::FAILURE;
        }
    };
    let url = LogUrl {
        engine: Engine::Kafka,
        servers,
        name: args.topic.clone(),
    };
    let options = kafka::ProducerOptions {
        compression: args.compression,
    };
    match kafka::producer(&url, &options) {
        Ok(producer) => {
            let name = format!("kafka {}", args.topic);
            log::run(&args.export, args.key, producer, &name)
        }
        Err(err) => {
            report!("dnstap-kit: {err}");
            exit::FAILURE
        }
    }
}
