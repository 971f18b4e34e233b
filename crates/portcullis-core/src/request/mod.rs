//! The protocol-neutral request model: what an adapter saw, classified.
//!
//! Every adapter turns what arrives on its wire into one [`Request`] of a
//! [`RequestKind`]; classifiers (`portcullis-sql`, `portcullis-shell`,
//! `portcullis-http`) fill in the kind's classification, and one
//! [`crate::policy::Policy`] judges every kind with the same rule language.
//! Nothing here knows a wire format: the types carry what a guardrail may
//! match on, never bytes to forward.

mod channel;
mod command;
mod file;
mod git;
mod http;
mod kube;

pub use channel::{ChannelKind, ChannelRequest};
pub use command::{CommandLine, Redirect, RedirectOp, SimpleCommand};
pub use file::{FileOp, FileOperation};
pub use git::{GitPush, RefUpdate, RefUpdateKind};
pub use http::{HttpRequest, JsonBody};
pub use kube::{KubeRequest, KubeVerb, WorkloadFacts};

use serde::{Deserialize, Serialize};

use crate::statement::StatementInfo;

/// The kinds of request a policy can hold rules for.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum RequestKind {
    /// SQL statements (PostgreSQL simple or extended protocol, MCP `query`).
    #[default]
    Sql,
    /// A shell command line (SSH exec, a line typed into a guarded shell).
    Command,
    /// An SSH channel or channel request: shell, pty, subsystem, port
    /// forwarding, agent or X11 forwarding.
    Channel,
    /// One file-transfer operation (SFTP, scp).
    File,
    /// An HTTP request to an HTTP connection.
    Http,
    /// The ref updates of one git push (smart HTTP `git-receive-pack`).
    Git,
    /// A Kubernetes API request.
    Kubernetes,
}

impl RequestKind {
    pub const ALL: [RequestKind; 7] = [
        RequestKind::Sql,
        RequestKind::Command,
        RequestKind::Channel,
        RequestKind::File,
        RequestKind::Http,
        RequestKind::Git,
        RequestKind::Kubernetes,
    ];

    /// The snake_case name used in configuration, recordings and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestKind::Sql => "sql",
            RequestKind::Command => "command",
            RequestKind::Channel => "channel",
            RequestKind::File => "file",
            RequestKind::Http => "http",
            RequestKind::Git => "git",
            RequestKind::Kubernetes => "kubernetes",
        }
    }

    pub fn parse(name: &str) -> Option<RequestKind> {
        RequestKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// Recorded events omit the kind when it is SQL, so events recorded
    /// before there were other kinds keep their hashes.
    pub fn is_sql(&self) -> bool {
        *self == RequestKind::Sql
    }

    /// Position in [`RequestKind::ALL`], for per-kind tables.
    pub fn index(self) -> usize {
        self as usize
    }
}

impl std::fmt::Display for RequestKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One classified request, ready to be judged.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Request {
    /// The statements of one SQL request (all judged together: if one is
    /// blocked, none runs).
    Sql {
        statements: Vec<StatementInfo>,
    },
    Command(CommandLine),
    Channel(ChannelRequest),
    File(FileOperation),
    Http(HttpRequest),
    Git(GitPush),
    Kubernetes(KubeRequest),
}

impl Request {
    pub fn kind(&self) -> RequestKind {
        match self {
            Request::Sql { .. } => RequestKind::Sql,
            Request::Command(_) => RequestKind::Command,
            Request::Channel(_) => RequestKind::Channel,
            Request::File(_) => RequestKind::File,
            Request::Http(_) => RequestKind::Http,
            Request::Git(_) => RequestKind::Git,
            Request::Kubernetes(_) => RequestKind::Kubernetes,
        }
    }
}
