//! The read side of dnstap-kit: records decoded and printed, DNS messages
//! parsed (see [`decode`]).

pub mod decode;
#[cfg(test)]
mod testing;
