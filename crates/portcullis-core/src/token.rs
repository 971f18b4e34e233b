//! Service-account tokens: minted once, stored only as a hash, compared in
//! constant time.
//!
//! A token reads `pcl_<id>_<secret>`: the id locates the stored record
//! without a search over hashes, the secret carries 256 random bits.

use serde::Serialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::random::{self, RandomError};
use crate::secret::Secret;

const PREFIX: &str = "pcl_";
const ID_BYTES: usize = 8;
const SECRET_BYTES: usize = 32;

/// What the store keeps about a token: never the token itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenRecord {
    pub id: String,
    pub identity: String,
    pub groups: Vec<String>,
    /// Hex SHA-256 of the whole token string.
    #[serde(skip)]
    pub hash: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub last_used_at: Option<i64>,
}

/// A freshly minted token: `secret` is shown to the operator once.
pub struct NewToken {
    pub secret: Secret,
    pub record: TokenRecord,
}

/// Mints a token for `identity`, valid until `expires_at` (µs) if given.
pub fn mint(
    identity: &str,
    groups: Vec<String>,
    created_at: i64,
    expires_at: Option<i64>,
) -> Result<NewToken, RandomError> {
    let id = random::hex_id(ID_BYTES)?;
    let secret = random::hex_id(SECRET_BYTES)?;
    let token = format!("{PREFIX}{id}_{secret}");
    let hash = hash(&token);
    Ok(NewToken {
        secret: Secret::new(token),
        record: TokenRecord {
            id,
            identity: identity.to_string(),
            groups,
            hash,
            created_at,
            expires_at,
            revoked_at: None,
            last_used_at: None,
        },
    })
}

/// The id part of a presented token, if it has the token shape at all.
pub fn id_of(presented: &str) -> Option<&str> {
    let rest = presented.strip_prefix(PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    let shaped = id.len() == ID_BYTES * 2
        && secret.len() == SECRET_BYTES * 2
        && id
            .bytes()
            .chain(secret.bytes())
            .all(|b| b.is_ascii_hexdigit());
    shaped.then_some(id)
}

/// Hex SHA-256 of a token string.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Whether `presented` is the token `record` was minted for. Constant time
/// in the compared hashes, so timing reveals nothing about the stored hash.
pub fn matches(record_hash: &str, presented: &str) -> bool {
    let presented = hash(presented);
    presented.as_bytes().ct_eq(record_hash.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_tokens_verify_and_others_do_not() {
        let t = mint("ci", vec![], 1, None).unwrap();
        let s = t.secret.expose();
        assert_eq!(id_of(s), Some(t.record.id.as_str()));
        assert!(matches(&t.record.hash, s));
        let mut wrong = s.to_string();
        let last = wrong.pop().unwrap();
        wrong.push(if last == 'a' { 'b' } else { 'a' });
        assert!(!matches(&t.record.hash, &wrong));
        assert_eq!(id_of("pcl_short_x"), None);
        assert_eq!(id_of(""), None);
        assert_eq!(t.record.hash.len(), 64, "hex SHA-256");
        assert!(
            !t.record.hash.contains(s.split('_').nth(2).unwrap()),
            "the secret is not stored"
        );
    }

    #[test]
    fn two_tokens_differ() {
        let a = mint("x", vec![], 0, None).unwrap();
        let b = mint("x", vec![], 0, None).unwrap();
        assert_ne!(a.secret.expose(), b.secret.expose());
        assert_ne!(a.record.id, b.record.id);
    }
}
