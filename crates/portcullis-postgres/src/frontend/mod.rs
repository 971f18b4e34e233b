//! The client side: TLS negotiation, startup and authentication.

mod handshake;

pub use handshake::{ClientHello, Handshake, handshake, send_fatal};
