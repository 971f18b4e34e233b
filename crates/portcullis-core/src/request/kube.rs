//! Kubernetes API requests.

use serde::{Deserialize, Serialize};

/// The Kubernetes verb of a request (from method, path and query, as the
/// API server's request-info resolver derives it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KubeVerb {
    Get,
    List,
    Watch,
    Create,
    Update,
    Patch,
    Delete,
    Deletecollection,
    /// Subresource verbs as kubectl uses them.
    Exec,
    Attach,
    Portforward,
    Proxy,
    Log,
    /// Discovery, `/version`, `/openapi`, health endpoints.
    Discovery,
}

impl KubeVerb {
    pub fn as_str(self) -> &'static str {
        match self {
            KubeVerb::Get => "get",
            KubeVerb::List => "list",
            KubeVerb::Watch => "watch",
            KubeVerb::Create => "create",
            KubeVerb::Update => "update",
            KubeVerb::Patch => "patch",
            KubeVerb::Delete => "delete",
            KubeVerb::Deletecollection => "deletecollection",
            KubeVerb::Exec => "exec",
            KubeVerb::Attach => "attach",
            KubeVerb::Portforward => "portforward",
            KubeVerb::Proxy => "proxy",
            KubeVerb::Log => "log",
            KubeVerb::Discovery => "discovery",
        }
    }
}

/// Everything a Kubernetes rule may match on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KubeRequest {
    pub verb: KubeVerb,
    /// API group, `""` for the core group.
    pub group: String,
    pub version: String,
    /// Plural resource name, `deployments`.
    pub resource: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subresource: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default)]
    pub dry_run: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_manager: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_selector: Option<String>,
    /// What the body (create, update, patch, apply) would run, when it
    /// holds a pod template; `None` without a body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<WorkloadFacts>,
    /// Facts derived from [`KubeRequest::workload`] (`privileged_container`,
    /// `host_path`, ...), sorted, so rules match them like any other fact.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub facts: Vec<crate::statement::Fact>,
    /// Why the request could not be classified fully (an undecodable body
    /// on a write): guarded policies block it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opaque_reason: Option<String>,
}

/// What the pod specs in a request body would do.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkloadFacts {
    /// Every container image (init and ephemeral containers included).
    pub images: Vec<String>,
    pub privileged: bool,
    pub host_path: bool,
    pub host_network: bool,
    pub host_pid: bool,
    pub host_ipc: bool,
    /// `runAsUser: 0`, or `runAsNonRoot` not required and no user set is
    /// *not* this fact: only an explicit root user.
    pub run_as_root: bool,
    /// Capabilities added by any container, uppercase without `CAP_`.
    pub added_capabilities: Vec<String>,
    pub allow_privilege_escalation: bool,
}
