//! Guardrail policies: named rule sets that judge classified requests.
//!
//! A [`PolicyConfig`] (from `[policy.NAME]`) compiles into a [`Policy`], which
//! judges a [`Request`] of any kind (SQL statements, command lines, SSH
//! channels, file operations, HTTP requests, git pushes, Kubernetes
//! requests) for a [`Subject`] and returns a [`Verdict`]. A policy may hold
//! rules for several kinds: `[policy.prod]` reads the same whichever
//! protocol a connection speaks.
//!
//! # Precedence (deterministic)
//! 1. Rules are ordered: the presets' rules in the order the presets are
//!    listed, then the policy's own rules in file order.
//! 2. For each statement, the rules that apply to the subject and match are
//!    collected; any rule named (or glob-matched) in the `overrides` of another
//!    matching rule is dropped.
//! 3. The most restrictive remaining action wins (block > review > allow); the
//!    first rule in order with that action is cited. No remaining rule: the
//!    policy's `default`.
//! 4. Across the items of one request (statements, simple commands, ref
//!    updates) the most restrictive verdict wins (the earliest on ties): if
//!    one statement is blocked, none runs. Items a request only carries
//!    along (the SQL of a `psql -c`, the API calls of a `kubectl` on a
//!    command line) can make the verdict stricter, never allow through the
//!    default.
//! 5. `observe` mode turns block and review into allow, keeping what would
//!    have happened in `observed_action`.
//!
//! Text that cannot be parsed is judged by [`Policy::unparseable`]: blocked on
//! every policy except an unguarded one (no rules and default allow, as with
//! the `allow-all` preset).

mod agent;
mod config;
mod error;
mod item;
mod preset;
mod preset_protocols;
mod refusal;
mod review;
mod rule;
mod verdict;

use std::sync::Arc;

use sha2::{Digest, Sha256};

pub use agent::{AgentLimits, AgentLimitsConfig};
pub use config::{
    Action, JsonMatchConfig, Mode, PolicyConfig, RecordLevel, RecordMode, RuleConfig,
    UnknownLineage,
};
pub use error::PolicyError;
pub use preset::{PRESET_NAMES, PRESETS_VERSION};
pub use refusal::{Refusal, RefusalReason};
pub use review::{ReviewConfig, ReviewMode, ReviewSettings, WebhookConfig, WebhookFormat};
pub use verdict::{Classified, Subject, Verdict};

use crate::request::{Request, RequestKind};
use crate::statement::StatementInfo;
use item::Item;
use rule::Rule;

/// Rule id cited when a statement could not be classified.
pub const UNPARSEABLE_RULE: &str = "fail-closed/unparseable";

/// A compiled policy.
#[derive(Debug, Clone)]
pub struct Policy {
    name: String,
    version: String,
    mode: Mode,
    default: Action,
    rules: Vec<Rule>,
    /// Positions in `rules` of the rules judging each kind (its own and
    /// the kind-neutral ones), in precedence order.
    by_kind: [Vec<usize>; RequestKind::ALL.len()],
    review: ReviewSettings,
    agent: AgentLimits,
    mask: Vec<portcullis_mask::MaskRuleConfig>,
    mask_unknown: UnknownLineage,
    record: RecordLevel,
    record_mode: RecordMode,
}

/// Key used only to validate `hash` rules at load time; the running gateway
/// compiles mask rules with the deployment's own key.
const VALIDATION_KEY: &[u8] = b"portcullis mask rule validation";

