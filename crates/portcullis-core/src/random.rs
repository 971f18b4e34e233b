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

/// A time-ordered identifier: 12 hex digits of milliseconds since the epoch,
/// then `random_bytes` random bytes. Ordered ids keep the store's indexes
/// appending near one edge instead of writing all over them.
pub fn ordered_id(random_bytes: usize) -> Result<String, RandomError> {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    Ok(format!(
        "{:012x}{}",
        millis & 0xffff_ffff_ffff,
        hex_id(random_bytes)?
    ))
}
