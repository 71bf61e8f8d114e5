//! NATS JetStream: a small synchronous client of the NATS text protocol
//! (one TCP connection per producer or consumer, to any server of the
//! list, another one when it dies) and the JetStream API on top of it.
//!
//! - `wire`: the protocol's framing; `conn`: a connection, its inbox and
//!   its requests; `jetstream`: the API's JSON and its errors.
//! - [`NatsProducer`]: publishes batches, each record with a
//!   `Nats-Msg-Id`, and waits for every acknowledgement.
//! - `consumer`: a durable pull consumer that commits by acknowledging.

mod conn;
mod consumer;
mod jetstream;
mod producer;
mod wire;

pub use consumer::consumer;
pub use jetstream::DUPLICATE_WINDOW;
pub use producer::NatsProducer;
