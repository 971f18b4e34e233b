//! What calling a built-in function does, beyond computing a value.
//!
//! Matched on the function's bare name in any schema (an extension installed
//! in schema `ext` still exposes `ext.dblink_exec`), which over-matches a user
//! function of the same name rather than missing a dangerous one.

/// The side effect of calling a function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Effect {
    /// Changes data (sequences, large objects, notifications).
    Write,
    /// Acts on the server, other sessions or server files.
    Admin,
    /// Changes a run-time setting of this session (`set_config`).
    Setting,
    /// Runs SQL held in a string, locally or on another server.
    RunsSql,
}

/// Functions that change data.
const WRITE: &[&str] = &[
    "nextval",
    "setval",
    "lo_create",
    "lo_creat",
    "lo_unlink",
    "lo_put",
    "lo_from_bytea",
    "lo_truncate",
    "lo_truncate64",
    "lowrite",
    "lo_import",
    "lo_export",
    "pg_notify",
    "pg_logical_emit_message",
    "pg_file_write",
    "pg_file_rename",
    "pg_file_unlink",
    "pg_file_sync",
];

/// Functions that act on the server, other sessions or server files.
const ADMIN: &[&str] = &[
    "pg_terminate_backend",
    "pg_cancel_backend",
    "pg_reload_conf",
    "pg_rotate_logfile",
    "pg_promote",
    "pg_switch_wal",
    "pg_create_restore_point",
    "pg_backup_start",
    "pg_backup_stop",
    "pg_wal_replay_pause",
    "pg_wal_replay_resume",
    "pg_create_physical_replication_slot",
    "pg_create_logical_replication_slot",
    "pg_drop_replication_slot",
    "pg_copy_physical_replication_slot",
    "pg_copy_logical_replication_slot",
    "pg_replication_slot_advance",
    "pg_replication_origin_create",
    "pg_replication_origin_drop",
    "pg_replication_origin_advance",
    "pg_replication_origin_session_setup",
    "pg_stat_reset",
    "pg_stat_reset_shared",
    "pg_stat_reset_single_table_counters",
    "pg_stat_reset_single_function_counters",
    "pg_stat_reset_slru",
    "pg_stat_reset_replication_slot",
    "pg_stat_reset_subscription_stats",
    "pg_stat_statements_reset",
    "pg_read_file",
    "pg_read_binary_file",
    "pg_ls_dir",
    "pg_stat_file",
    "pg_ls_logdir",
    "pg_ls_waldir",
    "pg_ls_tmpdir",
    "pg_ls_archive_statusdir",
    "pg_import_system_collations",
    "pg_log_backend_memory_contexts",
    "pg_truncate_visibility_map",
    "lo_import",
    "lo_export",
    "pg_file_write",
    "pg_file_rename",
    "pg_file_unlink",
];

/// Functions that execute SQL text given as an argument.
const RUNS_SQL: &[&str] = &[
    "dblink",
    "dblink_exec",
    "dblink_open",
    "dblink_send_query",
    "query_to_xml",
    "query_to_xmlschema",
    "query_to_xml_and_xmlschema",
    "ts_stat",
    "ts_rewrite",
];

/// Every side effect of calling `bare_name` (lowercase, without schema).
pub(crate) fn effects(bare_name: &str) -> Vec<Effect> {
    let mut out = Vec::new();
    if WRITE.contains(&bare_name) {
        out.push(Effect::Write);
    }
    if ADMIN.contains(&bare_name) {
        out.push(Effect::Admin);
    }
    if bare_name == "set_config" {
        out.push(Effect::Setting);
    }
    if RUNS_SQL.contains(&bare_name) {
        out.push(Effect::RunsSql);
    }
    out
}
