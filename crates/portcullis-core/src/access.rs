//! Authorization: may this principal use that connection, and under which policy?

use thiserror::Error;

use crate::auth::Principal;
use crate::config::{Config, Connection, GrantSubject};

/// The outcome of a successful authorization.
#[derive(Debug, Clone)]
pub struct Access {
    pub connection: Connection,
    /// The policy in force: the grant's narrower policy, else the connection's.
    pub policy: Option<String>,
    /// Which grant allowed it, for `access explain` and the recording.
    pub via: String,
    /// Whether the policy is the grant's narrower one.
    pub policy_from_grant: bool,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum AccessError {
    #[error("connection \"{0}\" does not exist")]
    UnknownConnection(String),
    #[error("identity \"{identity}\" has no grant for connection \"{connection}\"")]
    NotGranted {
        identity: String,
        connection: String,
    },
}

/// Finds a grant that lets `principal` use `connection`.
pub fn authorize(
    config: &Config,
    principal: &Principal,
    connection: &str,
) -> Result<Access, AccessError> {
    let Some(conn) = config.connection(connection) else {
        return Err(AccessError::UnknownConnection(connection.to_string()));
    };
    let grant = config.grants.iter().enumerate().find(|(_, g)| {
        g.connections.iter().any(|c| c == connection)
            && match &g.subject {
                GrantSubject::Identity(i) => *i == principal.identity,
                GrantSubject::Group(grp) => principal.groups.contains(grp),
            }
    });
    let Some((index, grant)) = grant else {
        return Err(AccessError::NotGranted {
            identity: principal.identity.clone(),
            connection: connection.to_string(),
        });
    };
    let via = match &grant.subject {
        GrantSubject::Identity(i) => format!("grant[{index}] (identity {i})"),
        GrantSubject::Group(g) => format!("grant[{index}] (group {g})"),
    };
    Ok(Access {
        connection: conn.clone(),
        policy: grant.policy.clone().or_else(|| conn.policy.clone()),
        via,
        policy_from_grant: grant.policy.is_some(),
    })
}
