//! Public keys from a JWKS and signature checks with aws-lc-rs.
//!
//! A key is used only with the algorithm its type implies (RSA keys for
//! RS*/PS*, P-256 for ES256, P-384 for ES384, Ed25519 for EdDSA), and only
//! with the algorithm it names in `alg` when it names one.

use aws_lc_rs::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

/// A JWK as published; fields we do not use are ignored.
#[derive(Debug, Deserialize)]
pub struct RawJwk {
    pub kty: String,
    pub kid: Option<String>,
    #[serde(rename = "use")]
    pub use_: Option<String>,
    pub alg: Option<String>,
    pub crv: Option<String>,
    pub n: Option<String>,
    pub e: Option<String>,
    pub x: Option<String>,
    pub y: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct RawJwks {
    pub keys: Vec<serde_json::Value>,
}

#[derive(Debug, Clone)]
enum Material {
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
    /// Uncompressed point (0x04 || x || y) and its curve.
    Ec {
        curve: Curve,
        point: Vec<u8>,
    },
    Ed25519(Vec<u8>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Curve {
    P256,
    P384,
}

/// A usable signing key of an issuer.
#[derive(Debug, Clone)]
pub struct Jwk {
    pub kid: Option<String>,
    alg: Option<String>,
    material: Material,
}

fn b64(v: &Option<String>) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(v.as_deref()?).ok()
}

impl Jwk {
    /// Keys we can use; encryption keys, symmetric keys (`oct`) and
    /// malformed entries are skipped, so one odd key does not hide the rest.
    pub fn parse_set(raw: RawJwks) -> Vec<Jwk> {
        raw.keys
            .into_iter()
            .filter_map(|v| serde_json::from_value::<RawJwk>(v).ok())
            .filter_map(Jwk::from_raw)
            .collect()
    }

    fn from_raw(k: RawJwk) -> Option<Jwk> {
        if k.use_.as_deref().is_some_and(|u| u != "sig") {
            return None;
        }
        let material = match (k.kty.as_str(), k.crv.as_deref()) {
            ("RSA", _) => Material::Rsa {
                n: b64(&k.n)?,
                e: b64(&k.e)?,
            },
            ("EC", Some(crv @ ("P-256" | "P-384"))) => {
                let (curve, len) = if crv == "P-256" {
                    (Curve::P256, 32)
                } else {
                    (Curve::P384, 48)
                };
                let (x, y) = (b64(&k.x)?, b64(&k.y)?);
                if x.len() != len || y.len() != len {
                    return None;
                }
                let mut point = Vec::with_capacity(1 + 2 * len);
                point.push(4);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                Material::Ec { curve, point }
            }
            ("OKP", Some("Ed25519")) => Material::Ed25519(b64(&k.x)?),
            _ => return None,
        };
        Some(Jwk {
            kid: k.kid,
            alg: k.alg,
            material,
        })
    }

    /// Whether this key may verify a signature made with `alg`.
    pub fn fits(&self, alg: &str) -> bool {
        if self.alg.as_deref().is_some_and(|a| a != alg) {
            return false;
        }
        match &self.material {
            Material::Rsa { .. } => alg.starts_with("RS") || alg.starts_with("PS"),
            Material::Ec {
                curve: Curve::P256, ..
            } => alg == "ES256",
            Material::Ec {
                curve: Curve::P384, ..
            } => alg == "ES384",
            Material::Ed25519(_) => alg == "EdDSA",
        }
    }

    /// Checks `sig` over `message` with `alg`; false for any mismatch.
    pub fn verify(&self, alg: &str, message: &[u8], sig: &[u8]) -> bool {
        if !self.fits(alg) {
            return false;
        }
        match &self.material {
            Material::Rsa { n, e } => {
                let params: &signature::RsaParameters = match alg {
                    "RS256" => &signature::RSA_PKCS1_2048_8192_SHA256,
                    "RS384" => &signature::RSA_PKCS1_2048_8192_SHA384,
                    "RS512" => &signature::RSA_PKCS1_2048_8192_SHA512,
                    "PS256" => &signature::RSA_PSS_2048_8192_SHA256,
                    "PS384" => &signature::RSA_PSS_2048_8192_SHA384,
                    "PS512" => &signature::RSA_PSS_2048_8192_SHA512,
                    _ => return false,
                };
                RsaPublicKeyComponents { n, e }
                    .verify(params, message, sig)
                    .is_ok()
            }
            Material::Ec { curve, point } => {
                let params = match curve {
                    Curve::P256 => &signature::ECDSA_P256_SHA256_FIXED,
                    Curve::P384 => &signature::ECDSA_P384_SHA384_FIXED,
                };
                UnparsedPublicKey::new(params, point)
                    .verify(message, sig)
                    .is_ok()
            }
            Material::Ed25519(x) => UnparsedPublicKey::new(&signature::ED25519, x)
                .verify(message, sig)
                .is_ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};

    fn ed25519() -> (Ed25519KeyPair, Jwk) {
        let doc = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let pair = Ed25519KeyPair::from_pkcs8(doc.as_ref()).unwrap();
        let x = URL_SAFE_NO_PAD.encode(pair.public_key().as_ref());
        let set: RawJwks = serde_json::from_value(serde_json::json!({"keys": [
            {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "k1"},
            {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
            {"kty": "OKP", "crv": "Ed25519", "x": x, "use": "enc", "kid": "enc"},
        ]}))
        .unwrap();
        let mut keys = Jwk::parse_set(set);
        assert_eq!(keys.len(), 1, "symmetric and encryption keys are skipped");
        (pair, keys.remove(0))
    }

    #[test]
    fn a_key_verifies_only_its_own_algorithm() {
        let (pair, key) = ed25519();
        let sig = pair.sign(b"payload");
        assert!(key.verify("EdDSA", b"payload", sig.as_ref()));
        assert!(!key.verify("EdDSA", b"other", sig.as_ref()));
        assert!(!key.verify("ES256", b"payload", sig.as_ref()));
        assert!(!key.verify("HS256", b"payload", sig.as_ref()));
    }
}