impl Policy {
    /// Compiles the policy `name` from its configuration.
    pub fn compile(name: &str, config: &PolicyConfig) -> Result<Policy, PolicyError> {
        let mut rules: Vec<Rule> = Vec::new();
        for preset in &config.presets {
            let Some(preset_rules) = preset::rules(preset) else {
                return Err(PolicyError::UnknownPreset {
                    policy: name.to_string(),
                    preset: preset.clone(),
                });
            };
            for (id, rule_config) in preset_rules {
                if rules.iter().all(|r| r.id != id) {
                    rules.push(Rule::compile(name, id, &rule_config)?);
                }
            }
        }
        for (index, rule_config) in config.rules.iter().enumerate() {
            let rule_name = rule_config
                .name
                .clone()
                .unwrap_or_else(|| format!("rule-{}", index + 1));
            let id = format!("{name}/{rule_name}");
            if rule_name.is_empty() || rule_name.contains('/') {
                return Err(PolicyError::BadRule {
                    policy: name.to_string(),
                    rule: rule_name,
                    reason: "a rule name must be non-empty and contain no '/'".into(),
                });
            }
            if rules.iter().any(|r| r.id == id) {
                return Err(PolicyError::BadRule {
                    policy: name.to_string(),
                    rule: rule_name,
                    reason: "duplicate rule name".into(),
                });
            }
            rules.push(Rule::compile(name, id, rule_config)?);
        }
        // Every override must name at least one rule: a typo must not
        // silently leave a preset in force (or look like it was disabled).
        for rule in &rules {
            for pattern in &rule.override_patterns {
                let single = Rule::compile(
                    name,
                    rule.id.clone(),
                    &RuleConfig {
                        action: Action::Allow,
                        overrides: vec![pattern.clone()],
                        ..RuleConfig::default()
                    },
                )?;
                if !rules
                    .iter()
                    .any(|other| other.id != rule.id && single.overrides(&other.id))
                {
                    return Err(PolicyError::BadRule {
                        policy: name.to_string(),
                        rule: rule.id.clone(),
                        reason: format!("override \"{pattern}\" names no rule of this policy"),
                    });
                }
            }
        }
        if let Err(e) = portcullis_mask::MaskPolicy::compile(&config.mask, VALIDATION_KEY) {
            return Err(PolicyError::BadMask {
                policy: name.to_string(),
                index: e.rule(),
                reason: e.to_string(),
            });
        }
        let by_kind = RequestKind::ALL.map(|kind| {
            rules
                .iter()
                .enumerate()
                .filter(|(_, r)| r.judges(kind))
                .map(|(i, _)| i)
                .collect()
        });
        Ok(Policy {
            name: name.to_string(),
            version: version(name, config),
            mode: config.mode,
            default: config.default,
            rules,
            by_kind,
            review: ReviewSettings::compile(name, &config.review)?,
            agent: AgentLimits::compile(name, &config.agent)?,
            mask: config.mask.clone(),
            mask_unknown: config.mask_unknown,
            record: config.record,
            record_mode: config.record_mode,
        })
    }

    /// A policy made of one built-in preset, named after it (for
    /// `portcullis policy check --preset NAME`).
    pub fn preset(preset: &str) -> Result<Policy, PolicyError> {
        Policy::compile(
            preset,
            &PolicyConfig {
                presets: vec![preset.to_string()],
                ..PolicyConfig::default()
            },
        )
    }

    /// The policy's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A stable hash of the definition (and of the preset definitions).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Row, byte and time limits for agents (MCP) on this policy.
    pub fn agent_limits(&self) -> AgentLimits {
        self.agent
    }

    /// What sessions under this policy record per statement.
    pub fn record(&self) -> RecordLevel {
        self.record
    }

    /// Whether statements wait for their request event to be stored.
    pub fn record_mode(&self) -> RecordMode {
        self.record_mode
    }

    /// `enforce` or `observe`.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// How this policy's held statements are reviewed.
    pub fn review(&self) -> &ReviewSettings {
        &self.review
    }

    /// False only for a policy that allows everything (no rules, default
    /// allow): such a policy lets even unparseable text through.
    pub fn is_guarded(&self) -> bool {
        !(self.rules.is_empty() && self.default == Action::Allow)
    }

    /// Whether any rule judges requests of `kind` (its own rules or
    /// kind-neutral ones), or the default stops them.
    pub fn guards(&self, kind: RequestKind) -> bool {
        !(self.by_kind[kind.index()].is_empty() && self.default == Action::Allow)
    }

    /// The kinds of request some rule of this policy is written for
    /// (kind-neutral rules count for none).
    pub fn kinds(&self) -> Vec<RequestKind> {
        let mut kinds: Vec<RequestKind> = self.rules.iter().filter_map(|r| r.kind).collect();
        kinds.sort();
        kinds.dedup();
        kinds
    }

