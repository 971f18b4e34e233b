//! Policy configuration as written under `[policy.NAME]`.

use serde::{Deserialize, Serialize};

use super::AgentLimitsConfig;
use crate::request::RequestKind;
use crate::statement::StatementClass;

/// What a policy decides for a statement.
///
/// Ordered by restrictiveness: when several rules match, the greatest wins.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Let the statement run.
    #[default]
    Allow,
    /// Hold the statement until reviewers approve it (see `[policy.NAME.review]`).
    Review,
    /// Refuse the statement.
    Block,
}

impl Action {
    /// The lowercase name used in configuration and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Review => "review",
            Action::Block => "block",
        }
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a policy's decisions are applied.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Block and review verdicts take effect.
    #[default]
    Enforce,
    /// Verdicts are recorded as what would have happened; everything runs.
    Observe,
}

/// One named policy, as configured.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// Built-in rule sets to include: `allow-all`, `read-only`,
    /// `no-destructive`, `production`.
    #[serde(default)]
    pub presets: Vec<String>,
    /// `enforce` (default) or `observe`.
    #[serde(default)]
    pub mode: Mode,
    /// Action when no rule matches a statement (default `allow`).
    #[serde(default = "default_action")]
    pub default: Action,
    /// The policy's own rules, in order (`[[policy.NAME.rule]]`).
    #[serde(default, rename = "rule")]
    pub rules: Vec<RuleConfig>,
    /// How statements held by `review` rules are reviewed.
    #[serde(default)]
    pub review: super::review::ReviewConfig,
    /// Limits for agents (`[policy.NAME.agent]`): rows, bytes, statement timeout.
    #[serde(default, skip_serializing_if = "AgentLimitsConfig::is_unset")]
    pub agent: AgentLimitsConfig,
    /// Masking rules (`[[policy.NAME.mask]]`), applied to every result,
    /// error, notice and notification on connections under this policy.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mask: Vec<portcullis_mask::MaskRuleConfig>,
    /// What happens when a result column's lineage cannot be worked out and
    /// the statement reads a masked column: mask the whole column (default)
    /// or block the statement.
    #[serde(default, skip_serializing_if = "is_default_unknown")]
    pub mask_unknown: UnknownLineage,
    /// What sessions under this policy record per statement: `full`
    /// (default), `statements` or `off`.
    #[serde(default, skip_serializing_if = "RecordLevel::is_default")]
    pub record: RecordLevel,
    /// `batched` (default) or `strict`: hold each statement until its
    /// request event is stored.
    #[serde(default, skip_serializing_if = "RecordMode::is_default")]
    pub record_mode: RecordMode,
}

/// How much of each statement a session records. Session open and close
/// are recorded at every level: they are the audit trail of who connected.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordLevel {
    /// Request and response events, with the masked result rows (capped).
    #[default]
    Full,
    /// Request and response events without result rows.
    Statements,
    /// No statement events.
    Off,
}

impl RecordLevel {
    fn is_default(&self) -> bool {
        *self == RecordLevel::Full
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RecordLevel::Full => "full",
            RecordLevel::Statements => "statements",
            RecordLevel::Off => "off",
        }
    }
}

/// When a statement may go to the target relative to its request event.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordMode {
    /// Events are queued and written in batches; a crash can lose the last
    /// few milliseconds of them.
    #[default]
    Batched,
    /// A statement is sent only once its request event is committed; if the
    /// store cannot confirm it in time the statement is refused.
    Strict,
}

impl RecordMode {
    fn is_default(&self) -> bool {
        *self == RecordMode::Batched
    }
}

fn is_default_unknown(u: &UnknownLineage) -> bool {
    *u == UnknownLineage::Mask
}

/// The policy's choice for result columns of unknown lineage on statements
/// that read a masked column.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnknownLineage {
    /// Mask the whole column (redacted text, or NULL for other types).
    #[default]
    Mask,
    /// Refuse the result with an error.
    Block,
}

fn default_action() -> Action {
    Action::Allow
}

