//! The target side: connecting, authenticating with stored credentials,
//! and forwarding cancel requests.

mod connect;
pub mod explain;
pub mod scram;
pub mod simple;

pub use connect::{Target, Upstream, UpstreamError, cancel, connect};
