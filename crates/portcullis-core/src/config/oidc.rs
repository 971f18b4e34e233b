//! `[[oidc]]`: identity providers whose JWTs clients may present instead
//! of a service-account token.

use std::collections::HashSet;
use std::time::Duration;

use serde::Deserialize;

use super::validate::{Issue, issue};

/// One `[[oidc]]` table as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOidcIssuer {
    /// The `iss` value tokens carry; discovery is fetched below it.
    pub issuer: String,
    /// Accepted `aud` values: a string or a list.
    pub audience: OneOrMany,
    pub groups_claim: Option<String>,
    pub identity_claim: Option<String>,
    pub algorithms: Option<Vec<String>>,
    pub clock_skew: Option<String>,
    /// Least time between two key-set fetches caused by an unknown `kid`.
    pub jwks_refresh_interval: Option<String>,
    /// The client `portcullis login` uses; default: the first audience.
    pub client_id: Option<String>,
    /// Scopes `portcullis login` asks for.
    pub scopes: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// A validated issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcIssuer {
    pub issuer: String,
    pub audiences: Vec<String>,
    pub groups_claim: String,
    /// The claim whose value is the identity (and the PostgreSQL user name).
    pub identity_claim: String,
    pub algorithms: Vec<String>,
    pub clock_skew: Duration,
    pub jwks_refresh_interval: Duration,
    pub client_id: String,
    pub scopes: Vec<String>,
}

/// Signature algorithms a JWT may use: asymmetric only, so a key published
/// in a JWKS can never double as an HMAC secret.
pub const ASYMMETRIC_ALGORITHMS: &[&str] = &[
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
];

const DEFAULT_ALGORITHMS: &[&str] = &["RS256", "PS256", "ES256", "EdDSA"];
const DEFAULT_SKEW: Duration = Duration::from_secs(30);
const MAX_SKEW: Duration = Duration::from_secs(300);
const DEFAULT_REFRESH: Duration = Duration::from_secs(10);

pub fn validate(raw: Vec<RawOidcIssuer>) -> Result<Vec<OidcIssuer>, Issue> {
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(raw.len());
    for (i, o) in raw.into_iter().enumerate() {
        let at = |f: &str| format!("oidc[{i}].{f}");
        if !crate::http::url_is_safe(&o.issuer) {
            return Err(issue(
                at("issuer"),
                "expected an https:// URL (http:// only for a loopback host)",
            ));
        }
        if !seen.insert(o.issuer.clone()) {
            return Err(issue(
                at("issuer"),
                format!("duplicate issuer {:?}", o.issuer),
            ));
        }
        let audiences = match o.audience {
            OneOrMany::One(a) => vec![a],
            OneOrMany::Many(a) => a,
        };
        if audiences.is_empty() || audiences.iter().any(String::is_empty) {
            return Err(issue(
                at("audience"),
                "name at least one non-empty audience",
            ));
        }
        let algorithms = match o.algorithms {
            None => DEFAULT_ALGORITHMS.iter().map(|a| a.to_string()).collect(),
            Some(list) => {
                if list.is_empty() {
                    return Err(issue(at("algorithms"), "name at least one algorithm"));
                }
                for (j, a) in list.iter().enumerate() {
                    if !ASYMMETRIC_ALGORITHMS.contains(&a.as_str()) {
                        return Err(issue(
                            format!("oidc[{i}].algorithms[{j}]"),
                            format!(
                                "{a:?} is not allowed: use one of {} (never `none` or HMAC)",
                                ASYMMETRIC_ALGORITHMS.join(", ")
                            ),
                        ));
                    }
                }
                list
            }
        };
        let duration = |field: &str, v: Option<String>, default: Duration| match v {
            None => Ok(default),
            Some(s) => humantime::parse_duration(&s)
                .map_err(|e| issue(at(field), format!("invalid duration: {e}"))),
        };
        let clock_skew = duration("clock_skew", o.clock_skew, DEFAULT_SKEW)?;
        if clock_skew > MAX_SKEW {
            return Err(issue(at("clock_skew"), "at most 5m"));
        }
        let jwks_refresh_interval = duration(
            "jwks_refresh_interval",
            o.jwks_refresh_interval,
            DEFAULT_REFRESH,
        )?;
        let claim = |field: &str, v: Option<String>, default: &str| match v {
            Some(c) if c.is_empty() => Err(issue(at(field), "must not be empty")),
            Some(c) => Ok(c),
            None => Ok(default.to_string()),
        };
        out.push(OidcIssuer {
            client_id: o.client_id.unwrap_or_else(|| audiences[0].clone()),
            audiences,
            groups_claim: claim("groups_claim", o.groups_claim, "groups")?,
            identity_claim: claim("identity_claim", o.identity_claim, "sub")?,
            algorithms,
            clock_skew,
            jwks_refresh_interval,
            scopes: o
                .scopes
                .unwrap_or_else(|| ["openid", "profile", "email"].map(String::from).to_vec()),
            issuer: o.issuer,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    fn parse(oidc: &str) -> Result<crate::config::Config, crate::config::ConfigError> {
        crate::config::parse(Path::new("p.toml"), &format!("[[oidc]]\n{oidc}"))
    }

    #[test]
    fn issuers_are_validated_with_located_errors() {
        let ok = parse("issuer = \"https://idp.example.com\"\naudience = \"pc\"\n").unwrap();
        let i = &ok.oidc[0];
        assert_eq!(
            (i.identity_claim.as_str(), i.groups_claim.as_str()),
            ("sub", "groups")
        );
        assert_eq!(i.client_id, "pc");

        let hmac = parse(
            "issuer = \"https://idp.example.com\"\naudience = \"pc\"\nalgorithms = [\"RS256\", \"HS256\"]\n",
        )
        .unwrap_err();
        assert_eq!(hmac.field, "oidc[0].algorithms[1]");
        assert_eq!(hmac.line, 4);
        assert!(hmac.message.contains("never `none` or HMAC"));

        let plain = parse("issuer = \"http://idp.example.com\"\naudience = \"pc\"\n").unwrap_err();
        assert_eq!((plain.field.as_str(), plain.line), ("oidc[0].issuer", 2));

        let empty = parse("issuer = \"https://idp.example.com\"\naudience = []\n").unwrap_err();
        assert_eq!(empty.field, "oidc[0].audience");
    }
}