/// One rule. Every criterion given must match (AND); each list matches if
/// any of its entries does (see the crate docs for allow rules, which are
/// narrower). A rule without criteria matches every statement.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// Name, unique within the policy; the verdict cites `POLICY/NAME`.
    /// Defaults to `rule-N` (its position, from 1).
    #[serde(default)]
    pub name: Option<String>,
    /// `allow`, `block` or `review`.
    pub action: Action,
    /// The kind of request the rule judges (`sql`, `command`, `channel`,
    /// `file`, `http`, `git`, `kubernetes`). Inferred from the criteria
    /// when absent; a rule with only kind-neutral criteria (`class`,
    /// `facts`, `regex`, `identities`, `groups`) judges every kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<RequestKind>,
    /// Statement classes (`read`, `write`, `ddl`, `dcl`, `admin`,
    /// `transaction`, `session`, `opaque`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<Vec<StatementClass>>,
    /// Commands, optionally with object type: `DROP`, `DROP TABLE`, `ALTER SYSTEM`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// Glob patterns over every table the statement reads or writes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tables: Option<Vec<String>>,
    /// Glob patterns over tables read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tables_read: Option<Vec<String>>,
    /// Glob patterns over tables written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tables_written: Option<Vec<String>>,
    /// Glob patterns over functions called.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub functions: Option<Vec<String>>,
    /// Facts (`no_where`, `always_true_where`, `copy_program`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub facts: Option<Vec<String>>,
    /// Glob patterns over names of settings changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<Vec<String>>,
    /// Last resort: a regular expression over the normalized statement
    /// (comments removed, literals replaced by `$n`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
    /// Only for these identities (glob patterns).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identities: Option<Vec<String>>,
    /// Only for members of these groups (glob patterns).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<String>>,
    /// For `allow`/`review` rules: rule ids (`no-destructive/opaque`, or a
    /// glob such as `no-destructive/*`) this rule exempts matching statements from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<String>,
    /// Message shown when this rule blocks or holds a statement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Hint shown with the message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// Built-in only: matches statements changing a setting outside these patterns.
    #[serde(skip)]
    pub(crate) settings_outside: Option<Vec<String>>,

    // Command lines (SSH exec, lines typed into a guarded shell).
    /// Glob patterns over the programs run (`rm`, `systemctl`); wrappers
    /// such as `sudo` count as programs too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub programs: Option<Vec<String>>,
    /// Glob patterns over the arguments of a program.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
    /// Glob patterns over paths a command reads, writes (redirections
    /// included) or removes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paths_read: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paths_written: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paths_removed: Option<Vec<String>>,

    // SSH channels and channel requests.
    /// Channel kinds: `shell`, `subsystem`, `direct-tcpip`,
    /// `tcpip-forward`, `agent-forward`, `x11`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels: Option<Vec<String>>,
    /// Glob patterns over subsystem names (`sftp`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subsystems: Option<Vec<String>>,
    /// Glob patterns over `host:port` a forwarding connects to or listens on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destinations: Option<Vec<String>>,

    // File operations (SFTP, scp).
    /// `read`, `write`, `remove`, `rename`, `mkdir`, `rmdir`, `setstat`,
    /// `list`, `symlink`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operations: Option<Vec<String>>,
    /// Glob patterns over paths: file paths for file rules, request paths
    /// for HTTP rules (set `kind` when no other criterion says which).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paths: Option<Vec<String>>,

    // HTTP requests.
    /// Methods, `GET`, `POST`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub methods: Option<Vec<String>>,
    /// Query parameters: `name` (present) or `name=GLOB` (a value matches).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<Vec<String>>,
    /// Headers, like `query`; names are case-insensitive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<Vec<String>>,
    /// Glob patterns over the media type (`application/json`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_types: Option<Vec<String>>,
    /// JSON body fields: a JSON pointer and value globs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<Vec<JsonMatchConfig>>,

    // Git pushes.
    /// Glob patterns over full ref names (`refs/heads/main`, `refs/tags/*`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refs: Option<Vec<String>>,
    /// `create`, `update`, `non_fast_forward`, `delete`, `unknown`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ref_updates: Option<Vec<String>>,

    // Kubernetes API requests.
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`,
    /// `deletecollection`, `exec`, `attach`, `portforward`, `proxy`, `log`,
    /// `discovery`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verbs: Option<Vec<String>>,
    /// API groups, `""` for the core group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_groups: Option<Vec<String>>,
    /// Glob patterns over resources, `deployments`, or `pods/exec` for a
    /// subresource (a pattern without `/` matches any subresource).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Vec<String>>,
    /// Glob patterns over namespaces (cluster-scoped requests have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespaces: Option<Vec<String>>,
    /// Glob patterns over object names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub names: Option<Vec<String>>,
    /// Glob patterns over container images of pod templates in the body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub images: Option<Vec<String>>,
}

/// One JSON body condition: the value at `pointer` (RFC 6901) matches one
/// of `values` (globs over its text: strings as they are, other values as
/// compact JSON); without `values`, the field only has to exist.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonMatchConfig {
    pub pointer: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<String>>,
}
