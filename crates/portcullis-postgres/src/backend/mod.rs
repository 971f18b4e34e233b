//! The target side: connecting, authenticating with stored credentials,
//! and forwarding cancel requests.

mod connect;
pub mod scram;

pub use connect::{Target, Upstream, UpstreamError, cancel, connect};
