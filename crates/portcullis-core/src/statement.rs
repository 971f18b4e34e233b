//! Protocol-agnostic classification of one statement.
//!
//! A protocol adapter asks its classifier (for PostgreSQL: `portcullis-sql`)
//! to turn request text into one [`StatementInfo`] per statement; policies
//! match only on these fields, never on raw bytes, so every adapter gets the
//! same guardrails.

use serde::{Deserialize, Serialize};

/// The broad kind of effect a statement has.
///
/// A statement can have several (`CREATE TABLE x AS SELECT ...` is `ddl`,
/// `write` and `read`); [`StatementInfo::classes`] lists all of them and
/// [`StatementInfo::class`] names the most significant one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatementClass {
    /// Reads data and changes nothing (SELECT, SHOW, EXPLAIN without ANALYZE).
    Read,
    /// Transaction control (BEGIN, COMMIT, SAVEPOINT, SET TRANSACTION).
    Transaction,
    /// Changes only the state of this session (SET, RESET, PREPARE, LISTEN).
    Session,
    /// Changes data (INSERT, UPDATE, DELETE, MERGE, COPY FROM, nextval, ...).
    Write,
    /// Opens connections to other hosts (SSH `curl`, `nc`, forwarding).
    Network,
    /// Changes the schema (CREATE, ALTER, DROP, COMMENT, ...).
    Ddl,
    /// Changes privileges or roles (GRANT, REVOKE, CREATE ROLE, ALTER ROLE, ...).
    Dcl,
    /// Destroys data or objects in a way a guardrail should stop by default
    /// (shell: recursive removal, `mkfs`; Kubernetes: deleting namespaces).
    Destructive,
    /// Acts on the server as a whole (VACUUM, CHECKPOINT, ALTER SYSTEM,
    /// pg_terminate_backend, server-side files, ...).
    Admin,
    /// Its effect cannot be known before it runs (DO, CALL, EXECUTE, LOAD,
    /// functions that run SQL held in strings).
    Opaque,
}

impl StatementClass {
    /// Every class, in increasing order of significance.
    pub const ALL: [StatementClass; 10] = [
        StatementClass::Read,
        StatementClass::Transaction,
        StatementClass::Session,
        StatementClass::Write,
        StatementClass::Network,
        StatementClass::Ddl,
        StatementClass::Dcl,
        StatementClass::Destructive,
        StatementClass::Admin,
        StatementClass::Opaque,
    ];

    /// The lowercase name used in configuration and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            StatementClass::Read => "read",
            StatementClass::Transaction => "transaction",
            StatementClass::Session => "session",
            StatementClass::Write => "write",
            StatementClass::Network => "network",
            StatementClass::Ddl => "ddl",
            StatementClass::Dcl => "dcl",
            StatementClass::Destructive => "destructive",
            StatementClass::Admin => "admin",
            StatementClass::Opaque => "opaque",
        }
    }
}

