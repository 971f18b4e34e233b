//! One decoder exercise for the masking side of the wire, shared by the
//! fuzz target `backend_decoder` and the property tests: whatever a target
//! server (or a man in the middle of a plaintext upstream) sends, the
//! masker and the backend decoders must not panic.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use portcullis_core::policy::UnknownLineage;
use portcullis_mask::{DetectorKind, MaskPolicy, MaskRuleConfig};

use super::catalog::{Catalog, Relation};
use super::{Decision, Masker, RowMode};
use crate::protocol::backend as b;
use crate::protocol::frame::{self, HEADER_LEN};

/// A small catalog: `public.users(id, email)` with OID 16384.
fn catalog() -> Arc<Catalog> {
    let users = Relation {
        schema: "public".into(),
        name: "users".into(),
        kind: 'r',
        columns: vec![(1, "id".into()), (2, "email".into())],
    };
    Arc::new(Catalog {
        relations: HashMap::from([(16384, users)]),
        by_name: HashMap::from([("users".to_string(), vec![16384])]),
        view_reads: HashMap::new(),
        user_functions: HashSet::new(),
        truncated: false,
    })
}

fn policy() -> Option<MaskPolicy> {
    let rules = [
        MaskRuleConfig {
            column: Some("*.users.email".into()),
            ..Default::default()
        },
        MaskRuleConfig {
            name: Some("secret*".into()),
            ..Default::default()
        },
        MaskRuleConfig {
            detector: Some(DetectorKind::Email),
            ..Default::default()
        },
    ];
    MaskPolicy::compile(&rules, b"exercise").ok()
}

/// Feeds `data` as a stream of frames: the first byte of each frame picks
/// the direction (even: client message, odd: server message), so the
/// masker sees interleavings a real session could produce and many it
/// could not.
pub fn exercise_masker(data: &[u8]) {
    let Some(policy) = policy() else {
        return;
    };
    let mut masker = Masker::new(policy, UnknownLineage::Mask);
    let mut rest = data;
    while let Some((&dir, tail)) = rest.split_first() {
        let Ok(Some(h)) = frame::header(tail, 1 << 20) else {
            break;
        };
        if tail.len() < h.frame_len {
            break;
        }
        let body = &tail[HEADER_LEN..h.frame_len];
        if dir % 2 == 0 {
            masker.frontend(h.tag, body);
        } else {
            backend(&mut masker, h.tag, body);
        }
        rest = &tail[h.frame_len..];
    }
}

fn backend(masker: &mut Masker, tag: u8, body: &[u8]) {
    let _ = b::error_fields(body);
    let _ = b::command_rows(body);
    if matches!(masker.row_mode(tag), RowMode::NeedCatalog) {
        masker.set_catalog(Ok(catalog()));
    }
    if masker.backend(tag, body) == Decision::NeedCatalog {
        masker.set_catalog(Ok(catalog()));
        let _ = masker.backend(tag, body);
    }
}
