//! The compact JWT form: split, decode, and check the claims that do not
//! need a key. Signatures are checked in [`super::jwk`].

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::OidcError;
use crate::config::OidcIssuer;

/// Largest token accepted: real ID tokens are a few KB.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

#[derive(Debug, Deserialize)]
pub struct Header {
    pub alg: String,
    pub kid: Option<String>,
    /// Critical extensions we would have to understand: we understand none.
    pub crit: Option<Value>,
}

/// A token split into its parts, not yet trusted.
pub struct Parsed {
    pub header: Header,
    pub claims: Map<String, Value>,
    /// `header.payload`, the bytes the signature covers.
    pub signed: String,
    pub signature: Vec<u8>,
}

/// Whether `s` has the shape of a compact JWS (three base64url parts, a
/// JSON header): how a JWT is told apart from a service-account token.
pub fn looks_like_jwt(s: &str) -> bool {
    s.starts_with("eyJ") && s.bytes().filter(|&b| b == b'.').count() == 2
}

pub fn parse(token: &str) -> Result<Parsed, OidcError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(OidcError::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(OidcError::Malformed);
    };
    let decode = |part: &str| {
        URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| OidcError::Malformed)
    };
    let header: Header = serde_json::from_slice(&decode(h)?).map_err(|_| OidcError::Malformed)?;
    let claims: Map<String, Value> =
        serde_json::from_slice(&decode(p)?).map_err(|_| OidcError::Malformed)?;
    Ok(Parsed {
        header,
        claims,
        signed: format!("{h}.{p}"),
        signature: decode(s)?,
    })
}

/// Checks `aud`, `exp` and `nbf` against `issuer`'s settings at `now`
/// (seconds); returns `exp`. `iss` was matched when the issuer was chosen.
pub fn check_claims(
    claims: &Map<String, Value>,
    issuer: &OidcIssuer,
    now: i64,
) -> Result<i64, OidcError> {
    let skew = i64::try_from(issuer.clock_skew.as_secs()).unwrap_or(i64::MAX);
    let audience_ok = match claims.get("aud") {
        Some(Value::String(a)) => issuer.audiences.contains(a),
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(Value::as_str)
            .any(|a| issuer.audiences.iter().any(|x| x == a)),
        _ => false,
    };
    if !audience_ok {
        return Err(OidcError::WrongAudience);
    }
    let exp = numeric(claims, "exp")?.ok_or(OidcError::NoExpiry)?;
    if now >= exp.saturating_add(skew) {
        return Err(OidcError::Expired);
    }
    if let Some(nbf) = numeric(claims, "nbf")?
        && now < nbf.saturating_sub(skew)
    {
        return Err(OidcError::NotYetValid);
    }
    Ok(exp)
}

fn numeric(claims: &Map<String, Value>, name: &str) -> Result<Option<i64>, OidcError> {
    match claims.get(name) {
        None => Ok(None),
        Some(v) => v
            .as_i64()
            .or_else(|| v.as_f64().map(|f| f as i64))
            .map(Some)
            .ok_or(OidcError::Malformed),
    }
}

/// The groups in `claim`: a list of strings, or one string.
pub fn groups(claims: &Map<String, Value>, claim: &str) -> Vec<String> {
    match claims.get(claim) {
        Some(Value::String(g)) => vec![g.clone()],
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::Duration;

    fn issuer() -> OidcIssuer {
        OidcIssuer {
            issuer: "https://idp".into(),
            audiences: vec!["pc".into()],
            groups_claim: "groups".into(),
            identity_claim: "sub".into(),
            algorithms: vec!["RS256".into()],
            clock_skew: Duration::from_secs(5),
            jwks_refresh_interval: Duration::from_secs(10),
            client_id: "pc".into(),
            scopes: vec![],
        }
    }

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn time_and_audience_rules() {
        let i = issuer();
        let ok = claims(json!({"aud": ["x", "pc"], "exp": 100, "nbf": 50}));
        assert_eq!(check_claims(&ok, &i, 60).unwrap(), 100);
        assert_eq!(check_claims(&ok, &i, 104).unwrap(), 100, "within skew");
        assert!(matches!(
            check_claims(&ok, &i, 105),
            Err(OidcError::Expired)
        ));
        assert!(matches!(
            check_claims(&ok, &i, 44),
            Err(OidcError::NotYetValid)
        ));
        let wrong = claims(json!({"aud": "other", "exp": 100}));
        assert!(matches!(
            check_claims(&wrong, &i, 60),
            Err(OidcError::WrongAudience)
        ));
        let no_exp = claims(json!({"aud": "pc"}));
        assert!(matches!(
            check_claims(&no_exp, &i, 60),
            Err(OidcError::NoExpiry)
        ));
    }

    #[test]
    fn shape_and_groups() {
        assert!(looks_like_jwt("eyJhbGciOiJSUzI1NiJ9.e30.sig"));
        assert!(!looks_like_jwt("pcl_0123_abcd"));
        assert!(parse("eyJhbGciOiJSUzI1NiJ9.e30").is_err());
        let c = claims(json!({"g": ["a", 1, "b"], "s": "one"}));
        assert_eq!(groups(&c, "g"), ["a", "b"]);
        assert_eq!(groups(&c, "s"), ["one"]);
        assert!(groups(&c, "missing").is_empty());
    }
}