impl std::fmt::Display for StatementClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A notable property of a statement that guardrails match on.
///
/// Facts describe the whole tree: a fact raised by a DELETE inside a CTE is a
/// fact of the statement that contains it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fact {
    /// An UPDATE or DELETE without a WHERE clause: it touches every row.
    NoWhere,
    /// An UPDATE, DELETE or MERGE whose condition is always true
    /// (`WHERE true`, `1=1`, `id = id`, `x OR true`, `NOT false`, ...).
    AlwaysTrueWhere,
    /// A data-modifying statement inside a WITH clause.
    CteWrite,
    /// A data-modifying statement below the top of the tree (CTE, COPY
    /// query, EXPLAIN ANALYZE, rule action, subquery).
    NestedWrite,
    /// `EXPLAIN ANALYZE`: the explained statement really runs.
    ExplainAnalyze,
    /// `COPY ... FROM`: loads rows into a table.
    CopyFrom,
    /// `COPY ... PROGRAM`: runs a shell command on the database server.
    CopyProgram,
    /// `COPY` to or from a file on the database server.
    CopyServerFile,
    /// `SELECT ... INTO` or `CREATE TABLE ... AS`: creates and fills a table.
    CreatesTable,
    /// Calls a function known to change data (nextval, setval, lo_unlink, ...).
    WriteFunction,
    /// Calls a function known to act on the server (pg_terminate_backend, ...).
    AdminFunction,
    /// Defines a function or procedure whose body is not inspected.
    FunctionBody,
    /// Changes a setting that alters how later statement text is lexed
    /// (`standard_conforming_strings`, `backslash_quote`, `client_encoding`).
    LexingSetting,
    /// Sets `session_replication_role` to something other than `origin`:
    /// triggers and foreign-key checks stop firing.
    ReplicationRoleSetting,
    /// Changes the current role (`SET ROLE`, `SET SESSION AUTHORIZATION`).
    RoleChange,
    /// Changes `search_path`: unqualified names may then resolve elsewhere.
    SearchPathChange,
    /// `ALTER TABLE ... DROP COLUMN`: data in that column is lost.
    DropColumn,
    /// `SELECT ... FOR UPDATE/SHARE`: takes row locks.
    LockingRead,
    /// Shell: removes recursively (`rm -r`, `find -delete`, `shred` of trees).
    RecursiveRemove,
    /// Shell: writes a block device or makes a filesystem (`dd of=/dev/..`, `mkfs`, `> /dev/sda`).
    DeviceWrite,
    /// Shell: shuts down, reboots or halts the host.
    PowerControl,
    /// Shell: kills init or every process (`kill -9 1`, `kill -1`, `killall5`).
    KillAll,
    /// Shell: flushes or disables the firewall (`iptables -F`, `nft flush ruleset`, `ufw disable`).
    FirewallFlush,
    /// Shell: stops, disables or masks a service.
    ServiceStop,
    /// Shell: changes owner or mode recursively (`chmod -R`, `chown -R`).
    RecursivePermission,
    /// Runs with more privilege: `sudo`/`su`/`doas`, or a Kubernetes container allowing privilege escalation.
    PrivilegeEscalation,
    /// Shell: hands code to an interpreter (`python -c`, `| sh`, here-documents into shells).
    Interpreter,
    /// Kubernetes: a container runs privileged.
    PrivilegedContainer,
    /// Kubernetes: a pod mounts a hostPath volume.
    HostPath,
    /// Kubernetes: a pod shares the host's network, PID or IPC namespace.
    HostNamespace,
    /// Kubernetes: a container runs as user 0.
    RunAsRoot,
    /// Kubernetes: a container adds Linux capabilities.
    AddedCapabilities,
}

impl Fact {
    /// Every fact, for validating configuration.
    pub const ALL: [Fact; 32] = [
        Fact::NoWhere,
        Fact::AlwaysTrueWhere,
        Fact::CteWrite,
        Fact::NestedWrite,
        Fact::ExplainAnalyze,
        Fact::CopyFrom,
        Fact::CopyProgram,
        Fact::CopyServerFile,
        Fact::CreatesTable,
        Fact::WriteFunction,
        Fact::AdminFunction,
        Fact::FunctionBody,
        Fact::LexingSetting,
        Fact::ReplicationRoleSetting,
        Fact::RoleChange,
        Fact::SearchPathChange,
        Fact::DropColumn,
        Fact::LockingRead,
        Fact::RecursiveRemove,
        Fact::DeviceWrite,
        Fact::PowerControl,
        Fact::KillAll,
        Fact::FirewallFlush,
        Fact::ServiceStop,
        Fact::RecursivePermission,
        Fact::PrivilegeEscalation,
        Fact::Interpreter,
        Fact::PrivilegedContainer,
        Fact::HostPath,
        Fact::HostNamespace,
        Fact::RunAsRoot,
        Fact::AddedCapabilities,
    ];

