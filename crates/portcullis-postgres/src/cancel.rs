//! Cancel keys: the client gets a key minted by the gateway, which maps to
//! the target backend's own key. The target's key never leaves the gateway.

use std::collections::HashMap;
use std::sync::Mutex;

use subtle::ConstantTimeEq;

use crate::backend::Target;

struct Entry {
    secret: i32,
    target: Target,
    upstream_pid: i32,
    upstream_secret: i32,
}

#[derive(Default)]
pub struct CancelRegistry {
    entries: Mutex<HashMap<i32, Entry>>,
}

/// Removes the key when the session ends.
pub struct CancelKey<'a> {
    registry: &'a CancelRegistry,
    pub pid: i32,
    pub secret: i32,
}

impl Drop for CancelKey<'_> {
    fn drop(&mut self) {
        self.registry.lock().remove(&self.pid);
    }
}

impl CancelRegistry {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i32, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Mints a client-facing key for a target backend.
    pub fn register(
        &self,
        target: Target,
        upstream_pid: i32,
        upstream_secret: i32,
    ) -> Result<CancelKey<'_>, portcullis_core::random::RandomError> {
        loop {
            let mut raw = [0u8; 8];
            portcullis_core::random::fill(&mut raw)?;
            let pid = i32::from_be_bytes([raw[0] & 0x7f, raw[1], raw[2], raw[3]]).max(1);
            let secret = i32::from_be_bytes([raw[4], raw[5], raw[6], raw[7]]);
            let mut map = self.lock();
            if map.contains_key(&pid) {
                continue;
            }
            map.insert(
                pid,
                Entry {
                    secret,
                    target,
                    upstream_pid,
                    upstream_secret,
                },
            );
            return Ok(CancelKey {
                registry: self,
                pid,
                secret,
            });
        }
    }

    /// The target and its key for a client's CancelRequest, if the key is valid.
    pub fn resolve(&self, pid: i32, secret: i32) -> Option<(Target, i32, i32)> {
        let map = self.lock();
        let e = map.get(&pid)?;
        let ok: bool = e.secret.to_be_bytes().ct_eq(&secret.to_be_bytes()).into();
        ok.then(|| (e.target.clone(), e.upstream_pid, e.upstream_secret))
    }
}
