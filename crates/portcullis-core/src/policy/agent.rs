//! What agents get back under a policy: `[policy.NAME.agent]`.
//!
//! Agents put every result into a prompt, so the MCP `query` tool caps rows
//! and bytes (and says when it did), and bounds how long a statement may run
//! on the target (`statement_timeout`), instead of relying on the agent to
//! write a sensible `LIMIT`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::PolicyError;

/// As written in the configuration; every field is optional.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentLimitsConfig {
    /// Rows returned to the agent at most (default 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_rows: Option<usize>,
    /// Bytes of cell text returned to the agent at most (default 256 KiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_bytes: Option<usize>,
    /// The target's `statement_timeout` for agent sessions, e.g. `"30s"` (default 30s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statement_timeout: Option<String>,
}

impl AgentLimitsConfig {
    /// Unset tables are not serialized, so they leave the policy version as it was.
    pub fn is_unset(&self) -> bool {
        *self == AgentLimitsConfig::default()
    }
}

/// The limits in force for agents on a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AgentLimits {
    pub max_rows: usize,
    pub max_bytes: usize,
    pub statement_timeout: Duration,
}

impl Default for AgentLimits {
    fn default() -> Self {
        AgentLimits {
            max_rows: 1000,
            max_bytes: 256 * 1024,
            statement_timeout: Duration::from_secs(30),
        }
    }
}

impl AgentLimits {
    pub(crate) fn compile(policy: &str, c: &AgentLimitsConfig) -> Result<AgentLimits, PolicyError> {
        let d = AgentLimits::default();
        let bad = |reason: String| PolicyError::BadRule {
            policy: policy.to_string(),
            rule: "agent".into(),
            reason,
        };
        let statement_timeout = match &c.statement_timeout {
            None => d.statement_timeout,
            Some(s) => humantime::parse_duration(s)
                .map_err(|e| bad(format!("statement_timeout {s:?}: {e}")))?,
        };
        if statement_timeout.is_zero() {
            return Err(bad(
                "statement_timeout must be positive (agents must not run unbounded statements)"
                    .into(),
            ));
        }
        let max_rows = c.max_rows.unwrap_or(d.max_rows);
        let max_bytes = c.max_bytes.unwrap_or(d.max_bytes);
        if max_rows == 0 || max_bytes == 0 {
            return Err(bad("max_rows and max_bytes must be positive".into()));
        }
        Ok(AgentLimits {
            max_rows,
            max_bytes,
            statement_timeout,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let d = AgentLimits::compile("p", &AgentLimitsConfig::default()).unwrap();
        assert_eq!(d, AgentLimits::default());
        let c = AgentLimitsConfig {
            max_rows: Some(5),
            max_bytes: None,
            statement_timeout: Some("1500ms".into()),
        };
        let l = AgentLimits::compile("p", &c).unwrap();
        assert_eq!(l.max_rows, 5);
        assert_eq!(l.statement_timeout, Duration::from_millis(1500));
        let zero = AgentLimitsConfig {
            statement_timeout: Some("0s".into()),
            ..Default::default()
        };
        assert!(AgentLimits::compile("p", &zero).is_err());
        let junk = AgentLimitsConfig {
            statement_timeout: Some("soon".into()),
            ..Default::default()
        };
        assert!(AgentLimits::compile("p", &junk).is_err());
    }
}
