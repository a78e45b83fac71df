//! The ResourceManager's shared state: the core behind a mutex (never held across an await), plus
//! what the daemon knows about itself. Every core call goes through [`Rm::with`], which hands the
//! effects it queued to the launcher.

use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use crate::clock;
use crate::core::{Caller, Effect, RmCore};
use crate::recovery::StateStore;
use crate::tokens::Keys;

/// Facts about this ResourceManager that pages and reports show.
#[derive(Debug, Clone)]
pub struct RmInfo {
    pub cluster_id: String,
    pub cluster_timestamp: u64,
    /// `host:port` clients and AMs use to reach the client service.
    pub client_address: String,
    /// `host:port` AMs use to reach the scheduler service.
    pub scheduler_address: String,
    /// `host:port` of the web UI and REST.
    pub webapp_address: String,
    pub version: &'static str,
}

pub struct Rm {
    core: Mutex<RmCore>,
    effects: mpsc::UnboundedSender<Effect>,
    pub info: RmInfo,
    pub keys: Keys,
    /// With recovery on: where every change to an application is written before it is answered.
    store: Option<Arc<StateStore>>,
}

impl Rm {
    pub fn new(
        core: RmCore,
        info: RmInfo,
        keys: Keys,
        store: Option<Arc<StateStore>>,
    ) -> (Rm, mpsc::UnboundedReceiver<Effect>) {
        let (effects, receiver) = mpsc::unbounded_channel();
        (Rm { core: Mutex::new(core), effects, info, keys, store }, receiver)
    }

    /// Runs `f` on the core at the current time, writes the applications it changed to the state
    /// store (when recovery is on), then forwards the effects it queued. The caller answers only
    /// after this returns, so whatever it acknowledges is on disk. A store that cannot be written
    /// ends the daemon (YARN's fail-fast): answering as if it had been would lose work on restart.
    pub fn with<R>(&self, f: impl FnOnce(&mut RmCore, u64) -> R) -> R {
        let now = clock::now_ms();
        let mut core = self.core.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let result = f(&mut core, now);
        let changed = core.take_changed();
        if let Some(store) = &self.store {
            for id in changed {
                let written = match core.app(id) {
                    Ok(app) => store.put_app(app),
                    Err(_) => store.remove_app(id),
                };
                if let Err(error) = written {
                    panic!("cannot write the state store: {error:#}");
                }
            }
        }
        for effect in core.take_effects() {
            // The receiver lives as long as the daemon; a send fails only during shutdown.
            let _ = self.effects.send(effect);
        }
        result
    }

    /// The caller a request names (empty: anonymous), with its groups when ACLs are on.
    pub fn caller(&self, user: &str) -> Caller {
        let acls_on = self.with(|core, _| core.config().acls.is_enabled());
        weft_daemon::callers::caller(user, acls_on)
    }
}
