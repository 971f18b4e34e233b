//! Applies a connection's policy to everything a client asks the target to
//! run: simple queries, Parse, FunctionCall and startup parameters.
//!
//! The guard keeps the session's prepared statements (SQL `PREPARE` and
//! protocol-level Parse share one namespace in PostgreSQL), so that
//! `EXECUTE name` is judged as the statement it runs rather than waved
//! through or blocked blindly.

use std::collections::HashMap;
use std::sync::Arc;

use portcullis_core::policy::{Action, Policy, Subject, Verdict};
use portcullis_core::statement::StatementInfo;
use portcullis_sql::{Classification, Classifier};

pub struct Guard {
    policy: Arc<Policy>,
    classifier: Arc<Classifier>,
    subject: Subject,
    connection: String,
    prepared: HashMap<String, StatementInfo>,
    /// Protocol-level prepared statements a policy holds for review: every
    /// Bind of one is reviewed with its parameters (a Parse runs nothing).
    held: HashMap<Vec<u8>, Verdict>,
    /// Verdicts by classification: the classifier hands out one shared
    /// classification per statement shape, and for a fixed policy and
    /// subject the verdict depends on nothing else. Holding the `Arc` keeps
    /// its address from being reused while it is a key here.
    verdicts: HashMap<usize, (Classification, Verdict)>,
    /// The session changed its search_path or role: a table name written
    /// without a schema may now resolve in any schema.
    names_unresolved: bool,
}

/// Verdicts a session remembers before it starts over.
const VERDICT_CACHE: usize = 256;