    /// The snake_case name used in configuration and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Fact::NoWhere => "no_where",
            Fact::AlwaysTrueWhere => "always_true_where",
            Fact::CteWrite => "cte_write",
            Fact::NestedWrite => "nested_write",
            Fact::ExplainAnalyze => "explain_analyze",
            Fact::CopyFrom => "copy_from",
            Fact::CopyProgram => "copy_program",
            Fact::CopyServerFile => "copy_server_file",
            Fact::CreatesTable => "creates_table",
            Fact::WriteFunction => "write_function",
            Fact::AdminFunction => "admin_function",
            Fact::FunctionBody => "function_body",
            Fact::LexingSetting => "lexing_setting",
            Fact::ReplicationRoleSetting => "replication_role_setting",
            Fact::RoleChange => "role_change",
            Fact::SearchPathChange => "search_path_change",
            Fact::DropColumn => "drop_column",
            Fact::LockingRead => "locking_read",
            Fact::RecursiveRemove => "recursive_remove",
            Fact::DeviceWrite => "device_write",
            Fact::PowerControl => "power_control",
            Fact::KillAll => "kill_all",
            Fact::FirewallFlush => "firewall_flush",
            Fact::ServiceStop => "service_stop",
            Fact::RecursivePermission => "recursive_permission",
            Fact::PrivilegeEscalation => "privilege_escalation",
            Fact::Interpreter => "interpreter",
            Fact::PrivilegedContainer => "privileged_container",
            Fact::HostPath => "host_path",
            Fact::HostNamespace => "host_namespace",
            Fact::RunAsRoot => "run_as_root",
            Fact::AddedCapabilities => "added_capabilities",
        }
    }

    /// Parses the snake_case name; `None` for an unknown fact.
    pub fn parse(name: &str) -> Option<Fact> {
        Fact::ALL.into_iter().find(|f| f.as_str() == name)
    }
}

impl std::fmt::Display for Fact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A run-time setting a statement changes (SET, RESET, `set_config`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingChange {
    /// Lowercase setting name (`search_path`, `timezone`, ...); `all` for `RESET ALL`.
    pub name: String,
    /// The new value as written, when it is a constant; `None` for RESET,
    /// `SET ... TO DEFAULT` or a value computed at run time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// True for `SET LOCAL` / `set_config(..., true)`: lasts until the transaction ends.
    #[serde(default)]
    pub local: bool,
}

/// Everything a policy may know about one statement.
///
/// Built so that equal statement *shapes* (same text up to literal values)
/// yield equal classifications unless a field depends on a literal, which is
/// what lets classifiers cache by shape.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementInfo {
    /// Canonical uppercase command: SELECT, INSERT, UPDATE, DELETE, MERGE,
    /// TRUNCATE, DROP, ALTER, CREATE, GRANT, REVOKE, COPY, SET, RESET, SHOW, DO,
    /// CALL, EXPLAIN, PREPARE, EXECUTE, DEALLOCATE, BEGIN, COMMIT, ROLLBACK, ...
    pub command: String,
    /// What a CREATE/ALTER/DROP/... acts on: TABLE, INDEX, DATABASE, ROLE,
    /// EXTENSION, SYSTEM, FUNCTION, ... (`None` when it does not apply).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_type: Option<String>,
    /// The most significant class of [`StatementInfo::classes`].
    pub class: StatementClass,
    /// Every class of effect found anywhere in the statement, sorted.
    pub classes: Vec<StatementClass>,
    /// Tables, views and sequences the statement reads, schema-qualified
    /// (unqualified names become `public.name`, or `pg_catalog.name` for names
    /// starting with `pg_`), sorted and without duplicates.
    pub tables_read: Vec<String>,
    /// Relations whose data or definition the statement changes (DML targets,
    /// DDL/DCL targets, COPY FROM targets), schema-qualified, sorted.
    pub tables_written: Vec<String>,
    /// Entries of `tables_read`/`tables_written` written without a schema,
    /// whose `public.` is an assumption: once a session changes its
    /// search_path (or role), the guard judges them as [`ANY_SCHEMA`]`.name`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assumed_schema: Vec<String>,
    /// Functions called, lowercase, schema-qualified where written (a leading
    /// `pg_catalog.` is dropped), sorted.
    pub functions: Vec<String>,
    /// Notable properties, sorted.
    pub facts: Vec<Fact>,
    /// Settings changed by SET/RESET/`set_config`.
    pub settings: Vec<SettingChange>,
    /// Names of other objects a DDL/DCL statement acts on (roles, databases,
    /// functions, extensions, ...), as written, lowercase.
    pub objects: Vec<String>,
    /// Why the statement is opaque, when it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opaque_reason: Option<String>,
    /// Name of the prepared statement a PREPARE defines or an EXECUTE /
    /// DEALLOCATE refers to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prepared_name: Option<String>,
    /// The classification of the statement inside PREPARE or EXPLAIN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inner: Option<Box<StatementInfo>>,
    /// The statement with literals replaced by `$n` and comments removed;
    /// what policy regular expressions run over.
    pub normalized: String,
}

