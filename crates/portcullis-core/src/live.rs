//! Live sessions, so that a revocation, a grant removed by a reload, or an
//! administrator's kill ends them at once instead of at their next login.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use crate::auth::Principal;

/// Why the gateway ends a session on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Termination {
    /// The credential was revoked or expired, or the grant went away.
    Revoked,
    /// An administrator ended the session.
    Killed,
}

impl Termination {
    /// The close reason recorded with the session.
    pub fn reason(self) -> &'static str {
        match self {
            Termination::Revoked => "revoked",
            Termination::Killed => "killed",
        }
    }

    /// What the client is told.
    pub fn message(self) -> &'static str {
        match self {
            Termination::Revoked => "terminating connection: access was revoked",
            Termination::Killed => {
                "terminating connection: the session was ended by an administrator"
            }
        }
    }
}

/// What is known about a live session.
#[derive(Debug, Clone)]
pub struct LiveInfo {
    pub id: String,
    pub principal: Principal,
    pub connection: String,
}

struct Entry {
    info: LiveInfo,
    stop: watch::Sender<Option<Termination>>,
}

#[derive(Default)]
pub struct LiveSessions {
    map: Mutex<HashMap<String, Entry>>,
}

/// Unregisters the session when dropped.
pub struct LiveGuard {
    sessions: Arc<LiveSessions>,
    id: String,
}

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.sessions.lock().remove(&self.id);
    }
}

impl LiveSessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a session; the receiver turns `Some` when it must end.
    pub fn register(
        self: &Arc<Self>,
        info: LiveInfo,
    ) -> (LiveGuard, watch::Receiver<Option<Termination>>) {
        let (stop, rx) = watch::channel(None);
        let id = info.id.clone();
        self.lock().insert(id.clone(), Entry { info, stop });
        (
            LiveGuard {
                sessions: self.clone(),
                id,
            },
            rx,
        )
    }

    pub fn snapshot(&self) -> Vec<LiveInfo> {
        self.lock().values().map(|e| e.info.clone()).collect()
    }

    /// Ends one session; false if it is not live.
    pub fn terminate(&self, id: &str, why: Termination) -> bool {
        match self.lock().get(id) {
            Some(e) => {
                e.stop.send_replace(Some(why));
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(id: &str) -> LiveInfo {
        LiveInfo {
            id: id.into(),
            principal: Principal {
                identity: "ci".into(),
                groups: vec![],
                method: "token:1".into(),
                expires_at: None,
            },
            connection: "db".into(),
        }
    }

    #[test]
    fn terminate_reaches_the_session_and_drop_unregisters() {
        let live = Arc::new(LiveSessions::default());
        let (guard, rx) = live.register(info("a"));
        assert_eq!(live.snapshot().len(), 1);
        assert!(live.terminate("a", Termination::Killed));
        assert_eq!(*rx.borrow(), Some(Termination::Killed));
        drop(guard);
        assert!(live.snapshot().is_empty());
        assert!(!live.terminate("a", Termination::Killed));
    }
}