impl Guard {
    pub fn new(
        policy: Arc<Policy>,
        classifier: Arc<Classifier>,
        subject: Subject,
        connection: String,
    ) -> Guard {
        Guard {
            policy,
            classifier,
            subject,
            connection,
            prepared: HashMap::new(),
            held: HashMap::new(),
            verdicts: HashMap::new(),
            names_unresolved: false,
        }
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Judges SQL text; `None` when the policy guards nothing (allow-all),
    /// so the hot path skips classification entirely.
    pub fn judge_sql(&mut self, sql: &[u8]) -> Option<Verdict> {
        self.judge(sql).map(|(verdict, _)| verdict)
    }

    /// The verdict, and the classification when there is one.
    fn judge(&mut self, sql: &[u8]) -> Option<(Verdict, Option<Classification>)> {
        if !self.policy.is_guarded() {
            return None;
        }
        let Ok(text) = std::str::from_utf8(sql) else {
            return Some((
                self.policy.unparseable("the statement is not valid UTF-8"),
                None,
            ));
        };
        let statements = match self.classifier.classify(text) {
            Ok(s) => s,
            Err(e) => return Some((self.policy.unparseable(&e.to_string()), None)),
        };
        // Once the search_path may differ from the default (changed earlier
        // in the session, or anywhere in this text), `public.` is a guess.
        let unresolved = self.names_unresolved
            || statements
                .iter()
                .any(StatementInfo::changes_name_resolution);
        let execute = statements.iter().any(|s| s.command == "EXECUTE");
        // EXECUTE depends on the session's prepared statements: never cached.
        let verdict =
            if execute || (unresolved && statements.iter().any(|s| s.has_assumed_schema())) {
                let judged: Vec<StatementInfo> = statements
                    .iter()
                    .map(|s| {
                        let s = s.resolve_execute(|name| self.prepared.get(name));
                        if unresolved {
                            s.with_unknown_schemas()
                        } else {
                            s
                        }
                    })
                    .collect();
                self.policy.evaluate(&judged, &self.subject)
            } else {
                let key = Arc::as_ptr(&statements) as *const StatementInfo as usize;
                match self.verdicts.get(&key) {
                    Some((_, v)) => v.clone(),
                    None => {
                        let v = self.policy.evaluate(&statements, &self.subject);
                        if self.verdicts.len() >= VERDICT_CACHE {
                            self.verdicts.clear();
                        }
                        self.verdicts.insert(key, (statements.clone(), v.clone()));
                        v
                    }
                }
            };
        if verdict.is_allowed() {
            for s in statements.iter() {
                self.track(s);
            }
        }
        Some((verdict, Some(statements)))
    }

    /// Judges a protocol-level Parse, remembering the statement under `name`.
    pub fn judge_parse(&mut self, name: &[u8], sql: &[u8]) -> Option<Verdict> {
        self.held.remove(name);
        let (verdict, statements) = self.judge(sql)?;
        if verdict.is_allowed()
            && !name.is_empty()
            && let Ok(name) = std::str::from_utf8(name)
            && let Some(statements) = statements
            && let [one] = &statements[..]
        {
            self.prepared
                .entry(name.to_string())
                .or_insert_with(|| one.clone());
        }
        Some(verdict)
    }

    /// A protocol-level Close of a prepared statement.
    pub fn closed(&mut self, name: &[u8]) {
        self.held.remove(name);
        if let Ok(name) = std::str::from_utf8(name) {
            self.prepared.remove(name);
        }
    }

    /// Remembers that Binds of prepared statement `name` need review.
    pub fn hold_prepared(&mut self, name: &[u8], verdict: Verdict) {
        self.held.insert(name.to_vec(), verdict);
    }

    /// The review verdict of a held prepared statement, if it is one.
    pub fn held_statement(&self, name: &[u8]) -> Option<&Verdict> {
        self.held.get(name)
    }

    /// True when `sql` is exactly one statement that changes data: the only
    /// kind the planner is asked to estimate for reviewers.
    pub fn is_single_dml(&self, sql: &[u8]) -> bool {
        let Ok(text) = std::str::from_utf8(sql) else {
            return false;
        };
        matches!(
            self.classifier.classify(text).as_deref(),
            Ok([one]) if one.class == portcullis_core::statement::StatementClass::Write
                && matches!(one.command.as_str(), "INSERT" | "UPDATE" | "DELETE" | "MERGE")
        )
    }

    /// The FunctionCall message calls a function by OID, which no policy
    /// can judge: blocked on every guarded connection.
    pub fn judge_function_call(&self) -> Option<Verdict> {
        if !self.policy.is_guarded() {
            return None;
        }
        Some(self.policy.unparseable(
            "the FunctionCall protocol message calls a function by OID; use SELECT instead",
        ))
    }

    /// Startup parameters other than user and database are settings the
    /// server applies before any statement: each is judged as the `SET` it
    /// amounts to, and `options` must consist of `-c name=value` pairs.
    pub fn judge_startup(&mut self, params: &[(String, String)]) -> Option<Verdict> {
        if !self.policy.is_guarded() {
            return None;
        }
        let mut settings = Vec::new();
        for (name, value) in params {
            if name == "options" {
                match parse_options(value) {
                    Some(pairs) => settings.extend(pairs),
                    None => {
                        return Some(self.policy.unparseable(&format!(
                            "startup option {value:?} is not a list of -c name=value settings"
                        )));
                    }
                }
            } else {
                settings.push((name.clone(), value.clone()));
            }
        }
        let mut worst: Option<Verdict> = None;
        for (name, value) in settings {
            if !is_identifier(&name) {
                return Some(
                    self.policy
                        .unparseable(&format!("startup parameter {name:?} is not a setting name")),
                );
            }
            let sql = format!("SET {name} = '{}'", value.replace('\'', "''"));
            let Some(v) = self.judge_sql(sql.as_bytes()) else {
                continue;
            };
            if worst.as_ref().is_none_or(|w| v.action > w.action) {
                worst = Some(v);
            }
        }
        worst
    }

    /// Keeps the prepared-statement map, and whether names still resolve
    /// as by default, in step with what the server will hold.
    fn track(&mut self, s: &StatementInfo) {
        if s.changes_name_resolution() {
            self.names_unresolved = true;
        }
        match (s.command.as_str(), s.prepared_name.as_deref()) {
            ("PREPARE", Some(name)) => {
                if let Some(inner) = &s.inner {
                    // A duplicate name fails on the server, which keeps the first.
                    self.prepared
                        .entry(name.to_string())
                        .or_insert_with(|| (**inner).clone());
                }
            }
            ("DEALLOCATE", Some("ALL")) => self.prepared.clear(),
            ("DEALLOCATE", Some(name)) => {
                self.prepared.remove(name);
            }
            ("DISCARD", _) => self.prepared.clear(),
            _ => {}
        }
    }

    /// The ErrorResponse fields for a verdict that stops a statement.
    pub fn refusal(&self, v: &Verdict) -> (String, String, String) {
        let rule = v.rule.as_deref().unwrap_or("default");
        let message = match v.action {
            Action::Review => format!(
                "statement requires review (guardrail \"{rule}\" on connection {}); reviews are not enabled on this gateway, so it was not run",
                self.connection
            ),
            _ => format!(
                "blocked by guardrail \"{rule}\" on connection {}",
                self.connection
            ),
        };
        let hint = v.hint.clone().unwrap_or_else(|| {
            "retrying the same statement will not help; ask an administrator if it should be allowed".into()
        });
        (message, v.message.clone(), hint)
    }
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

/// Splits a startup `options` value the way the server does (whitespace
/// separated, backslash escapes the next character) and keeps only
/// `-c name=value` / `--name=value` settings; anything else is `None`.
fn parse_options(value: &str) -> Option<Vec<(String, String)>> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut chars = value.chars();
    let mut in_word = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                word.push(chars.next()?);
                in_word = true;
            }
            c if c.is_ascii_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    let mut out = Vec::new();
    let mut it = words.into_iter();
    while let Some(w) = it.next() {
        let setting = if w == "-c" {
            it.next()?
        } else if let Some(rest) = w.strip_prefix("-c") {
            rest.to_string()
        } else if let Some(rest) = w.strip_prefix("--") {
            rest.to_string()
        } else {
            return None;
        };
        let (name, value) = setting.split_once('=')?;
        out.push((name.replace('-', "_"), value.to_string()));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_split_like_the_server_does() {
        assert_eq!(
            parse_options(
                "-c statement_timeout=5s --search-path=a,b -csession_replication_role=replica"
            ),
            Some(vec![
                ("statement_timeout".into(), "5s".into()),
                ("search_path".into(), "a,b".into()),
                ("session_replication_role".into(), "replica".into()),
            ])
        );
        assert_eq!(
            parse_options(r"-c application_name=a\ b"),
            Some(vec![("application_name".into(), "a b".into())])
        );
        assert_eq!(parse_options("-d 5"), None);
        assert_eq!(parse_options("-c"), None);
        assert_eq!(parse_options("-c novalue"), None);
        assert_eq!(parse_options(""), Some(vec![]));
    }

    fn guard(policy: &str) -> Guard {
        Guard::new(
            Arc::new(Policy::preset(policy).unwrap()),
            Arc::new(Classifier::new(1 << 20)),
            Subject::new("t", vec![]),
            "c".into(),
        )
    }

    #[test]
    fn execute_is_judged_as_what_it_runs() {
        let mut g = guard("no-destructive");
        assert!(g.judge_sql(b"PREPARE ok AS SELECT 1").unwrap().is_allowed());
        assert!(g.judge_sql(b"EXECUTE ok").unwrap().is_allowed());
        assert!(
            !g.judge_sql(b"PREPARE bad AS DELETE FROM t")
                .unwrap()
                .is_allowed()
        );
        // Never prepared (blocked), so EXECUTE stays opaque and is blocked.
        assert!(!g.judge_sql(b"EXECUTE bad").unwrap().is_allowed());
        assert!(g.judge_sql(b"DEALLOCATE ok").unwrap().is_allowed());
        assert!(
            !g.judge_sql(b"EXECUTE ok").unwrap().is_allowed(),
            "deallocated"
        );
        // Protocol-level Parse shares the namespace.
        assert!(
            g.judge_parse(b"s1", b"SELECT $1::int")
                .unwrap()
                .is_allowed()
        );
        assert!(g.judge_sql(b"EXECUTE s1(1)").unwrap().is_allowed());
    }

    #[test]
    fn startup_settings_are_judged_as_sets() {
        let mut g = guard("no-destructive");
        let ok = vec![
            ("application_name".to_string(), "psql".to_string()),
            ("client_encoding".into(), "UTF8".into()),
        ];
        assert!(g.judge_startup(&ok).is_none_or(|v| v.is_allowed()));
        for bad in [
            vec![(
                "options".to_string(),
                "-c session_replication_role=replica".to_string(),
            )],
            vec![(
                "session_replication_role".to_string(),
                "replica".to_string(),
            )],
            vec![("options".to_string(), "-d 5".to_string())],
            vec![("client_encoding".to_string(), "SJIS".to_string())],
            vec![("x'; DROP TABLE t; --".to_string(), "1".to_string())],
        ] {
            assert!(!g.judge_startup(&bad).unwrap().is_allowed(), "{bad:?}");
        }
        assert!(
            guard("allow-all")
                .judge_startup(&[("options".into(), "-d 5".into())])
                .is_none()
        );
    }

    #[test]
    fn non_utf8_and_function_calls_fail_closed() {
        let mut g = guard("read-only");
        assert!(!g.judge_sql(b"SELECT '\xff'").unwrap().is_allowed());
        assert!(!g.judge_function_call().unwrap().is_allowed());
        assert!(!g.judge_sql(b"SELEC 1").unwrap().is_allowed());
    }

    fn custom(json: serde_json::Value) -> Guard {
        let config = serde_json::from_value(json).unwrap();
        Guard::new(
            Arc::new(Policy::compile("p", &config).unwrap()),
            Arc::new(Classifier::new(1 << 20)),
            Subject::new("t", vec![]),
            "c".into(),
        )
    }

    fn allowed(g: &mut Guard, sql: &str) -> bool {
        g.judge_sql(sql.as_bytes()).unwrap().is_allowed()
    }

    /// A rule on `billing.payments` must not be sidestepped by moving the
    /// search_path (or the role, `$user`) so that `payments` resolves there.
    #[test]
    fn unqualified_names_after_a_search_path_change_match_any_schema() {
        let block = || {
            custom(serde_json::json!({
                "default": "allow",
                "rule": [{"name": "pay", "action": "block", "tables_written": ["billing.payments"]}]
            }))
        };
        let mut g = block();
        assert!(
            allowed(&mut g, "UPDATE payments SET n = 1 WHERE id = 1"),
            "public.payments by default"
        );
        assert!(!allowed(
            &mut g,
            "UPDATE billing.payments SET n = 1 WHERE id = 1"
        ));
        assert!(allowed(&mut g, "SET search_path = billing, public"));
        assert!(!allowed(&mut g, "UPDATE payments SET n = 1 WHERE id = 1"));
        assert!(!allowed(
            &mut g,
            "update \"payments\" set n = 1 where id = 1"
        ));
        assert!(!allowed(
            &mut g,
            "WITH x AS (DELETE FROM payments RETURNING 1) SELECT * FROM x"
        ));
        assert!(!allowed(
            &mut g,
            "EXPLAIN ANALYZE UPDATE payments SET n = 1 WHERE id = 1"
        ));
        assert!(
            allowed(&mut g, "UPDATE public.payments SET n = 1 WHERE id = 1"),
            "qualified elsewhere"
        );
        assert!(
            allowed(&mut g, "SELECT * FROM payments"),
            "reads are not covered by the rule"
        );
        // Prepared before the change, run after it: judged at EXECUTE.
        let mut g = block();
        assert!(allowed(
            &mut g,
            "PREPARE up AS UPDATE payments SET n = 1 WHERE id = 1"
        ));
        assert!(allowed(
            &mut g,
            "SELECT set_config('search_path', 'billing', false)"
        ));
        assert!(!allowed(&mut g, "EXECUTE up"));
        // In the same simple query as the change.
        assert!(!allowed(
            &mut block(),
            "SET search_path = billing; UPDATE payments SET n = 1 WHERE id = 1"
        ));
        // Through the role ($user) and through a startup option.
        let mut g = block();
        assert!(allowed(&mut g, "SET ROLE billing"));
        assert!(!allowed(&mut g, "UPDATE payments SET n = 1 WHERE id = 1"));
        let mut g = block();
        let options = [("options".to_string(), "-c search_path=billing".to_string())];
        assert!(g.judge_startup(&options).is_none_or(|v| v.is_allowed()));
        assert!(!allowed(&mut g, "UPDATE payments SET n = 1 WHERE id = 1"));
        // A blocked change changes nothing.
        let mut g = custom(serde_json::json!({
            "default": "allow",
            "rule": [
                {"name": "pay", "action": "block", "tables_written": ["billing.payments"]},
                {"name": "path", "action": "block", "facts": ["search_path_change"]}
            ]
        }));
        assert!(!allowed(&mut g, "SET search_path = billing"));
        assert!(allowed(&mut g, "UPDATE payments SET n = 1 WHERE id = 1"));
    }

    /// Allow rules stay narrow: a schema that cannot be known is covered
    /// only by a pattern that covers every schema.
    #[test]
    fn allow_rules_do_not_cover_unknown_schemas() {
        let mut g = custom(serde_json::json!({
            "default": "block",
            "rule": [
                {"name": "set", "action": "allow", "class": ["session"]},
                {"name": "orders", "action": "allow", "class": ["write"], "tables_written": ["public.orders"]},
                {"name": "notes", "action": "allow", "class": ["write"], "tables_written": ["*.notes"]}
            ]
        }));
        assert!(allowed(&mut g, "UPDATE orders SET n = 1 WHERE id = 1"));
        assert!(allowed(&mut g, "SET search_path = shadow"));
        assert!(!allowed(&mut g, "UPDATE orders SET n = 1 WHERE id = 1"));
        assert!(allowed(
            &mut g,
            "UPDATE public.orders SET n = 1 WHERE id = 1"
        ));
        assert!(allowed(&mut g, "UPDATE notes SET n = 1 WHERE id = 1"));
    }
}
