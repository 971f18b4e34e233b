//! The command, object type and base class of a statement's top node.
//!
//! One canonical, uppercase vocabulary for commands (`SELECT`, `DROP`, ...)
//! with the object kind kept apart (`TABLE`, `DATABASE`, `ROLE`, ...), so a
//! rule can name `DROP` or `DROP DATABASE`. A statement kind missing from this
//! table is classified `opaque` (fail closed).

use pg_query::NodeEnum;
use pg_query::protobuf::{self, ObjectType};
use portcullis_core::statement::StatementClass;

use crate::walk::{Found, Rel, assumes_schema, qualify};

/// What the top node says about a statement.
pub(crate) struct Head {
    pub(crate) command: &'static str,
    pub(crate) object_type: Option<String>,
    pub(crate) class: StatementClass,
    /// How relations directly under the top node are used.
    pub(crate) rel: Rel,
}

impl Head {
    pub(crate) fn new(command: &'static str, object: Option<&str>, class: StatementClass) -> Head {
        Head {
            command,
            object_type: object.map(str::to_string),
            class,
            rel: Rel::Read,
        }
    }

    fn writes(mut self) -> Head {
        self.rel = Rel::Write;
        self
    }
}

/// `OBJECT_FOREIGN_TABLE` -> `FOREIGN TABLE`.
fn object_name(object: i32) -> String {
    match ObjectType::try_from(object) {
        Ok(ObjectType::ObjectMatview) => "MATERIALIZED VIEW".to_string(),
        Ok(ObjectType::ObjectTabconstraint) => "CONSTRAINT".to_string(),
        Ok(ObjectType::ObjectStatisticExt) => "STATISTICS".to_string(),
        Ok(ObjectType::ObjectFdw) => "FOREIGN DATA WRAPPER".to_string(),
        Ok(ObjectType::ObjectForeignServer) => "SERVER".to_string(),
        Ok(ObjectType::ObjectLargeobject) => "LARGE OBJECT".to_string(),
        Ok(o) => o
            .as_str_name()
            .trim_start_matches("OBJECT_")
            .replace('_', " "),
        Err(_) => "UNKNOWN".to_string(),
    }
}

fn is_relation_kind(object: i32) -> bool {
    matches!(
        ObjectType::try_from(object),
        Ok(ObjectType::ObjectTable
            | ObjectType::ObjectView
            | ObjectType::ObjectMatview
            | ObjectType::ObjectIndex
            | ObjectType::ObjectSequence
            | ObjectType::ObjectForeignTable)
    )
}

fn strings(nodes: &[pg_query::Node]) -> Vec<String> {
    nodes
        .iter()
        .filter_map(|n| match n.node.as_ref() {
            Some(NodeEnum::String(s)) => Some(s.sval.clone()),
            _ => None,
        })
        .collect()
}

fn role_name(role: Option<&protobuf::RoleSpec>) -> Option<String> {
    role.map(|r| {
        if r.rolename.is_empty() {
            "current_role".to_string()
        } else {
            r.rolename.to_lowercase()
        }
    })
}

/// The objects of a DROP: relations go to `tables_written`, others to `objects`.
fn drop_objects(drop: &protobuf::DropStmt, found: &mut Found) {
    for object in &drop.objects {
        let name = match object.node.as_ref() {
            Some(NodeEnum::List(list)) => strings(&list.items),
            Some(NodeEnum::String(s)) => vec![s.sval.clone()],
            Some(NodeEnum::ObjectWithArgs(o)) => strings(&o.objname),
            Some(NodeEnum::TypeName(t)) => strings(&t.names),
            _ => Vec::new(),
        };
        if name.is_empty() {
            continue;
        }
        if is_relation_kind(drop.remove_type) {
            let (schema, rel) = match name.as_slice() {
                [.., schema, rel] => (schema.as_str(), rel.as_str()),
                [rel] => ("", rel.as_str()),
                [] => continue,
            };
            let qualified = qualify(schema, rel, "");
            if assumes_schema(schema, "") {
                found.assumed_schema.insert(qualified.clone());
            }
            found.tables_written.insert(qualified);
        } else {
            found.objects.insert(name.join(".").to_lowercase());
        }
    }
}

