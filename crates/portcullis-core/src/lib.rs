//! Protocol-agnostic core of Portcullis.
//!
//! Nothing in here knows a wire protocol: adapters (PostgreSQL, MCP, ...) turn
//! their traffic into the requests and events defined here.
#![forbid(unsafe_code)]

pub mod access;
pub mod auth;
pub mod config;
pub mod gateway;
pub mod http;
pub mod live;
pub mod oidc;
pub mod pipeline;
pub mod policy;
pub mod random;
pub mod ratelimit;
pub mod record;
pub mod request;
pub mod review;
pub mod secret;
pub mod session;
pub mod statement;
pub mod store;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod time;
pub mod token;
