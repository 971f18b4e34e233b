//! HTTP requests to HTTP connections.

use serde::{Deserialize, Serialize};

/// Everything an HTTP rule may match on. Headers that carry credentials
/// (`Authorization`, `Cookie`, `Proxy-Authorization`) are never included.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpRequest {
    /// Uppercase method.
    pub method: String,
    /// Path relative to the connection's base, percent-decoded and
    /// normalized (no `.`/`..` segments, no duplicate slashes); a path that
    /// cannot be normalized makes the request unclassifiable.
    pub path: String,
    /// Query parameters in order, percent-decoded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub query: Vec<(String, String)>,
    /// Header names lowercase, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<(String, String)>,
    /// Media type without parameters, lowercase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// The decoded body, for JSON rules.
    #[serde(default, skip_serializing_if = "JsonBody::is_absent")]
    pub body: JsonBody,
}

/// What is known of a request body.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JsonBody {
    /// No body.
    #[default]
    Absent,
    /// A JSON document.
    Json(serde_json::Value),
    /// A body that is not JSON (or not decoded): JSON rules cannot see it.
    Opaque,
}

impl JsonBody {
    pub fn is_absent(&self) -> bool {
        *self == JsonBody::Absent
    }
}