/// Text of a SET argument list, when every argument is a constant.
fn set_value(args: &[pg_query::Node]) -> Option<String> {
    let mut parts = Vec::new();
    for arg in args {
        let part = match arg.node.as_ref()? {
            NodeEnum::AConst(c) => match c.val.as_ref()? {
                protobuf::a_const::Val::Sval(s) => s.sval.clone(),
                protobuf::a_const::Val::Ival(i) => i.ival.to_string(),
                protobuf::a_const::Val::Fval(f) => f.fval.clone(),
                protobuf::a_const::Val::Boolval(b) => b.boolval.to_string(),
                protobuf::a_const::Val::Bsval(b) => b.bsval.clone(),
            },
            _ => return None,
        };
        parts.push(part);
    }
    Some(parts.join(", "))
}

fn variable_set(set: &protobuf::VariableSetStmt, found: &mut Found) -> Head {
    use protobuf::VariableSetKind as K;
    found.sensitive = true;
    let name = set.name.to_lowercase();
    match K::try_from(set.kind) {
        Ok(K::VarSetValue) => {
            found.setting(name, set_value(&set.args), set.is_local);
            Head::new("SET", None, StatementClass::Session)
        }
        Ok(K::VarSetDefault | K::VarSetCurrent) => {
            found.setting(name, None, set.is_local);
            Head::new("SET", None, StatementClass::Session)
        }
        Ok(K::VarSetMulti) => {
            // SET TRANSACTION ... / SET SESSION CHARACTERISTICS AS TRANSACTION ...
            if name == "transaction" {
                Head::new("SET", Some("TRANSACTION"), StatementClass::Transaction)
            } else {
                found.setting(name, None, set.is_local);
                Head::new("SET", Some("SESSION"), StatementClass::Session)
            }
        }
        Ok(K::VarReset) => {
            found.setting(name, None, false);
            Head::new("RESET", None, StatementClass::Session)
        }
        Ok(K::VarResetAll) => {
            found.setting("all".to_string(), None, false);
            Head::new("RESET", None, StatementClass::Session)
        }
        _ => {
            found.opaque("unrecognised SET form");
            Head::new("SET", None, StatementClass::Opaque)
        }
    }
}

fn transaction(t: &protobuf::TransactionStmt) -> Head {
    use protobuf::TransactionStmtKind as K;
    let (command, object) = match K::try_from(t.kind) {
        Ok(K::TransStmtBegin | K::TransStmtStart) => ("BEGIN", None),
        Ok(K::TransStmtCommit) => ("COMMIT", None),
        Ok(K::TransStmtRollback) => ("ROLLBACK", None),
        Ok(K::TransStmtSavepoint) => ("SAVEPOINT", None),
        Ok(K::TransStmtRelease) => ("RELEASE", Some("SAVEPOINT")),
        Ok(K::TransStmtRollbackTo) => ("ROLLBACK", Some("SAVEPOINT")),
        Ok(K::TransStmtPrepare) => ("PREPARE", Some("TRANSACTION")),
        Ok(K::TransStmtCommitPrepared) => ("COMMIT", Some("PREPARED")),
        Ok(K::TransStmtRollbackPrepared) => ("ROLLBACK", Some("PREPARED")),
        _ => ("TRANSACTION", None),
    };
    Head::new(command, object, StatementClass::Transaction)
}

