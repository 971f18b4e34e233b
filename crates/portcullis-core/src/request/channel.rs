//! SSH channels and channel requests other than exec.

use serde::{Deserialize, Serialize};

/// What an SSH client asks to open or start on a channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    /// An interactive shell (`shell` request, usually after `pty-req`).
    Shell,
    /// A subsystem (`sftp`, ...); its name is [`ChannelRequest::subsystem`].
    Subsystem,
    /// Local (`-L`) or dynamic (`-D`) forwarding: a `direct-tcpip` channel.
    DirectTcpip,
    /// Remote forwarding (`-R`): a `tcpip-forward` global request.
    TcpipForward,
    /// Agent forwarding (`auth-agent-req@openssh.com`).
    AgentForward,
    /// X11 forwarding (`x11-req`).
    X11,
}

impl ChannelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Shell => "shell",
            ChannelKind::Subsystem => "subsystem",
            ChannelKind::DirectTcpip => "direct-tcpip",
            ChannelKind::TcpipForward => "tcpip-forward",
            ChannelKind::AgentForward => "agent-forward",
            ChannelKind::X11 => "x11",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelRequest {
    pub channel: ChannelKind,
    /// Subsystem name (`sftp`) for [`ChannelKind::Subsystem`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subsystem: Option<String>,
    /// `host:port` a forwarding connects to or listens on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    /// Whether a pty was requested on the channel.
    #[serde(default)]
    pub pty: bool,
}
