//! A shell command line, as the shell would run it.

use serde::{Deserialize, Serialize};

use crate::statement::{Fact, StatementClass, StatementInfo};

/// Everything a policy may know about one command line (SSH exec, or a
/// line entered in a guarded shell).
///
/// The classifier parses the line with a shell grammar and lists every
/// simple command it would run: in pipelines and lists, subshells, command
/// and process substitutions, `sh -c` / `bash -c` strings (parsed again),
/// and the commands wrappers run (`sudo`, `env`, `nice`, `timeout`,
/// `xargs`, `find -exec`, `nohup`, `watch`, ...). What cannot be known
/// before the line runs makes it [`StatementClass::Opaque`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandLine {
    /// The line as the client sent it.
    pub text: String,
    /// Every simple command the line runs, in source order, wrappers
    /// unwrapped (the wrapper is named in [`SimpleCommand::via`]).
    pub commands: Vec<SimpleCommand>,
    /// Every class of effect of any command, sorted.
    pub classes: Vec<StatementClass>,
    /// Notable properties of any command, sorted.
    pub facts: Vec<Fact>,
    /// Why the line is opaque, when it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opaque_reason: Option<String>,
    /// SQL run by database clients on the line (`psql -c`, `psql -f -` with
    /// a here-string), classified by the SQL classifier.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sql: Vec<StatementInfo>,
    /// Kubernetes API requests a `kubectl` on the line amounts to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kubernetes: Vec<super::KubeRequest>,
}

/// One simple command after expansion of what can be expanded statically
/// (quote removal, escapes, brace-free literals).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimpleCommand {
    /// The program's name without its directory (`/usr/bin/rm` -> `rm`).
    pub program: String,
    /// The program as written, when it was written with a path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Arguments after quote removal, in order.
    pub args: Vec<String>,
    /// Wrappers this command was found inside, outermost first
    /// (`sudo -u x nice rm` -> `["sudo", "nice"]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub via: Vec<String>,
    /// Redirections applied to it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redirects: Vec<Redirect>,
    /// Classes of this command's effect, sorted.
    pub classes: Vec<StatementClass>,
    /// Paths it reads, writes (including redirect targets) and removes,
    /// as written (relative paths stay relative).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths_read: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths_written: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths_removed: Vec<String>,
    /// Notable properties of this command, sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub facts: Vec<Fact>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RedirectOp {
    /// `<`, `<>` (read side), here-strings and here-documents.
    Read,
    /// `>`, `>|`, `&>`, `<>` (write side).
    Write,
    /// `>>`, `&>>`.
    Append,
    /// `>&N`, `<&N`: between descriptors, no file.
    Duplicate,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redirect {
    pub op: RedirectOp,
    /// The file (or descriptor) after expansion.
    pub target: String,
}
