//! One MCP session: its tools, its identity and its PostgreSQL sessions.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, Implementation, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use portcullis_core::auth::{AuthError, Principal};
use portcullis_core::secret::Secret;

use crate::catalog;
use crate::http::Authenticated;
use crate::outcome::{self, Refusal};
use crate::query;
use crate::state::Mcp;
use crate::tools::{self, DescribeArgs, QueryArgs, ReviewStatusArgs};
use crate::upstream::{self, Peer, Upstream};

/// How the agent proves who it is on each call.
pub(crate) enum Credential {
    /// stdio: the token from the environment, re-checked on every call so a
    /// revoked or expired token stops working at once.
    Token(Secret),
    /// HTTP: the bearer token of each request, checked by the router's
    /// middleware, which hands over the [`Authenticated`] principal.
    PerRequest,
}

const INSTRUCTIONS: &str = "Governed access to databases through Portcullis. Start with list_connections, then describe a connection, then query it with one SQL statement per call. Every statement is checked by the connection's guardrails and recorded. A blocked statement will stay blocked: do not retry it. A statement held for review returns a review number: check it with review_status, and re-send the identical statement after approval.";

pub(crate) struct AgentSession {
    mcp: Arc<Mcp>,
    credential: Credential,
    /// The identity this MCP session belongs to, fixed by its first call:
    /// a later call with another identity's token is refused.
    identity: Mutex<Option<String>>,
    /// Open PostgreSQL sessions by connection name.
    upstreams: tokio::sync::Mutex<HashMap<String, Arc<Upstream>>>,
}

fn ok(value: Value) -> CallToolResult {
    CallToolResult::structured(value)
}

fn fail(value: Value) -> CallToolResult {
    CallToolResult::structured_error(value)
}

fn error(message: impl Into<String>) -> CallToolResult {
    fail(json!({ "status": "error", "message": message.into() }))
}

fn args<T: DeserializeOwned>(request: &CallToolRequestParams) -> Result<T, CallToolResult> {
    let value = Value::Object(request.arguments.clone().unwrap_or_default());
    serde_json::from_value(value).map_err(|e| error(format!("invalid arguments: {e}")))
}