fn s_contains(sorted: &[String], name: &String) -> bool {
    sorted.binary_search(name).is_ok()
}

/// The schema of a table name whose schema cannot be known: block and
/// review rules naming the table in any schema match it, allow rules only
/// when they allow it in every schema.
pub const ANY_SCHEMA: &str = "*";

impl StatementInfo {
    /// True when the statement may change how later unqualified names
    /// resolve: it sets `search_path`, or the role (whose name is the
    /// `$user` entry of the default path).
    pub fn changes_name_resolution(&self) -> bool {
        self.has_fact(Fact::SearchPathChange)
            || self.has_fact(Fact::RoleChange)
            || self
                .inner
                .as_ref()
                .is_some_and(|i| i.changes_name_resolution())
    }

    /// Whether any table name (here or in the inner statement) was written
    /// without a schema.
    pub fn has_assumed_schema(&self) -> bool {
        !self.assumed_schema.is_empty()
            || self.inner.as_ref().is_some_and(|i| i.has_assumed_schema())
    }

    /// The same statement with every table name written without a schema
    /// moved to [`ANY_SCHEMA`]: how it is judged once the session's
    /// search_path is no longer the default.
    pub fn with_unknown_schemas(&self) -> StatementInfo {
        let mut s = self.clone();
        let unknown = |name: &String| -> String {
            if s_contains(&self.assumed_schema, name) {
                let table = name.rsplit_once('.').map_or(name.as_str(), |(_, t)| t);
                format!("{ANY_SCHEMA}.{table}")
            } else {
                name.clone()
            }
        };
        s.tables_read = self.tables_read.iter().map(unknown).collect();
        s.tables_written = self.tables_written.iter().map(unknown).collect();
        s.assumed_schema.clear();
        s.inner = self
            .inner
            .as_ref()
            .map(|i| Box::new(i.with_unknown_schemas()));
        s
    }

    /// True when any class of the statement is `class`.
    pub fn has_class(&self, class: StatementClass) -> bool {
        self.classes.contains(&class)
    }

    /// True when the statement has `fact`.
    pub fn has_fact(&self, fact: Fact) -> bool {
        self.facts.contains(&fact)
    }

    /// `command` followed by `object_type` when there is one ("DROP TABLE").
    pub fn full_command(&self) -> String {
        match &self.object_type {
            Some(object) => format!("{} {}", self.command, object),
            None => self.command.clone(),
        }
    }

    /// Resolves an `EXECUTE name` against the session's prepared statements.
    ///
    /// Returns the prepared statement's classification with command
    /// `EXECUTE` and `prepared_name` set, so policies judge what really runs.
    /// Any other statement, or an EXECUTE whose name `lookup` does not know,
    /// is returned unchanged (and stays opaque, which guarded policies block).
    pub fn resolve_execute<'a>(
        &self,
        lookup: impl Fn(&str) -> Option<&'a StatementInfo>,
    ) -> StatementInfo {
        if self.command != "EXECUTE" {
            return self.clone();
        }
        let Some(name) = self.prepared_name.as_deref() else {
            return self.clone();
        };
        let Some(prepared) = lookup(name) else {
            return self.clone();
        };
        let mut resolved = prepared.clone();
        // The EXECUTE's own parameters may call functions: keep them.
        for function in &self.functions {
            if !resolved.functions.contains(function) {
                resolved.functions.push(function.clone());
            }
        }
        resolved.functions.sort();
        for class in &self.classes {
            if *class != StatementClass::Opaque && !resolved.classes.contains(class) {
                resolved.classes.push(*class);
            }
        }
        for fact in &self.facts {
            if !resolved.facts.contains(fact) {
                resolved.facts.push(*fact);
            }
        }
        resolved.facts.sort();
        resolved.classes.sort();
        resolved.class = resolved
            .classes
            .last()
            .copied()
            .unwrap_or(StatementClass::Opaque);
        resolved.command = "EXECUTE".to_string();
        resolved.prepared_name = Some(name.to_string());
        resolved.inner = Some(Box::new(prepared.clone()));
        resolved.normalized = self.normalized.clone();
        resolved
    }
}
