//! Which setting changes deserve a fact.
//!
//! Some settings change how the *next* statements are lexed
//! (`standard_conforming_strings`, `backslash_quote`, `client_encoding`):
//! after them, this classifier (which assumes `standard_conforming_strings =
//! on` and UTF-8) may read text differently from the server. Others switch
//! off safety nets (`session_replication_role = replica` stops triggers and
//! foreign-key checks). Policies block these through the facts set here.

use portcullis_core::statement::Fact;

fn is_on(value: &str) -> bool {
    matches!(
        value.to_ascii_lowercase().as_str(),
        "on" | "true" | "yes" | "1" | "t" | "y"
    )
}

fn is_safe_backslash_quote(value: &str) -> bool {
    matches!(
        value.to_ascii_lowercase().as_str(),
        "safe_encoding" | "off" | "false" | "no" | "0"
    )
}

fn is_utf8(value: &str) -> bool {
    matches!(
        value.to_ascii_lowercase().replace(['-', '_'], "").as_str(),
        "utf8" | "unicode"
    )
}

/// Facts raised by setting `name` to `value` (`None`: RESET or DEFAULT,
/// which restore the server's configured value).
pub(crate) fn facts(name: &str, value: Option<&str>) -> Vec<Fact> {
    let lexing = match name {
        "standard_conforming_strings" => value.is_some_and(|v| !is_on(v)),
        "backslash_quote" => value.is_some_and(|v| !is_safe_backslash_quote(v)),
        // The server default may not be UTF-8: RESET counts too.
        "client_encoding" => !value.is_some_and(is_utf8),
        _ => false,
    };
    let mut out = Vec::new();
    if lexing {
        out.push(Fact::LexingSetting);
    }
    match name {
        "session_replication_role" if value.is_some_and(|v| !v.eq_ignore_ascii_case("origin")) => {
            out.push(Fact::ReplicationRoleSetting)
        }
        "role" | "session_authorization" => out.push(Fact::RoleChange),
        "search_path" => out.push(Fact::SearchPathChange),
        _ => {}
    }
    out
}
