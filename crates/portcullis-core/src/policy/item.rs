//! The units a policy judges one at a time: a request is one or more
//! items (the statements of a SQL request, the simple commands of a command
//! line, the ref updates of a push), and its verdict is the most
//! restrictive of theirs.
//!
//! Structured kinds carry no classes of their own; they are derived here so
//! kind-neutral rules (`class = ["write"]`) read the same for every
//! protocol:
//! - channel: `shell` is `opaque` (anything can run in it); forwarding
//!   channels are `network`; a subsystem has no class (its operations are
//!   judged one by one);
//! - file: `read` and `list` are `read`, everything else `write`;
//! - http: `GET`, `HEAD` and `OPTIONS` are `read`, other methods `write`;
//! - git: create and fast-forward updates are `write`; deletions,
//!   non-fast-forward and unknown updates are `write` and `destructive`;
//! - kubernetes: reads (`get`, `list`, `watch`, `log`, discovery) are
//!   `read`; `create`, `update`, `patch` are `write`; `delete` and
//!   `deletecollection` are `write` and `destructive`; `exec` and `attach`
//!   are `admin` (they run commands in a container); `portforward` and
//!   `proxy` are `network`; a request with an opaque body is `opaque` as
//!   well.

use std::borrow::Cow;

use crate::request::{
    ChannelKind, ChannelRequest, CommandLine, FileOp, FileOperation, HttpRequest, KubeRequest,
    KubeVerb, RefUpdate, RefUpdateKind, Request, RequestKind, SimpleCommand,
};
use crate::statement::{Fact, StatementClass as C, StatementInfo};

/// One thing a rule is matched against.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Item<'a> {
    Sql(&'a StatementInfo),
    /// One simple command of a line; `None`: the line as a whole (what no
    /// simple command accounts for, such as why it is opaque).
    Command(&'a CommandLine, Option<&'a SimpleCommand>),
    Channel(&'a ChannelRequest),
    File(&'a FileOperation),
    Http(&'a HttpRequest),
    Git(&'a RefUpdate),
    Kube(&'a KubeRequest),
}

/// An item, and whether it is only inspected on the side (SQL a `psql -c`
/// would run, the API calls of a `kubectl`): such items can make a verdict
/// stricter, never decide it through the policy's default.
pub(crate) struct Judged<'a> {
    pub(crate) item: Item<'a>,
    pub(crate) embedded: bool,
}

impl<'a> Item<'a> {
    pub(crate) fn kind(&self) -> RequestKind {
        match self {
            Item::Sql(_) => RequestKind::Sql,
            Item::Command(..) => RequestKind::Command,
            Item::Channel(_) => RequestKind::Channel,
            Item::File(_) => RequestKind::File,
            Item::Http(_) => RequestKind::Http,
            Item::Git(_) => RequestKind::Git,
            Item::Kube(_) => RequestKind::Kubernetes,
        }
    }

    /// Every class of the item's effect.
    pub(crate) fn classes(&self) -> Cow<'a, [C]> {
        match *self {
            Item::Sql(s) => Cow::Borrowed(&s.classes),
            Item::Command(_, Some(c)) => Cow::Borrowed(&c.classes),
            Item::Command(line, None) => Cow::Borrowed(&line.classes),
            Item::Channel(c) => Cow::Borrowed(match c.channel {
                ChannelKind::Shell => &[C::Opaque],
                ChannelKind::Subsystem => &[],
                ChannelKind::DirectTcpip
                | ChannelKind::TcpipForward
                | ChannelKind::AgentForward
                | ChannelKind::X11 => &[C::Network],
            }),
            Item::File(f) => Cow::Borrowed(match f.op {
                FileOp::Read | FileOp::List => &[C::Read],
                _ => &[C::Write],
            }),
            Item::Http(h) => Cow::Borrowed(match h.method.as_str() {
                "GET" | "HEAD" | "OPTIONS" => &[C::Read],
                _ => &[C::Write],
            }),
            Item::Git(u) => Cow::Borrowed(match u.kind {
                RefUpdateKind::Create | RefUpdateKind::Update => &[C::Write],
                _ => &[C::Write, C::Destructive],
            }),
            Item::Kube(k) => {
                let base: &[C] = match k.verb {
                    KubeVerb::Get
                    | KubeVerb::List
                    | KubeVerb::Watch
                    | KubeVerb::Log
                    | KubeVerb::Discovery => &[C::Read],
                    KubeVerb::Create | KubeVerb::Update | KubeVerb::Patch => &[C::Write],
                    KubeVerb::Delete | KubeVerb::Deletecollection => &[C::Write, C::Destructive],
                    KubeVerb::Exec | KubeVerb::Attach => &[C::Admin],
                    KubeVerb::Portforward | KubeVerb::Proxy => &[C::Network],
                };
                if k.opaque_reason.is_some() && !base.contains(&C::Opaque) {
                    let mut all = base.to_vec();
                    all.push(C::Opaque);
                    all.sort();
                    Cow::Owned(all)
                } else {
                    Cow::Borrowed(base)
                }
            }
        }
    }

    pub(crate) fn facts(&self) -> &'a [Fact] {
        match *self {
            Item::Sql(s) => &s.facts,
            Item::Command(_, Some(c)) => &c.facts,
            Item::Command(line, None) => &line.facts,
            Item::Kube(k) => &k.facts,
            _ => &[],
        }
    }

    /// Whether the classes of this kind come from a classifier reading
    /// text, which can find effects the request does not spell out (a
    /// DELETE inside a SELECT, `find -delete`): allow rules must then name
    /// every class other than `read`.
    pub(crate) fn classified_from_text(&self) -> bool {
        matches!(self, Item::Sql(_) | Item::Command(..))
    }

    /// What `regex` rules run over.
    pub(crate) fn text(&self) -> Cow<'a, str> {
        match *self {
            Item::Sql(s) => Cow::Borrowed(&s.normalized),
            Item::Command(line, _) => Cow::Borrowed(&line.text),
            Item::Channel(c) => Cow::Owned(
                [
                    Some(c.channel.as_str()),
                    c.subsystem.as_deref(),
                    c.destination.as_deref(),
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" "),
            ),
            Item::File(f) => Cow::Borrowed(&f.path),
            Item::Http(h) => {
                let mut t = format!("{} {}", h.method, h.path);
                for (i, (k, v)) in h.query.iter().enumerate() {
                    t.push(if i == 0 { '?' } else { '&' });
                    t.push_str(k);
                    t.push('=');
                    t.push_str(v);
                }
                Cow::Owned(t)
            }
            Item::Git(u) => Cow::Borrowed(&u.name),
            Item::Kube(k) => {
                let mut t = format!("{} {}", k.verb.as_str(), k.resource);
                if let Some(sub) = &k.subresource {
                    t.push('/');
                    t.push_str(sub);
                }
                if let Some(ns) = &k.namespace {
                    t.push(' ');
                    t.push_str(ns);
                    t.push('/');
                }
                if let Some(name) = &k.name {
                    if k.namespace.is_none() {
                        t.push(' ');
                    }
                    t.push_str(name);
                }
                Cow::Owned(t)
            }
        }
    }

    /// A short name for messages: `DROP TABLE`, `rm`, `POST`, `delete`.
    pub(crate) fn label(&self) -> Cow<'a, str> {
        match *self {
            Item::Sql(s) => Cow::Owned(s.full_command()),
            Item::Command(_, Some(c)) => Cow::Borrowed(&c.program),
            Item::Command(_, None) => Cow::Borrowed("command line"),
            Item::Channel(c) => Cow::Borrowed(c.channel.as_str()),
            Item::File(f) => Cow::Borrowed(f.op.as_str()),
            Item::Http(h) => Cow::Borrowed(&h.method),
            Item::Git(u) => Cow::Owned(format!("{} of {}", u.kind.as_str(), u.name)),
            Item::Kube(k) => Cow::Borrowed(k.verb.as_str()),
        }
    }
}