    /// The masking rules, as configured (compiled by the adapter with the
    /// deployment's key; already validated here).
    pub fn mask_rules(&self) -> &[portcullis_mask::MaskRuleConfig] {
        &self.mask
    }

    /// Mask or block result columns of unknown lineage that may carry masked data.
    pub fn mask_unknown(&self) -> UnknownLineage {
        self.mask_unknown
    }

    /// Ids of all rules, in precedence order.
    pub fn rule_ids(&self) -> Vec<&str> {
        self.rules.iter().map(|r| r.id.as_str()).collect()
    }

    /// Judges one request of any kind: the most restrictive verdict of its
    /// items (SQL statements go through [`Policy::evaluate`]).
    pub fn judge(&self, request: &Request, subject: &Subject) -> Verdict {
        if let Request::Sql { statements } = request {
            return self.evaluate(statements, subject);
        }
        let kind = request.kind();
        let mut worst: Option<Verdict> = None;
        for (index, judged) in item::items(request).iter().enumerate() {
            let mut verdict = if judged.embedded {
                self.judge_embedded(&judged.item, subject)
            } else {
                self.judge_item(&judged.item, subject)
            };
            verdict.statement = Some(index);
            if worst.as_ref().is_none_or(|w| verdict.action > w.action) {
                worst = Some(verdict);
            }
        }
        let mut verdict = worst.unwrap_or_else(|| {
            self.verdict(
                Action::Allow,
                None,
                format!("no {} to judge", kind.noun()),
                None,
            )
        });
        verdict.kind = kind;
        verdict.classified = Some(Arc::new(Classified::of_request(request)));
        self.apply_mode(verdict)
    }

    /// Judges all statements of one request together (if any is blocked, the
    /// request is). An empty request is allowed: nothing runs.
    pub fn evaluate(&self, statements: &[StatementInfo], subject: &Subject) -> Verdict {
        let mut worst: Option<Verdict> = None;
        for (index, statement) in statements.iter().enumerate() {
            let mut verdict = self.judge_item(&Item::Sql(statement), subject);
            verdict.statement = Some(index);
            if worst.as_ref().is_none_or(|w| verdict.action > w.action) {
                worst = Some(verdict);
            }
        }
        let mut verdict =
            worst.unwrap_or_else(|| self.verdict(Action::Allow, None, "no statement".into(), None));
        verdict.classified = Some(Arc::new(Classified::of(statements)));
        self.apply_mode(verdict)
    }

    /// Judges one statement on its own (for per-statement reports).
    pub fn evaluate_one(&self, statement: &StatementInfo, subject: &Subject) -> Verdict {
        self.apply_mode(self.judge_item(&Item::Sql(statement), subject))
    }

    /// The verdict for text that could not be parsed or classified: block on
    /// every guarded policy, saying why.
    pub fn unparseable(&self, reason: &str) -> Verdict {
        self.unparseable_as(RequestKind::Sql, reason)
    }

    /// [`Policy::unparseable`] for a request of `kind` (the wording names it).
    pub fn unparseable_as(&self, kind: RequestKind, reason: &str) -> Verdict {
        let noun = kind.noun();
        let mut verdict = if self.is_guarded() {
            let mut v = self.verdict(
                Action::Block,
                Some(UNPARSEABLE_RULE.to_string()),
                format!("the {noun} could not be understood, so it is blocked: {reason}"),
                Some(format!(
                    "check the {noun}'s syntax; guarded connections only run {} they can classify",
                    kind.plural()
                )),
            );
            v.reason = Some(RefusalReason::Unparseable);
            v
        } else {
            self.verdict(
                Action::Allow,
                None,
                format!("unguarded policy: unparseable {noun} let through ({reason})"),
                None,
            )
        };
        verdict.kind = kind;
        self.apply_mode(verdict)
    }

    /// The rules that apply to `subject` and match `item`, without those
    /// another of them overrides.
    fn effective(&self, item: &Item<'_>, subject: &Subject) -> Vec<&Rule> {
        let matched: Vec<&Rule> = self.by_kind[item.kind().index()]
            .iter()
            .map(|&i| &self.rules[i])
            .filter(|r| r.applies_to(subject) && r.matches(item))
            .collect();
        matched
            .iter()
            .copied()
            .filter(|r| !matched.iter().any(|o| o.id != r.id && o.overrides(&r.id)))
            .collect()
    }

