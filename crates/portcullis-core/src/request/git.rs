//! The ref updates of a git push.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefUpdateKind {
    Create,
    /// A fast-forward update (the old id is an ancestor of the new one).
    Update,
    /// An update that is not a fast-forward (a force push).
    NonFastForward,
    Delete,
    /// An update whose ancestry could not be established: judged as a
    /// non-fast-forward by the presets.
    Unknown,
}

impl RefUpdateKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RefUpdateKind::Create => "create",
            RefUpdateKind::Update => "update",
            RefUpdateKind::NonFastForward => "non_fast_forward",
            RefUpdateKind::Delete => "delete",
            RefUpdateKind::Unknown => "unknown",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefUpdate {
    /// Full ref name, `refs/heads/main`.
    pub name: String,
    /// Hex object ids; all zeros for create (old) and delete (new).
    pub old: String,
    pub new: String,
    pub kind: RefUpdateKind,
}

/// One `git-receive-pack` request: every ref it updates.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitPush {
    /// Repository path relative to the connection.
    pub repository: String,
    pub updates: Vec<RefUpdate>,
}