/// Classifies the top node; records objects and settings in `found`.
pub(crate) fn head(node: &NodeEnum, found: &mut Found) -> Head {
    use StatementClass::{Admin, Dcl, Ddl, Opaque, Read, Session, Write};
    let obj = |o: i32| Some(object_name(o));
    match node {
        NodeEnum::SelectStmt(_) => Head::new("SELECT", None, Read),
        NodeEnum::InsertStmt(_) => Head::new("INSERT", None, Write),
        NodeEnum::UpdateStmt(_) => Head::new("UPDATE", None, Write),
        NodeEnum::DeleteStmt(_) => Head::new("DELETE", None, Write),
        NodeEnum::MergeStmt(_) => Head::new("MERGE", None, Write),
        NodeEnum::TruncateStmt(_) => Head::new("TRUNCATE", Some("TABLE"), Write).writes(),
        NodeEnum::CopyStmt(_) => Head::new("COPY", None, Read),
        NodeEnum::DropStmt(d) => {
            drop_objects(d, found);
            Head {
                object_type: obj(d.remove_type),
                ..Head::new("DROP", None, Ddl)
            }
            .writes()
        }
        NodeEnum::DropdbStmt(d) => {
            found.objects.insert(d.dbname.to_lowercase());
            Head::new("DROP", Some("DATABASE"), Ddl)
        }
        NodeEnum::DropRoleStmt(d) => {
            for role in &d.roles {
                if let Some(NodeEnum::RoleSpec(r)) = role.node.as_ref() {
                    found.objects.extend(role_name(Some(r)));
                }
            }
            Head::new("DROP", Some("ROLE"), Dcl)
        }
        NodeEnum::DropOwnedStmt(_) => Head::new("DROP", Some("OWNED"), Dcl),
        NodeEnum::DropTableSpaceStmt(d) => {
            found.objects.insert(d.tablespacename.to_lowercase());
            Head::new("DROP", Some("TABLESPACE"), Ddl)
        }
        NodeEnum::DropSubscriptionStmt(_) => Head::new("DROP", Some("SUBSCRIPTION"), Ddl),
        NodeEnum::DropUserMappingStmt(_) => Head::new("DROP", Some("USER MAPPING"), Dcl),
        NodeEnum::CreateStmt(_) => Head::new("CREATE", Some("TABLE"), Ddl).writes(),
        NodeEnum::CreateForeignTableStmt(_) => {
            Head::new("CREATE", Some("FOREIGN TABLE"), Ddl).writes()
        }
        NodeEnum::CreateTableAsStmt(c) => Head::new("CREATE", obj(c.objtype).as_deref(), Ddl),
        NodeEnum::ViewStmt(_) => Head::new("CREATE", Some("VIEW"), Ddl).writes(),
        NodeEnum::IndexStmt(_) => Head::new("CREATE", Some("INDEX"), Ddl).writes(),
        NodeEnum::CreateSchemaStmt(s) => {
            found.objects.insert(s.schemaname.to_lowercase());
            Head::new("CREATE", Some("SCHEMA"), Ddl).writes()
        }
        NodeEnum::CreateExtensionStmt(e) => {
            found.objects.insert(e.extname.to_lowercase());
            Head::new("CREATE", Some("EXTENSION"), Ddl)
        }
        NodeEnum::CreateFunctionStmt(f) => {
            found
                .objects
                .insert(strings(&f.funcname).join(".").to_lowercase());
            let kind = if f.is_procedure {
                "PROCEDURE"
            } else {
                "FUNCTION"
            };
            Head::new("CREATE", Some(kind), Ddl)
        }
        NodeEnum::CreateTrigStmt(_) => Head::new("CREATE", Some("TRIGGER"), Ddl).writes(),
        NodeEnum::CreateEventTrigStmt(_) => Head::new("CREATE", Some("EVENT TRIGGER"), Admin),
        NodeEnum::RuleStmt(_) => Head::new("CREATE", Some("RULE"), Ddl).writes(),
        NodeEnum::CreateSeqStmt(_) => Head::new("CREATE", Some("SEQUENCE"), Ddl).writes(),
        NodeEnum::CreateDomainStmt(_) => Head::new("CREATE", Some("DOMAIN"), Ddl),
        NodeEnum::DefineStmt(d) => Head::new("CREATE", obj(d.kind).as_deref(), Ddl),
        NodeEnum::CompositeTypeStmt(_)
        | NodeEnum::CreateEnumStmt(_)
        | NodeEnum::CreateRangeStmt(_) => Head::new("CREATE", Some("TYPE"), Ddl),
        NodeEnum::CreatePolicyStmt(_) => Head::new("CREATE", Some("POLICY"), Dcl).writes(),
        NodeEnum::CreateRoleStmt(r) => {
            found.objects.insert(r.role.to_lowercase());
            Head::new("CREATE", Some("ROLE"), Dcl)
        }
        NodeEnum::CreatedbStmt(d) => {
            found.objects.insert(d.dbname.to_lowercase());
            Head::new("CREATE", Some("DATABASE"), Ddl)
        }
        NodeEnum::CreateTableSpaceStmt(_) => Head::new("CREATE", Some("TABLESPACE"), Admin),
        NodeEnum::CreateFdwStmt(_) => Head::new("CREATE", Some("FOREIGN DATA WRAPPER"), Ddl),
        NodeEnum::CreateForeignServerStmt(_) => Head::new("CREATE", Some("SERVER"), Ddl),
        NodeEnum::CreateUserMappingStmt(_) => Head::new("CREATE", Some("USER MAPPING"), Dcl),
        NodeEnum::ImportForeignSchemaStmt(_) => Head::new("IMPORT", Some("FOREIGN SCHEMA"), Ddl),
        NodeEnum::CreateAmStmt(_) => Head::new("CREATE", Some("ACCESS METHOD"), Ddl),
        NodeEnum::CreatePlangStmt(_) => Head::new("CREATE", Some("LANGUAGE"), Ddl),
        NodeEnum::CreateOpClassStmt(_) => Head::new("CREATE", Some("OPERATOR CLASS"), Ddl),
        NodeEnum::CreateOpFamilyStmt(_) => Head::new("CREATE", Some("OPERATOR FAMILY"), Ddl),
        NodeEnum::CreateStatsStmt(_) => Head::new("CREATE", Some("STATISTICS"), Ddl),
        NodeEnum::CreateConversionStmt(_) => Head::new("CREATE", Some("CONVERSION"), Ddl),
        NodeEnum::CreateCastStmt(_) => Head::new("CREATE", Some("CAST"), Ddl),
        NodeEnum::CreateTransformStmt(_) => Head::new("CREATE", Some("TRANSFORM"), Ddl),
        NodeEnum::CreatePublicationStmt(_) => Head::new("CREATE", Some("PUBLICATION"), Ddl),
        NodeEnum::CreateSubscriptionStmt(_) => Head::new("CREATE", Some("SUBSCRIPTION"), Admin),
        NodeEnum::AlterTableStmt(a) => Head::new("ALTER", obj(a.objtype).as_deref(), Ddl).writes(),
        NodeEnum::AlterSystemStmt(_) => Head::new("ALTER", Some("SYSTEM"), Admin),
        NodeEnum::AlterRoleStmt(a) => {
            found.objects.extend(role_name(a.role.as_ref()));
            Head::new("ALTER", Some("ROLE"), Dcl)
        }
        NodeEnum::AlterRoleSetStmt(a) => {
            found.objects.extend(role_name(a.role.as_ref()));
            Head::new("ALTER", Some("ROLE"), Dcl)
        }
        NodeEnum::AlterDatabaseStmt(_)
        | NodeEnum::AlterDatabaseSetStmt(_)
        | NodeEnum::AlterDatabaseRefreshCollStmt(_) => Head::new("ALTER", Some("DATABASE"), Ddl),
        NodeEnum::AlterDefaultPrivilegesStmt(_) => {
            Head::new("ALTER", Some("DEFAULT PRIVILEGES"), Dcl)
        }
        NodeEnum::AlterOwnerStmt(a) => {
            Head::new("ALTER", obj(a.object_type).as_deref(), Dcl).writes()
        }
        NodeEnum::AlterPolicyStmt(_) => Head::new("ALTER", Some("POLICY"), Dcl).writes(),
        NodeEnum::AlterObjectSchemaStmt(a) => {
            Head::new("ALTER", obj(a.object_type).as_deref(), Ddl).writes()
        }
        NodeEnum::RenameStmt(r) => Head::new("ALTER", obj(r.rename_type).as_deref(), Ddl).writes(),
        NodeEnum::AlterSeqStmt(_) => Head::new("ALTER", Some("SEQUENCE"), Ddl).writes(),
        NodeEnum::AlterExtensionStmt(_) | NodeEnum::AlterExtensionContentsStmt(_) => {
            Head::new("ALTER", Some("EXTENSION"), Ddl)
        }
        NodeEnum::AlterFunctionStmt(a) => Head::new("ALTER", obj(a.objtype).as_deref(), Ddl),
        NodeEnum::AlterEnumStmt(_) | NodeEnum::AlterTypeStmt(_) => {
            Head::new("ALTER", Some("TYPE"), Ddl)
        }
        NodeEnum::AlterDomainStmt(_) => Head::new("ALTER", Some("DOMAIN"), Ddl),
        NodeEnum::AlterCollationStmt(_) => Head::new("ALTER", Some("COLLATION"), Ddl),
        NodeEnum::AlterEventTrigStmt(_) => Head::new("ALTER", Some("EVENT TRIGGER"), Admin),
        NodeEnum::AlterFdwStmt(_) => Head::new("ALTER", Some("FOREIGN DATA WRAPPER"), Ddl),
        NodeEnum::AlterForeignServerStmt(_) => Head::new("ALTER", Some("SERVER"), Ddl),
        NodeEnum::AlterOpFamilyStmt(_) => Head::new("ALTER", Some("OPERATOR FAMILY"), Ddl),
        NodeEnum::AlterOperatorStmt(_) => Head::new("ALTER", Some("OPERATOR"), Ddl),
        NodeEnum::AlterPublicationStmt(_) => Head::new("ALTER", Some("PUBLICATION"), Ddl),
        NodeEnum::AlterSubscriptionStmt(_) => Head::new("ALTER", Some("SUBSCRIPTION"), Admin),
        NodeEnum::AlterStatsStmt(_) => Head::new("ALTER", Some("STATISTICS"), Ddl),
        NodeEnum::AlterTableSpaceOptionsStmt(_) | NodeEnum::AlterTableMoveAllStmt(_) => {
            Head::new("ALTER", Some("TABLESPACE"), Admin)
        }
        NodeEnum::AlterTsdictionaryStmt(_) | NodeEnum::AlterTsconfigurationStmt(_) => {
            Head::new("ALTER", Some("TEXT SEARCH"), Ddl)
        }
        NodeEnum::AlterUserMappingStmt(_) => Head::new("ALTER", Some("USER MAPPING"), Dcl),
        NodeEnum::AlterObjectDependsStmt(a) => {
            Head::new("ALTER", obj(a.object_type).as_deref(), Ddl)
        }
        NodeEnum::ReplicaIdentityStmt(_) => Head::new("ALTER", Some("TABLE"), Ddl).writes(),
        NodeEnum::GrantStmt(g) => {
            let command = if g.is_grant { "GRANT" } else { "REVOKE" };
            Head::new(command, obj(g.objtype).as_deref(), Dcl).writes()
        }
        NodeEnum::GrantRoleStmt(g) => {
            let command = if g.is_grant { "GRANT" } else { "REVOKE" };
            Head::new(command, Some("ROLE"), Dcl)
        }
        NodeEnum::ReassignOwnedStmt(_) => Head::new("REASSIGN", Some("OWNED"), Dcl),
        NodeEnum::SecLabelStmt(_) => Head::new("SECURITY LABEL", None, Dcl),
        NodeEnum::CommentStmt(c) => Head::new("COMMENT", obj(c.objtype).as_deref(), Ddl),
        NodeEnum::VariableSetStmt(s) => variable_set(s, found),
        NodeEnum::VariableShowStmt(_) => Head::new("SHOW", None, Read),
        NodeEnum::TransactionStmt(t) => transaction(t),
        NodeEnum::ConstraintsSetStmt(_) => {
            Head::new("SET", Some("CONSTRAINTS"), StatementClass::Transaction)
        }
        NodeEnum::ExecuteStmt(_) => Head::new("EXECUTE", None, Opaque),
        NodeEnum::DeallocateStmt(d) => {
            found.prepared_name = Some(if d.isall {
                "ALL".to_string()
            } else {
                d.name.clone()
            });
            Head::new("DEALLOCATE", None, Session)
        }
        NodeEnum::DeclareCursorStmt(_) => Head::new("DECLARE", None, Session),
        NodeEnum::ClosePortalStmt(_) => Head::new("CLOSE", None, Session),
        NodeEnum::FetchStmt(f) => Head::new(if f.ismove { "MOVE" } else { "FETCH" }, None, Read),
        NodeEnum::DoStmt(_) => Head::new("DO", None, Opaque),
        NodeEnum::CallStmt(_) => Head::new("CALL", None, Opaque),
        NodeEnum::LoadStmt(_) => {
            found.opaque("LOAD loads a shared library into the server process");
            Head::new("LOAD", None, Admin)
        }
        NodeEnum::NotifyStmt(_) => Head::new("NOTIFY", None, Write),
        NodeEnum::ListenStmt(_) => Head::new("LISTEN", None, Session),
        NodeEnum::UnlistenStmt(_) => Head::new("UNLISTEN", None, Session),
        NodeEnum::DiscardStmt(_) => Head::new("DISCARD", None, Session),
        NodeEnum::LockStmt(_) => Head::new("LOCK", Some("TABLE"), Admin).writes(),
        NodeEnum::VacuumStmt(v) => Head::new(
            if v.is_vacuumcmd { "VACUUM" } else { "ANALYZE" },
            None,
            Admin,
        ),
        NodeEnum::ClusterStmt(_) => Head::new("CLUSTER", None, Admin).writes(),
        NodeEnum::ReindexStmt(_) => Head::new("REINDEX", None, Admin),
        NodeEnum::CheckPointStmt(_) => Head::new("CHECKPOINT", None, Admin),
        NodeEnum::RefreshMatViewStmt(_) => {
            Head::new("REFRESH", Some("MATERIALIZED VIEW"), Write).writes()
        }
        NodeEnum::ExplainStmt(_) => Head::new("EXPLAIN", None, Read),
        NodeEnum::PrepareStmt(_) => Head::new("PREPARE", None, Session),
        other => {
            found.opaque(format!(
                "statement kind {} is not recognised",
                format!("{other:?}").split('(').next().unwrap_or("?")
            ));
            Head::new("UNKNOWN", None, Opaque)
        }
    }
}