    fn judge_item(&self, item: &Item<'_>, subject: &Subject) -> Verdict {
        let effective = self.effective(item, subject);
        let sql = matches!(item, Item::Sql(_));
        let Some(action) = effective.iter().map(|r| r.action).max() else {
            return match self.default {
                Action::Allow => {
                    self.verdict(Action::Allow, None, "allowed: no rule matched".into(), None)
                }
                action => {
                    let mut v = self.verdict(
                        action,
                        Some(format!("{}/default", self.name)),
                        format!(
                            "no rule of policy {} allows this {} {}",
                            self.name,
                            item.label(),
                            item.kind().noun()
                        ),
                        Some("ask an operator to add an allow rule for it".into()),
                    );
                    v.reason = Some(reason_of(action));
                    v
                }
            };
        };
        self.cite(&effective, action, item, sql)
    }

    /// An item carried along by a request: only rules that stop it count.
    fn judge_embedded(&self, item: &Item<'_>, subject: &Subject) -> Verdict {
        let effective = self.effective(item, subject);
        match effective.iter().map(|r| r.action).max() {
            Some(action) if action != Action::Allow => {
                self.cite(&effective, action, item, matches!(item, Item::Sql(_)))
            }
            _ => self.verdict(
                Action::Allow,
                None,
                "allowed: no rule stops it".into(),
                None,
            ),
        }
    }

    /// The verdict citing the first rule with `action`.
    fn cite(&self, effective: &[&Rule], action: Action, item: &Item<'_>, sql: bool) -> Verdict {
        let Some(rule) = effective.iter().find(|r| r.action == action) else {
            let mut v = self.verdict(
                Action::Block,
                Some(UNPARSEABLE_RULE.into()),
                "internal policy error".into(),
                None,
            );
            v.reason = Some(RefusalReason::Guardrail);
            return v;
        };
        let message = rule.message.clone().unwrap_or_else(|| {
            // SQL messages name the command alone, as they always have.
            let what = if sql {
                item.label().into_owned()
            } else {
                format!("this {} {}", item.label(), item.kind().noun())
            };
            match action {
                Action::Allow => format!("allowed by rule {}", rule.id),
                Action::Review => format!("{what} needs review (rule {})", rule.id),
                Action::Block => format!("{what} is not allowed (rule {})", rule.id),
            }
        });
        let mut v = self.verdict(action, Some(rule.id.clone()), message, rule.hint.clone());
        if action != Action::Allow {
            v.reason = Some(reason_of(action));
        }
        v
    }

    fn verdict(
        &self,
        action: Action,
        rule: Option<String>,
        message: String,
        hint: Option<String>,
    ) -> Verdict {
        Verdict {
            action,
            rule,
            policy: self.name.clone(),
            policy_version: self.version.clone(),
            message,
            hint,
            observed: false,
            observed_action: None,
            statement: None,
            classified: None,
            kind: RequestKind::Sql,
            reason: None,
        }
    }

    fn apply_mode(&self, mut verdict: Verdict) -> Verdict {
        if self.mode == Mode::Observe && verdict.action != Action::Allow {
            verdict.observed = true;
            verdict.observed_action = Some(verdict.action);
            verdict.action = Action::Allow;
        }
        verdict
    }
}

/// The machine-readable reason of a rule's (or the default's) action.
fn reason_of(action: Action) -> RefusalReason {
    match action {
        Action::Review => RefusalReason::ReviewRequired,
        _ => RefusalReason::Guardrail,
    }
}

/// Stable hash of a policy definition and the preset definitions it may use.
fn version(name: &str, config: &PolicyConfig) -> String {
    let mut hasher = Sha256::new();
    hasher.update(PRESETS_VERSION.as_bytes());
    hasher.update([0]);
    hasher.update(name.as_bytes());
    hasher.update([0]);
    // Serializing a plain struct is deterministic (field order is fixed); it
    // cannot fail for these types, and an empty body would still be stable.
    hasher.update(serde_json::to_vec(config).unwrap_or_default());
    hex::encode(&hasher.finalize()[..16])
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_kinds;