/// The items of a request other than SQL (whose statements are judged by
/// [`crate::policy::Policy::evaluate`]).
pub(crate) fn items(request: &Request) -> Vec<Judged<'_>> {
    let own = |item| Judged {
        item,
        embedded: false,
    };
    match request {
        Request::Sql { statements } => statements.iter().map(|s| own(Item::Sql(s))).collect(),
        Request::Command(line) => {
            let mut out: Vec<Judged<'_>> = line
                .commands
                .iter()
                .map(|c| own(Item::Command(line, Some(c))))
                .collect();
            // What the line is that none of its commands accounts for
            // (opaque, an interpreter fed from a pipe) is judged on its own.
            let unaccounted = line
                .classes
                .iter()
                .any(|c| !line.commands.iter().any(|s| s.classes.contains(c)))
                || line
                    .facts
                    .iter()
                    .any(|f| !line.commands.iter().any(|s| s.facts.contains(f)));
            if out.is_empty() || unaccounted {
                out.push(own(Item::Command(line, None)));
            }
            out.extend(line.sql.iter().map(|s| Judged {
                item: Item::Sql(s),
                embedded: true,
            }));
            out.extend(line.kubernetes.iter().map(|k| Judged {
                item: Item::Kube(k),
                embedded: true,
            }));
            out
        }
        Request::Channel(c) => vec![own(Item::Channel(c))],
        Request::File(f) => vec![own(Item::File(f))],
        Request::Http(h) => vec![own(Item::Http(h))],
        Request::Git(push) => push.updates.iter().map(|u| own(Item::Git(u))).collect(),
        Request::Kubernetes(k) => vec![own(Item::Kube(k))],
    }
}
