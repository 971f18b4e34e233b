//! The kind-specific criteria of a rule and how each matches its kind's
//! item. Throughout, a rule that stops (block, review) matches when any
//! value matches, and a rule that allows covers only what it names
//! completely (see [`Globs::meets`]).

use crate::policy::config::RuleConfig;
use crate::policy::error::PolicyError;
use crate::request::{
    ChannelKind, ChannelRequest, FileOp, FileOperation, HttpRequest, JsonBody, KubeRequest,
    KubeVerb, RefUpdate, RefUpdateKind, SimpleCommand,
};
use crate::statement::StatementInfo;

use super::names::{Globs, NameSet, Style};

/// Builds an error for a bad pattern of this rule.
pub(crate) type Bad<'a> = &'a dyn Fn(&str, String) -> PolicyError;

fn globs(
    list: &Option<Vec<String>>,
    style: Style,
    bad: Bad<'_>,
) -> Result<Option<Globs>, PolicyError> {
    list.as_deref()
        .map(|l| Globs::build(l, style, &bad))
        .transpose()
}

/// Parses a list of names against `known` (`as_str` spellings; `_` and
/// `-` are interchangeable), naming what is accepted when one is unknown.
fn parse_all<T: Copy>(
    list: &Option<Vec<String>>,
    known: &[T],
    name: impl Fn(T) -> &'static str,
    what: &str,
    bad: Bad<'_>,
) -> Result<Option<Vec<T>>, PolicyError> {
    let Some(list) = list else {
        return Ok(None);
    };
    let norm = |s: &str| s.to_ascii_lowercase().replace('-', "_");
    list.iter()
        .map(|s| {
            known
                .iter()
                .copied()
                .find(|k| norm(name(*k)) == norm(s))
                .ok_or_else(|| {
                    let names: Vec<&str> = known.iter().map(|k| name(*k)).collect();
                    bad(s, format!("unknown {what} (known: {})", names.join(", ")))
                })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// SQL statements.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sql {
    commands: Option<Vec<String>>,
    tables: Option<NameSet>,
    tables_read: Option<NameSet>,
    tables_written: Option<NameSet>,
    functions: Option<NameSet>,
    settings: Option<NameSet>,
    settings_outside: Option<NameSet>,
}

impl Sql {
    pub(crate) fn compile(c: &RuleConfig, bad: Bad<'_>) -> Result<Sql, PolicyError> {
        let names = |list: &Option<Vec<String>>| -> Result<Option<NameSet>, PolicyError> {
            list.as_deref().map(|l| NameSet::build(l, &bad)).transpose()
        };
        Ok(Sql {
            commands: c
                .command
                .as_ref()
                .map(|c| c.iter().map(|s| normalize_command(s)).collect()),
            tables: names(&c.tables)?,
            tables_read: names(&c.tables_read)?,
            tables_written: names(&c.tables_written)?,
            functions: names(&c.functions)?,
            settings: names(&c.settings)?,
            settings_outside: names(&c.settings_outside)?,
        })
    }

    pub(crate) fn matches(&self, s: &StatementInfo, allow: bool) -> bool {
        let names = |set: &Option<NameSet>, list: &[String]| match set {
            None => true,
            Some(set) if allow => !list.is_empty() && list.iter().all(|n| set.covers(n)),
            Some(set) => list.iter().any(|n| set.matches(n)),
        };
        if let Some(commands) = &self.commands {
            let full = s.full_command();
            if !commands.iter().any(|c| *c == s.command || *c == full) {
                return false;
            }
        }
        let all_tables: Vec<String> = if self.tables.is_some() {
            s.tables_read
                .iter()
                .chain(&s.tables_written)
                .cloned()
                .collect()
        } else {
            Vec::new()
        };
        let settings: Vec<String> = if self.settings.is_some() || self.settings_outside.is_some() {
            s.settings.iter().map(|c| c.name.clone()).collect()
        } else {
            Vec::new()
        };
        names(&self.tables, &all_tables)
            && names(&self.tables_read, &s.tables_read)
            && names(&self.tables_written, &s.tables_written)
            && names(&self.functions, &s.functions)
            && names(&self.settings, &settings)
            && self
                .settings_outside
                .as_ref()
                .is_none_or(|ok| settings.iter().any(|n| !ok.matches(n)))
    }
}

/// Uppercase, single-spaced command text.
fn normalize_command(command: &str) -> String {
    command
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_uppercase()
}

/// Simple commands of a command line.
#[derive(Debug, Clone, Default)]
pub(crate) struct Command {
    programs: Option<Globs>,
    args: Option<Globs>,
    paths_read: Option<Globs>,
    paths_written: Option<Globs>,
    paths_removed: Option<Globs>,
}

impl Command {
    pub(crate) fn compile(c: &RuleConfig, bad: Bad<'_>) -> Result<Command, PolicyError> {
        Ok(Command {
            programs: globs(&c.programs, Style::Name, bad)?,
            args: globs(&c.args, Style::Name, bad)?,
            paths_read: globs(&c.paths_read, Style::Path, bad)?,
            paths_written: globs(&c.paths_written, Style::Path, bad)?,
            paths_removed: globs(&c.paths_removed, Style::Path, bad)?,
        })
    }

    fn is_empty(&self) -> bool {
        self.programs.is_none()
            && self.args.is_none()
            && self.paths_read.is_none()
            && self.paths_written.is_none()
            && self.paths_removed.is_none()
    }

    /// `None`: the line as a whole, which names no program, so only a rule
    /// without command criteria can match it.
    pub(crate) fn matches(&self, c: Option<&SimpleCommand>, allow: bool) -> bool {
        fn strs(v: &[String]) -> Vec<&str> {
            v.iter().map(String::as_str).collect()
        }
        let Some(c) = c else {
            return self.is_empty();
        };
        // A wrapper is a program too: `block sudo` stops `sudo ls`, and
        // `allow ls` does not cover it.
        let mut programs = vec![c.program.as_str()];
        programs.extend(c.via.iter().map(String::as_str));
        let ok = |g: &Option<Globs>, values: Vec<&str>| {
            g.as_ref().is_none_or(|g| g.meets(values, allow))
        };
        ok(&self.programs, programs)
            && ok(&self.args, strs(&c.args))
            && ok(&self.paths_read, strs(&c.paths_read))
            && ok(&self.paths_written, strs(&c.paths_written))
            && ok(&self.paths_removed, strs(&c.paths_removed))
    }
}

/// SSH channels and channel requests.
#[derive(Debug, Clone, Default)]
pub(crate) struct Channel {
    channels: Option<Vec<ChannelKind>>,
    subsystems: Option<Globs>,
    destinations: Option<Globs>,
}

const CHANNEL_KINDS: [ChannelKind; 6] = [
    ChannelKind::Shell,
    ChannelKind::Subsystem,
    ChannelKind::DirectTcpip,
    ChannelKind::TcpipForward,
    ChannelKind::AgentForward,
    ChannelKind::X11,
];

impl Channel {
    pub(crate) fn compile(c: &RuleConfig, bad: Bad<'_>) -> Result<Channel, PolicyError> {
        Ok(Channel {
            channels: parse_all(
                &c.channels,
                &CHANNEL_KINDS,
                ChannelKind::as_str,
                "channel kind",
                bad,
            )?,
            subsystems: globs(&c.subsystems, Style::Name, bad)?,
            destinations: globs(&c.destinations, Style::Name, bad)?,
        })
    }

    pub(crate) fn matches(&self, c: &ChannelRequest) -> bool {
        let one = |g: &Option<Globs>, v: Option<&str>| {
            g.as_ref().is_none_or(|g| v.is_some_and(|v| g.is_match(v)))
        };
        self.channels
            .as_ref()
            .is_none_or(|k| k.contains(&c.channel))
            && one(&self.subsystems, c.subsystem.as_deref())
            && one(&self.destinations, c.destination.as_deref())
    }
}

/// File-transfer operations.
#[derive(Debug, Clone, Default)]
pub(crate) struct File {
    operations: Option<Vec<FileOp>>,
    paths: Option<Globs>,
}

const FILE_OPS: [FileOp; 9] = [
    FileOp::Read,
    FileOp::Write,
    FileOp::Remove,
    FileOp::Rename,
    FileOp::Mkdir,
    FileOp::Rmdir,
    FileOp::Setstat,
    FileOp::List,
    FileOp::Symlink,
];

impl File {
    pub(crate) fn compile(c: &RuleConfig, bad: Bad<'_>) -> Result<File, PolicyError> {
        Ok(File {
            operations: parse_all(
                &c.operations,
                &FILE_OPS,
                FileOp::as_str,
                "file operation",
                bad,
            )?,
            paths: globs(&c.paths, Style::Path, bad)?,
        })
    }

    pub(crate) fn matches(&self, f: &FileOperation, allow: bool) -> bool {
        // A rename or symlink touches both of its paths.
        let paths = std::iter::once(f.path.as_str()).chain(f.target.as_deref());
        self.operations.as_ref().is_none_or(|o| o.contains(&f.op))
            && self.paths.as_ref().is_none_or(|g| g.meets(paths, allow))
    }
}

/// `name` or `name=GLOB` over query parameters or headers.
#[derive(Debug, Clone)]
struct Pair {
    name: Globs,
    value: Option<Globs>,
}

fn pairs(
    list: &Option<Vec<String>>,
    lowercase_names: bool,
    bad: Bad<'_>,
) -> Result<Option<Vec<Pair>>, PolicyError> {
    let Some(list) = list else {
        return Ok(None);
    };
    list.iter()
        .map(|entry| {
            let (name, value) = match entry.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (entry.as_str(), None),
            };
            let name = if lowercase_names {
                name.to_ascii_lowercase()
            } else {
                name.to_string()
            };
            Ok(Pair {
                name: Globs::build(&[name], Style::Name, &bad)?,
                value: value
                    .map(|v| Globs::build(&[v.to_string()], Style::Name, &bad))
                    .transpose()?,
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

impl Pair {
    fn holds(&self, present: &[(String, String)]) -> bool {
        present.iter().any(|(k, v)| {
            self.name.is_match(k) && self.value.as_ref().is_none_or(|g| g.is_match(v))
        })
    }
}

/// A JSON body condition.
#[derive(Debug, Clone)]
struct JsonMatch {
    pointer: String,
    values: Option<Globs>,
}

impl JsonMatch {
    /// Whether the condition holds. A body that is not JSON (or was not
    /// decoded) cannot show it does not: a rule that stops treats it as
    /// holding, a rule that allows as not.
    fn holds(&self, body: &JsonBody, allow: bool) -> bool {
        match body {
            JsonBody::Absent => false,
            JsonBody::Opaque => !allow,
            JsonBody::Json(doc) => {
                let Some(v) = doc.pointer(&self.pointer) else {
                    return false;
                };
                match &self.values {
                    None => true,
                    Some(g) => match v {
                        serde_json::Value::String(s) => g.is_match(s),
                        other => g.is_match(&other.to_string()),
                    },
                }
            }
        }
    }
}

/// Conditions: any of them for a rule that stops, all of them for one that allows.
fn conditions<T>(list: &Option<Vec<T>>, allow: bool, holds: impl Fn(&T) -> bool) -> bool {
    match list {
        None => true,
        Some(list) if allow => list.iter().all(holds),
        Some(list) => list.iter().any(holds),
    }
}

/// HTTP requests.
#[derive(Debug, Clone, Default)]
pub(crate) struct Http {
    methods: Option<Vec<String>>,
    paths: Option<Globs>,
    query: Option<Vec<Pair>>,
    headers: Option<Vec<Pair>>,
    content_types: Option<Globs>,
    json: Option<Vec<JsonMatch>>,
}

impl Http {
    pub(crate) fn compile(c: &RuleConfig, bad: Bad<'_>) -> Result<Http, PolicyError> {
        let json = match &c.json {
            None => None,
            Some(list) => Some(
                list.iter()
                    .map(|j| {
                        if !(j.pointer.is_empty() || j.pointer.starts_with('/')) {
                            return Err(bad(
                                &j.pointer,
                                "a JSON pointer is empty or starts with /".into(),
                            ));
                        }
                        Ok(JsonMatch {
                            pointer: j.pointer.clone(),
                            values: globs(&j.values, Style::Name, bad)?,
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        };
        Ok(Http {
            methods: c
                .methods
                .as_ref()
                .map(|m| m.iter().map(|s| s.to_ascii_uppercase()).collect()),
            paths: globs(&c.paths, Style::Path, bad)?,
            query: pairs(&c.query, false, bad)?,
            headers: pairs(&c.headers, true, bad)?,
            content_types: c
                .content_types
                .as_ref()
                .map(|l| {
                    let lower: Vec<String> = l.iter().map(|s| s.to_ascii_lowercase()).collect();
                    Globs::build(&lower, Style::Name, &bad)
                })
                .transpose()?,
            json,
        })
    }

    pub(crate) fn matches(&self, h: &HttpRequest, allow: bool) -> bool {
        self.methods.as_ref().is_none_or(|m| m.contains(&h.method))
            && self.paths.as_ref().is_none_or(|g| g.is_match(&h.path))
            && self
                .content_types
                .as_ref()
                .is_none_or(|g| h.content_type.as_deref().is_some_and(|t| g.is_match(t)))
            && conditions(&self.query, allow, |p| p.holds(&h.query))
            && conditions(&self.headers, allow, |p| p.holds(&h.headers))
            && conditions(&self.json, allow, |j| j.holds(&h.body, allow))
    }
}

/// Ref updates of a git push.
#[derive(Debug, Clone, Default)]
pub(crate) struct Git {
    refs: Option<Globs>,
    ref_updates: Option<Vec<RefUpdateKind>>,
}

const REF_UPDATES: [RefUpdateKind; 5] = [
    RefUpdateKind::Create,
    RefUpdateKind::Update,
    RefUpdateKind::NonFastForward,
    RefUpdateKind::Delete,
    RefUpdateKind::Unknown,
];

impl Git {
    pub(crate) fn compile(c: &RuleConfig, bad: Bad<'_>) -> Result<Git, PolicyError> {
        Ok(Git {
            refs: globs(&c.refs, Style::Path, bad)?,
            ref_updates: parse_all(
                &c.ref_updates,
                &REF_UPDATES,
                RefUpdateKind::as_str,
                "ref update kind",
                bad,
            )?,
        })
    }

    pub(crate) fn matches(&self, u: &RefUpdate) -> bool {
        self.refs.as_ref().is_none_or(|g| g.is_match(&u.name))
            && self
                .ref_updates
                .as_ref()
                .is_none_or(|k| k.contains(&u.kind))
    }
}

/// Kubernetes API requests.
#[derive(Debug, Clone, Default)]
pub(crate) struct Kube {
    verbs: Option<Vec<KubeVerb>>,
    api_groups: Option<Vec<String>>,
    /// Patterns without `/`: over the resource; with: over `resource/subresource`.
    resources: Option<(Globs, Globs)>,
    namespaces: Option<Globs>,
    names: Option<Globs>,
    images: Option<Globs>,
}

const KUBE_VERBS: [KubeVerb; 14] = [
    KubeVerb::Get,
    KubeVerb::List,
    KubeVerb::Watch,
    KubeVerb::Create,
    KubeVerb::Update,
    KubeVerb::Patch,
    KubeVerb::Delete,
    KubeVerb::Deletecollection,
    KubeVerb::Exec,
    KubeVerb::Attach,
    KubeVerb::Portforward,
    KubeVerb::Proxy,
    KubeVerb::Log,
    KubeVerb::Discovery,
];

impl Kube {
    pub(crate) fn compile(c: &RuleConfig, bad: Bad<'_>) -> Result<Kube, PolicyError> {
        let resources = match &c.resources {
            None => None,
            Some(list) => {
                let (sub, plain): (Vec<String>, Vec<String>) =
                    list.iter().cloned().partition(|p| p.contains('/'));
                Some((
                    Globs::build(&plain, Style::Name, &bad)?,
                    Globs::build(&sub, Style::Path, &bad)?,
                ))
            }
        };
        Ok(Kube {
            verbs: parse_all(&c.verbs, &KUBE_VERBS, KubeVerb::as_str, "verb", bad)?,
            api_groups: c.api_groups.clone(),
            resources,
            namespaces: globs(&c.namespaces, Style::Name, bad)?,
            names: globs(&c.names, Style::Name, bad)?,
            images: globs(&c.images, Style::Name, bad)?,
        })
    }

    pub(crate) fn matches(&self, k: &KubeRequest, allow: bool) -> bool {
        let one = |g: &Option<Globs>, v: Option<&str>| {
            g.as_ref().is_none_or(|g| v.is_some_and(|v| g.is_match(v)))
        };
        let resource = self.resources.as_ref().is_none_or(|(plain, sub)| {
            match &k.subresource {
                // A plain pattern stops every subresource of its resource,
                // but allows only the resource itself.
                Some(s) => {
                    (!allow && plain.is_match(&k.resource))
                        || sub.is_match(&format!("{}/{s}", k.resource))
                }
                None => plain.is_match(&k.resource),
            }
        });
        let images: Vec<&str> = k
            .workload
            .iter()
            .flat_map(|w| w.images.iter().map(String::as_str))
            .collect();
        self.verbs.as_ref().is_none_or(|v| v.contains(&k.verb))
            && self
                .api_groups
                .as_ref()
                .is_none_or(|g| g.contains(&k.group))
            && resource
            && one(&self.namespaces, k.namespace.as_deref())
            && one(&self.names, k.name.as_deref())
            && self.images.as_ref().is_none_or(|g| g.meets(images, allow))
    }
}
