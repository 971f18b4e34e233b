//! Masking for Portcullis: sensitive values never leave the gateway unmasked.
//!
//! This crate is protocol-light on purpose: it knows PostgreSQL type OIDs and
//! the text/binary value formats (so a masked value stays decodable by the
//! client), but nothing about the wire protocol itself. The relay asks a
//! [`MaskPolicy`] for a [`RowPlan`] once per result set (from RowDescription)
//! and then calls [`RowPlan::mask_value`] for each field of each DataRow, and
//! [`MaskPolicy::scrub`] for free text (error fields, NOTIFY payloads, COPY
//! lines).
//!
//! Compile once, use many times: [`MaskPolicy::compile`] validates every glob
//! and regular expression up front so that the hot path cannot fail.
//!
//! ```
//! use portcullis_mask::{ColumnInfo, DetectorKind, MaskPolicy, MaskRuleConfig, StyleKind};
//!
//! let rules = [
//!     MaskRuleConfig { column: Some("*.users.email".into()), style: StyleKind::Partial, ..Default::default() },
//!     MaskRuleConfig { detector: Some(DetectorKind::PaymentCard), style: StyleKind::Redact, ..Default::default() },
//! ];
//! let policy = MaskPolicy::compile(&rules, b"deployment key")?;
//! let plan = policy.plan(&[
//!     ColumnInfo { source: Some(("public.users".into(), "email".into())), name: "email".into(), type_oid: 25, format: 0 },
//!     ColumnInfo { source: None, name: "note".into(), type_oid: 25, format: 0 },
//! ]);
//! let email = plan.mask_value(0, Some(b"jane@example.com"));
//! assert_eq!(email.as_deref(), Some(&b"j****@*****.com"[..]));
//! let note = plan.mask_value(1, Some(b"paid with 4111 1111 1111 1111"));
//! assert_eq!(note.as_deref(), Some(&b"paid with [REDACTED]"[..]));
//! assert_eq!(policy.scrub("no secrets here"), "no secrets here");
//! # Ok::<(), portcullis_mask::MaskError>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod config;
mod detect;
mod error;
mod json;
mod plan;
mod policy;
mod scan;
mod selector;
mod style;
mod types;

pub use config::{DetectorKind, MaskRuleConfig, StyleKind};
pub use error::MaskError;
pub use plan::{ColumnAction, ColumnInfo, RowPlan};
pub use policy::MaskPolicy;
pub use types::{FORMAT_BINARY, FORMAT_TEXT, TypeClass};
