//! The PostgreSQL v3 wire protocol: just enough decoding for the pipeline
//! and encoders for the messages the gateway itself sends.
//!
//! Frames are relayed as bytes; these functions look inside only the
//! messages the gateway must understand.

pub mod backend;
pub mod frame;
pub mod frontend;
pub mod sqlstate;
pub mod startup;

pub use frame::{FrameError, HEADER_LEN, Header};
