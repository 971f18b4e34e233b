//! The masking rules as users write them inside a policy.
//!
//! These types only describe; [`crate::MaskPolicy::compile`] validates them.
//! They are kept serde-friendly (and strict: unknown fields are errors) so the
//! configuration layer can embed them and report located errors.

use serde::{Deserialize, Serialize};

/// One `[[policy.NAME.mask]]` table.
///
/// Exactly one selector (`column`, `name`, `detector`, `pattern`) says which
/// values the rule applies to; `style` says what they become.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaskRuleConfig {
    /// Glob over `schema.table.column` of the result column's source
    /// (fewer parts are allowed: `users.email` means `*.users.email`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// Glob over the result column's name or alias, for columns without a source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A built-in value detector, also applied to free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detector: Option<DetectorKind>,
    /// A custom regular expression detector (Rust `regex` syntax).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// What a matched value becomes.
    pub style: StyleKind,
    /// `partial` only: significant characters kept at the start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_prefix: Option<usize>,
    /// `partial` only: significant characters kept at the end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_suffix: Option<usize>,
    /// `redact` only: the replacement text (default `[REDACTED]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// How a matched value is replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StyleKind {
    /// A fixed token, revealing nothing, not even the length (the safest, so the default).
    #[default]
    Redact,
    /// Keep a few significant characters and the separators, star the rest.
    Partial,
    /// Keyed HMAC-SHA256, hex-truncated: stable per deployment so masked values still join and group.
    Hash,
    /// SQL NULL (in free text, where NULL cannot exist, the default redaction token).
    Null,
}

impl StyleKind {
    /// The name used in the configuration, for messages.
    pub fn as_str(self) -> &'static str {
        match self {
            StyleKind::Redact => "redact",
            StyleKind::Partial => "partial",
            StyleKind::Hash => "hash",
            StyleKind::Null => "null",
        }
    }
}

/// The built-in value detectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DetectorKind {
    /// Email addresses (`local@domain.tld`).
    Email,
    /// Payment card numbers: 13–19 digits, Luhn-valid, plausible issuer prefix.
    PaymentCard,
    /// US social security numbers with the never-issued ranges excluded.
    #[serde(alias = "ssn")]
    UsSsn,
    /// IBANs with a known country length and a valid mod-97 checksum.
    Iban,
    /// Phone numbers: E.164, North American and trunk-prefixed national formats.
    Phone,
    /// Valid dotted-quad IPv4 addresses.
    Ipv4,
    /// Valid IPv6 addresses.
    Ipv6,
    /// JSON Web Tokens whose header decodes to JSON with `alg`.
    Jwt,
    /// AWS access key ids (`AKIA…`, `ASIA…`).
    AwsAccessKeyId,
    /// AWS secret access keys: 40 base64 characters near `aws`/`secret`.
    AwsSecretAccessKey,
    /// PEM private key blocks.
    PrivateKey,
    /// Bearer tokens and well-known API token shapes (`sk_live_…`, `ghp_…`, `xoxb-…`).
    ApiToken,
}

impl DetectorKind {
    /// Every detector, in a fixed order (used to index per-detector tables).
    pub const ALL: [DetectorKind; 12] = [
        DetectorKind::Email,
        DetectorKind::PaymentCard,
        DetectorKind::UsSsn,
        DetectorKind::Iban,
        DetectorKind::Phone,
        DetectorKind::Ipv4,
        DetectorKind::Ipv6,
        DetectorKind::Jwt,
        DetectorKind::AwsAccessKeyId,
        DetectorKind::AwsSecretAccessKey,
        DetectorKind::PrivateKey,
        DetectorKind::ApiToken,
    ];

    /// The name used in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            DetectorKind::Email => "email",
            DetectorKind::PaymentCard => "payment-card",
            DetectorKind::UsSsn => "us-ssn",
            DetectorKind::Iban => "iban",
            DetectorKind::Phone => "phone",
            DetectorKind::Ipv4 => "ipv4",
            DetectorKind::Ipv6 => "ipv6",
            DetectorKind::Jwt => "jwt",
            DetectorKind::AwsAccessKeyId => "aws-access-key-id",
            DetectorKind::AwsSecretAccessKey => "aws-secret-access-key",
            DetectorKind::PrivateKey => "private-key",
            DetectorKind::ApiToken => "api-token",
        }
    }

    /// Position in [`DetectorKind::ALL`].
    pub(crate) fn index(self) -> usize {
        self as usize
    }
}