impl AgentSession {
    pub(crate) fn new(mcp: Arc<Mcp>, credential: Credential) -> AgentSession {
        AgentSession {
            mcp,
            credential,
            identity: Mutex::new(None),
            upstreams: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    /// Who makes this call, authenticated now, and from where.
    async fn caller(
        &self,
        ctx: &RequestContext<RoleServer>,
    ) -> Result<(Principal, Peer), CallToolResult> {
        let client = ctx
            .peer
            .peer_info()
            .map(|info| format!("{} {}", info.client_info.name, info.client_info.version));
        let (principal, transport) = match &self.credential {
            Credential::Token(token) => {
                let local = IpAddr::V4(Ipv4Addr::LOCALHOST);
                match crate::auth::authenticate_bearer(&self.mcp.gateway, local, token.expose())
                    .await
                {
                    Ok(p) => (p, "stdio".to_string()),
                    Err(AuthError::Invalid { why }) => {
                        tracing::warn!(reason = why, "MCP token no longer authenticates");
                        return Err(error(
                            "authentication failed: the token is wrong, revoked or expired",
                        ));
                    }
                    Err(AuthError::Unavailable(e)) => {
                        tracing::error!(error = %e, "authentication unavailable");
                        return Err(error("authentication is temporarily unavailable"));
                    }
                }
            }
            Credential::PerRequest => {
                let found = ctx
                    .extensions
                    .get::<http::request::Parts>()
                    .and_then(|parts| parts.extensions.get::<Authenticated>())
                    .cloned();
                match found {
                    Some(a) => (a.principal, a.client_addr),
                    // The router's middleware always sets it; fail closed.
                    None => return Err(error("authentication failed: no bearer token")),
                }
            }
        };
        let mut bound = self.identity.lock().unwrap_or_else(|p| p.into_inner());
        match bound.as_deref() {
            Some(id) if id != principal.identity => {
                return Err(error(format!(
                    "this MCP session belongs to identity {id}; start a new session for another identity"
                )));
            }
            Some(_) => {}
            None => *bound = Some(principal.identity.clone()),
        }
        drop(bound);
        Ok((principal, Peer { transport, client }))
    }

    fn list_connections(&self, principal: &Principal) -> CallToolResult {
        let config = self.mcp.gateway.config();
        let mut list = Vec::new();
        for c in &config.connections {
            let Ok(access) = self.mcp.gateway.authorize(principal, &c.name) else {
                continue;
            };
            let Some(policy) = config.policy(access.policy.as_deref()) else {
                continue;
            };
            let limits = policy.agent_limits();
            list.push(json!({
                "name": c.name,
                "kind": "postgres",
                "policy": {
                    "name": policy.name(),
                    "mode": match policy.mode() {
                        portcullis_core::policy::Mode::Enforce => "enforce",
                        portcullis_core::policy::Mode::Observe => "observe",
                    },
                    "guarded": policy.is_guarded(),
                    "rules": policy.rule_ids(),
                },
                "limits": {
                    "max_rows": limits.max_rows,
                    "max_bytes": limits.max_bytes,
                    "statement_timeout_ms": u64::try_from(limits.statement_timeout.as_millis()).unwrap_or(u64::MAX),
                },
            }));
        }
        ok(json!({ "status": "ok", "identity": principal.identity, "connections": list }))
    }

    /// The session on `connection`, opened on first use. Authorization is
    /// checked on every call, not only when the session opens.
    async fn upstream(
        &self,
        principal: &Principal,
        connection: &str,
        peer: &Peer,
    ) -> Result<Arc<Upstream>, CallToolResult> {
        let access = self
            .mcp
            .gateway
            .authorize(principal, connection)
            .map_err(|e| fail(json!({ "status": "denied", "connection": connection, "message": e.to_string() })))?;
        let Some(policy) = self.mcp.gateway.config().policy(access.policy.as_deref()) else {
            return Err(error("internal error: policy not found"));
        };
        let mut map = self.upstreams.lock().await;
        if let Some(u) = map.get(connection) {
            if !u.client.is_closed() {
                return Ok(u.clone());
            }
            map.remove(connection);
        }
        match upstream::open(
            &self.mcp,
            principal,
            connection,
            policy.agent_limits(),
            peer,
        )
        .await
        {
            Ok(u) => {
                let u = Arc::new(u);
                map.insert(connection.to_string(), u.clone());
                Ok(u)
            }
            Err(e) => {
                let message = e
                    .as_db_error()
                    .map(|d| d.message().to_string())
                    .unwrap_or_else(|| format!("connection \"{connection}\" is unavailable"));
                tracing::warn!(connection, error = %e, "agent session could not open");
                Err(fail(
                    json!({ "status": "error", "connection": connection, "message": message }),
                ))
            }
        }
    }

    /// Forgets a session that has ended (revoked, killed, shut down, target gone).
    async fn ended(&self, connection: &str, e: &tokio_postgres::Error, up: &Upstream) -> bool {
        let fatal = e.as_db_error().is_some_and(|d| d.severity() == "FATAL");
        if fatal || e.as_db_error().is_none() || up.client.is_closed() {
            self.upstreams.lock().await.remove(connection);
            return true;
        }
        false
    }

    async fn describe(
        &self,
        principal: &Principal,
        peer: &Peer,
        a: DescribeArgs,
    ) -> CallToolResult {
        let up = match self.upstream(principal, &a.connection, peer).await {
            Ok(u) => u,
            Err(r) => return r,
        };
        let sql = catalog::catalog_sql(a.schema.as_deref());
        match up.client.simple_query(&sql).await {
            Ok(messages) => {
                let mut v = catalog::tables(&messages, up.limits);
                v["connection"] = json!(a.connection);
                ok(v)
            }
            Err(e) => self.failed(&a.connection, &sql, principal, e, &up).await,
        }
    }

    async fn query(&self, principal: &Principal, peer: &Peer, a: QueryArgs) -> CallToolResult {
        if let Err(why) = query::one_statement(&a.sql) {
            return error(why);
        }
        if let Some(l) = self
            .mcp
            .blocked
            .check(&principal.identity, &a.connection, &a.sql)
        {
            tracing::info!(identity = %principal.identity, connection = %a.connection, rule = %l.rule, "repeated blocked statement refused without sending");
            return fail(outcome::rate_limited(&a.connection, &l));
        }
        let up = match self.upstream(principal, &a.connection, peer).await {
            Ok(u) => u,
            Err(r) => return r,
        };
        match query::run(&up.client, &a.sql, up.limits).await {
            Ok(mut v) => {
                v["connection"] = json!(a.connection);
                ok(v)
            }
            Err(e) => self.failed(&a.connection, &a.sql, principal, e, &up).await,
        }
    }

    /// Turns a failed statement into the result an agent can act on.
    async fn failed(
        &self,
        connection: &str,
        sql: &str,
        principal: &Principal,
        e: tokio_postgres::Error,
        up: &Upstream,
    ) -> CallToolResult {
        if let Some(db) = e.as_db_error() {
            match outcome::refusal(db) {
                Some(Refusal::Held { review, message }) => {
                    return ok(outcome::held(connection, review, &message));
                }
                Some(r @ Refusal::Blocked { .. }) => {
                    if let Refusal::Blocked { rule, .. } = &r {
                        self.mcp
                            .blocked
                            .blocked(&principal.identity, connection, sql, rule);
                    }
                    return fail(outcome::blocked(connection, &r));
                }
                None => {}
            }
        }
        if self.ended(connection, &e, up).await {
            let why = e
                .as_db_error()
                .map(|d| d.message().to_string())
                .unwrap_or_else(|| e.to_string());
            return fail(json!({
                "status": "error",
                "connection": connection,
                "message": format!("the session on connection {connection} ended: {why}"),
                "retry": "a new session is opened on the next call if you still have access",
            }));
        }
        match e.as_db_error() {
            Some(db) => fail(outcome::database_error(connection, db)),
            None => error(e.to_string()),
        }
    }

    /// Reviews live in the core review service, which this build does not
    /// have yet: say so plainly rather than guess a state.
    /// Where the agent's own held statement stands. Agents see only reviews
    /// they requested (others look like missing ones).
    async fn review_status(&self, principal: &Principal, a: ReviewStatusArgs) -> CallToolResult {
        let review = match self.mcp.gateway.reviews().get(a.review).await {
            Ok(Some(r)) if r.request.identity == principal.identity => r,
            Ok(_) => return error(format!("review {} not found", a.review)),
            Err(e) => {
                tracing::error!(error = %e, "review store unavailable");
                return error("reviews are unavailable right now; try again later");
            }
        };
        let status = review.status(portcullis_core::time::now_micros());
        let next = match status {
            "pending" => {
                "Wait: reviewers have not decided yet. Check again later; do not re-send the statement before it is approved."
            }
            "approved" => {
                "Approved: send the identical statement again, on the same connection, to run it once."
            }
            "executed" => "The approved statement has run; its approval is used up.",
            "rejected" => "Rejected: do not send this statement again.",
            _ => {
                "This review can no longer be used; send the statement again only if a new review is warranted."
            }
        };
        ok(json!({
            "review": review.id,
            "status": status,
            "connection": review.request.connection,
            "statement": review.request.statement,
            "approvals": review.approvals.len(),
            "approvals_required": review.request.approvals_required,
            "rejection_reason": review.rejection.as_ref().map(|r| r.reason.clone()),
            "outcome": review.outcome,
            "next": next,
        }))
    }
}

impl ServerHandler for AgentSession {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("portcullis", env!("CARGO_PKG_VERSION")))
            .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(tools::all()))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        tools::all().into_iter().find(|t| t.name == name)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let name = request.name.to_string();
        if self.get_tool(&name).is_none() {
            return Err(ErrorData::invalid_params(
                format!("unknown tool {name}"),
                None,
            ));
        }
        let (principal, peer) = match self.caller(&context).await {
            Ok(c) => c,
            Err(r) => return Ok(r.into()),
        };
        let result = match name.as_str() {
            tools::LIST_CONNECTIONS => self.list_connections(&principal),
            tools::DESCRIBE => match args::<DescribeArgs>(&request) {
                Ok(a) => self.describe(&principal, &peer, a).await,
                Err(r) => r,
            },
            tools::QUERY => match args::<QueryArgs>(&request) {
                Ok(a) => self.query(&principal, &peer, a).await,
                Err(r) => r,
            },
            _ => match args::<ReviewStatusArgs>(&request) {
                Ok(a) => self.review_status(&principal, a).await,
                Err(r) => r,
            },
        };
        Ok(result.into())
    }
}
