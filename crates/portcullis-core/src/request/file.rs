//! File-transfer operations (SFTP, scp).

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileOp {
    /// Open for reading, download.
    Read,
    /// Open for writing or creation, upload.
    Write,
    Remove,
    Rename,
    Mkdir,
    Rmdir,
    /// Change attributes (mode, owner, times).
    Setstat,
    /// List a directory, stat a path, read a link.
    List,
    Symlink,
}

impl FileOp {
    pub fn as_str(self) -> &'static str {
        match self {
            FileOp::Read => "read",
            FileOp::Write => "write",
            FileOp::Remove => "remove",
            FileOp::Rename => "rename",
            FileOp::Mkdir => "mkdir",
            FileOp::Rmdir => "rmdir",
            FileOp::Setstat => "setstat",
            FileOp::List => "list",
            FileOp::Symlink => "symlink",
        }
    }
}

/// One operation, judged by path.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileOperation {
    pub op: FileOp,
    /// The path as the client sent it, normalized (`.`/`..` segments
    /// resolved lexically, duplicate slashes removed).
    pub path: String,
    /// The second path of a rename or symlink.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}
