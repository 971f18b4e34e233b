//! Value detectors: find spans of sensitive values in arbitrary bytes.
//!
//! Each detector lives in its own file and appends [`Finding`]s. Speed comes
//! from cheap triggers rather than one big regular expression: `@` for emails,
//! `:` for IPv6, a single digit-run pass for every numeric detector, and
//! literal prefixes (searched with SIMD by `memchr`/`regex`) for the
//! keyword-shaped secrets. Validation (Luhn, mod-97, JSON header, ...) runs
//! only on candidates.

mod aws;
mod card;
mod email;
mod iban;
mod ip;
mod jwt;
mod numeric;
mod pem;
mod phone;
mod ssn;
mod text;
mod token;

use crate::config::DetectorKind;
use crate::error::MaskError;

pub(crate) use email::is_email;

/// A detected span `text[start..end]`, attributed to the rule that will mask it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Finding {
    pub start: usize,
    pub end: usize,
    pub rule: usize,
}

/// Rule index per detector, `None` when the detector is not enabled.
pub(crate) type Enabled = [Option<usize>; DetectorKind::ALL.len()];

/// The compiled built-in detectors of one policy (only the enabled ones cost anything).
#[derive(Debug)]
pub(crate) struct Detectors {
    enabled: Enabled,
    jwt: Option<jwt::Jwt>,
    aws_key: Option<aws::AccessKeyId>,
    aws_secret: Option<aws::SecretKey>,
    pem: Option<pem::PrivateKey>,
    token: Option<token::ApiToken>,
}

fn builtin<T>(kind: DetectorKind, r: Result<T, regex::Error>) -> Result<T, MaskError> {
    r.map_err(|e| MaskError::Builtin {
        detector: kind.as_str(),
        message: e.to_string(),
    })
}

impl Detectors {
    pub(crate) fn new(enabled: Enabled) -> Result<Self, MaskError> {
        let on = |k: DetectorKind| enabled[k.index()].is_some();
        Ok(Detectors {
            enabled,
            jwt: on(DetectorKind::Jwt)
                .then(|| builtin(DetectorKind::Jwt, jwt::Jwt::new()))
                .transpose()?,
            aws_key: on(DetectorKind::AwsAccessKeyId)
                .then(|| builtin(DetectorKind::AwsAccessKeyId, aws::AccessKeyId::new()))
                .transpose()?,
            aws_secret: on(DetectorKind::AwsSecretAccessKey)
                .then(|| builtin(DetectorKind::AwsSecretAccessKey, aws::SecretKey::new()))
                .transpose()?,
            pem: on(DetectorKind::PrivateKey)
                .then(|| builtin(DetectorKind::PrivateKey, pem::PrivateKey::new()))
                .transpose()?,
            token: on(DetectorKind::ApiToken)
                .then(|| builtin(DetectorKind::ApiToken, token::ApiToken::new()))
                .transpose()?,
        })
    }

    /// True when no built-in detector is enabled.
    pub(crate) fn is_empty(&self) -> bool {
        self.enabled.iter().all(Option::is_none)
    }

    /// Appends every span any enabled detector finds (spans may overlap).
    pub(crate) fn find(&self, text: &[u8], out: &mut Vec<Finding>) {
        let rule = |k: DetectorKind| self.enabled[k.index()];
        if let Some(r) = rule(DetectorKind::Email) {
            email::find(text, r, out);
        }
        if let Some(r) = rule(DetectorKind::Ipv6) {
            ip::find_v6(text, r, out);
        }
        numeric::find(text, &self.enabled, out);
        if let (Some(d), Some(r)) = (&self.jwt, rule(DetectorKind::Jwt)) {
            d.find(text, r, out);
        }
        if let (Some(d), Some(r)) = (&self.aws_key, rule(DetectorKind::AwsAccessKeyId)) {
            d.find(text, r, out);
        }
        if let (Some(d), Some(r)) = (&self.aws_secret, rule(DetectorKind::AwsSecretAccessKey)) {
            d.find(text, r, out);
        }
        if let (Some(d), Some(r)) = (&self.pem, rule(DetectorKind::PrivateKey)) {
            d.find(text, r, out);
        }
        if let (Some(d), Some(r)) = (&self.token, rule(DetectorKind::ApiToken)) {
            d.find(text, r, out);
        }
    }
}
