//! The engine behind a log URL.

use super::{Consumer, Engine, LogUrl, kafka, nats};

/// A consumer of `url` whose position is kept under `name` (Kafka's
/// consumer group, JetStream's durable consumer).
pub fn open_consumer(url: &LogUrl, name: &str) -> Result<Box<dyn Consumer>, String> {
    match url.engine {
        Engine::Kafka => kafka::consumer(url, name),
        Engine::Nats => nats::consumer(url, name),
    }
}
