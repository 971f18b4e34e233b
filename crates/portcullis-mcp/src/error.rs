//! Errors of the MCP server itself (not of the statements agents run, which
//! become tool results).

use thiserror::Error;

#[derive(Debug, Error)]
pub enum McpError {
    /// The token given to `portcullis mcp` does not authenticate.
    #[error("the token does not authenticate (wrong, unknown, revoked or expired)")]
    Unauthenticated,
    /// The state store could not be reached to check the token.
    #[error("authentication is unavailable: {0}")]
    AuthUnavailable(String),
    /// The MCP transport failed.
    #[error("MCP transport: {0}")]
    Transport(String),
}
