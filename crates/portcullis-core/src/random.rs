//! Random identifiers and secrets from the operating system's CSPRNG.

use thiserror::Error;

#[derive(Debug, Error)]
#[error("the operating system's random source failed: {0}")]
pub struct RandomError(String);

/// Fills `buf` with cryptographically secure random bytes.
pub fn fill(buf: &mut [u8]) -> Result<(), RandomError> {
    getrandom::fill(buf).map_err(|e| RandomError(e.to_string()))
}

/// A random lowercase hex string of `bytes` random bytes.
pub fn hex_id(bytes: usize) -> Result<String, RandomError> {
    let mut buf = vec![0u8; bytes];
    fill(&mut buf)?;
    Ok(hex::encode(buf))
}
