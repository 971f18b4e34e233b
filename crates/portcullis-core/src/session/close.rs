//! Why sessions end: one vocabulary for every adapter.

use crate::live::Termination;

/// Why a session ended, as recorded in its close event and logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// The client said goodbye (PostgreSQL Terminate, SSH channel close
    /// after exit, the end of an HTTP exchange).
    ClientQuit,
    /// The client's connection closed or failed without saying goodbye.
    ClientDisconnected(String),
    /// The target closed the connection.
    UpstreamClosed(String),
    /// The client broke the protocol; it was told why.
    ProtocolError(String),
    /// The gateway is shutting down; the client was told.
    Shutdown,
    /// Recording stopped: the session is closed rather than run unrecorded.
    RecorderStopped,
    /// Strict mode: a request event could not be stored in time, so its
    /// request was refused and the session closed.
    RecordingUnavailable(String),
    /// Access ended: the credential was revoked or expired, or the grant
    /// went away.
    Revoked,
    /// An administrator ended the session.
    Killed,
    /// The session reached the end of its allowed time.
    Expired,
    /// The session's task panicked; the message is the panic's.
    Panic(String),
    /// The gateway stopped while the session was open (found at restart).
    Crashed,
}

impl CloseReason {
    /// The name recorded as the session's `reason`.
    pub fn as_str(&self) -> &'static str {
        match self {
            CloseReason::ClientQuit => "client-quit",
            CloseReason::ClientDisconnected(_) => "client-disconnected",
            CloseReason::UpstreamClosed(_) => "upstream-closed",
            CloseReason::ProtocolError(_) => "protocol-error",
            CloseReason::Shutdown => "shutdown",
            CloseReason::RecorderStopped => "recorder-stopped",
            CloseReason::RecordingUnavailable(_) => "recording-unavailable",
            CloseReason::Revoked => "revoked",
            CloseReason::Killed => "killed",
            CloseReason::Expired => "expired",
            CloseReason::Panic(_) => "panic",
            CloseReason::Crashed => "crashed",
        }
    }

    /// More about it, recorded as the session's `detail`.
    pub fn detail(&self) -> Option<String> {
        match self {
            CloseReason::ClientDisconnected(d)
            | CloseReason::UpstreamClosed(d)
            | CloseReason::ProtocolError(d)
            | CloseReason::RecordingUnavailable(d)
            | CloseReason::Panic(d) => Some(d.clone()),
            CloseReason::RecorderStopped => Some("recorder stopped".into()),
            _ => None,
        }
    }
}

impl From<Termination> for CloseReason {
    fn from(t: Termination) -> CloseReason {
        match t {
            Termination::Revoked => CloseReason::Revoked,
            Termination::Killed => CloseReason::Killed,
        }
    }
}

impl std::fmt::Display for CloseReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.detail() {
            Some(d) => write!(f, "{}: {d}", self.as_str()),
            None => f.write_str(self.as_str()),
        }
    }
}
