//! Who holds which staged file, and how much each application may hold: plain data, no I/O.
//!
//! An application holds a file once it has uploaded it (the store checked every byte against the
//! hash) in a call that carried its staging token. A file another application already stored is
//! not handed over on its hash: the second application sends the bytes too, and only then holds it
//! as well (proof of possession; the store keeps one copy). Reading is allowed only to holders: the
//! application's own client (Stat) and NodeManagers localizing one of its containers (Download).
//!
//! Quota: the sizes of the distinct files an application holds, plus the uploads it has in flight,
//! stay within `weft.resourcemanager.staging.max-app-bytes`. An upload is reserved in full when its
//! header arrives and refused at once if it would pass the quota; a failed upload gives its
//! reservation back.
//!
//! Release: once an application has ended, its account is dropped and its files go back to the
//! store's retention rule (a file no one holds and no running application names is removed once
//! untouched for `retain-unreferenced-ms`). So is the account of an id that was handed out but never
//! submitted, once idle that long.

use std::collections::{BTreeMap, BTreeSet};

use weft_proto::ApplicationId;

/// Where an application stands, as the ResourceManager's core knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Submitted and not ended.
    Running,
    /// Ended (finished, failed or killed).
    Ended,
    /// Not submitted (yet), or forgotten since it ended.
    Unknown,
}

/// An upload refused because it would take the application past its quota.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "upload of {name:?} ({size} bytes) refused: {app} would hold more than its staging quota of {quota} bytes \
     (weft.resourcemanager.staging.max-app-bytes); it already holds {held} bytes and has {in_flight} in flight"
)]
pub struct QuotaExceeded {
    pub app: ApplicationId,
    pub name: String,
    pub size: u64,
    pub quota: u64,
    pub held: u64,
    pub in_flight: u64,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Account {
    /// sha256 → size of each file the application holds.
    files: BTreeMap<String, u64>,
    /// Bytes of uploads accepted but not finished.
    in_flight: u64,
    /// The last upload or check, in ms: an account of an application never submitted goes once idle.
    touched_ms: u64,
}

impl Account {
    fn held(&self) -> u64 {
        self.files.values().sum()
    }
}

/// Every application's staged files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accounts {
    quota: u64,
    apps: BTreeMap<ApplicationId, Account>,
}

impl Accounts {
    /// No accounts yet; each application may hold up to `quota` bytes.
    pub fn new(quota: u64) -> Accounts {
        Accounts { quota, apps: BTreeMap::new() }
    }

    pub fn quota(&self) -> u64 {
        self.quota
    }

    /// Whether `app` holds the file `sha256`: the one question every read asks.
    pub fn holds(&self, app: ApplicationId, sha256: &str) -> bool {
        self.apps.get(&app).is_some_and(|a| a.files.contains_key(sha256))
    }

    /// The size of the file `sha256` as `app` holds it.
    pub fn size(&self, app: ApplicationId, sha256: &str) -> Option<u64> {
        self.apps.get(&app).and_then(|a| a.files.get(sha256).copied())
    }

    /// Bytes `app` holds (not counting uploads in flight).
    pub fn held(&self, app: ApplicationId) -> u64 {
        self.apps.get(&app).map_or(0, Account::held)
    }

    /// Marks `app`'s account as just used, so an application not yet submitted keeps it.
    pub fn touch(&mut self, app: ApplicationId, now_ms: u64) {
        if let Some(account) = self.apps.get_mut(&app) {
            account.touched_ms = account.touched_ms.max(now_ms);
        }
    }

    /// Reserves `size` bytes for an upload of `name` by `app`, or refuses it if the application would
    /// then hold more than the quota. A refused reservation changes nothing.
    pub fn reserve(&mut self, app: ApplicationId, name: &str, size: u64, now_ms: u64) -> Result<(), QuotaExceeded> {
        let quota = self.quota;
        let account = self.apps.entry(app).or_default();
        let (held, in_flight) = (account.held(), account.in_flight);
        let total = held.saturating_add(in_flight).saturating_add(size);
        if total > quota {
            if held == 0 && in_flight == 0 && account.files.is_empty() {
                self.apps.remove(&app);
            }
            return Err(QuotaExceeded { app, name: name.to_owned(), size, quota, held, in_flight });
        }
        account.in_flight += size;
        account.touched_ms = account.touched_ms.max(now_ms);
        Ok(())
    }

    /// Gives back a reservation of an upload that did not complete.
    pub fn unreserve(&mut self, app: ApplicationId, size: u64) {
        if let Some(account) = self.apps.get_mut(&app) {
            account.in_flight = account.in_flight.saturating_sub(size);
        }
    }

    /// An upload of `reserved` bytes completed as the file `sha256` of `size` bytes: `app` holds it.
    pub fn record(&mut self, app: ApplicationId, sha256: &str, size: u64, reserved: u64, now_ms: u64) {
        let account = self.apps.entry(app).or_default();
        account.in_flight = account.in_flight.saturating_sub(reserved);
        account.files.insert(sha256.to_owned(), size);
        account.touched_ms = account.touched_ms.max(now_ms);
    }

    /// The files `app` holds, sha256 → size.
    pub fn files_of(&self, app: ApplicationId) -> BTreeMap<String, u64> {
        self.apps.get(&app).map(|a| a.files.clone()).unwrap_or_default()
    }

    /// Takes back what `app` held before a restart (from the state store).
    pub fn restore(&mut self, app: ApplicationId, files: BTreeMap<String, u64>, now_ms: u64) {
        let account = self.apps.entry(app).or_default();
        account.files.extend(files);
        account.touched_ms = account.touched_ms.max(now_ms);
    }

    /// Every file some application holds: the store keeps these whatever their age.
    pub fn held_files(&self) -> BTreeSet<String> {
        self.apps.values().flat_map(|a| a.files.keys().cloned()).collect()
    }

    /// Drops the accounts of applications that ended, and of applications never submitted that have
    /// been idle for `retain_ms` with nothing in flight. Returns the released applications with the
    /// files and bytes each held.
    pub fn release(
        &mut self,
        standing: impl Fn(ApplicationId) -> Standing,
        now_ms: u64,
        retain_ms: u64,
    ) -> Vec<(ApplicationId, usize, u64)> {
        let released: Vec<ApplicationId> = self
            .apps
            .iter()
            .filter(|(id, account)| match standing(**id) {
                Standing::Running => false,
                Standing::Ended => true,
                Standing::Unknown => account.in_flight == 0 && now_ms.saturating_sub(account.touched_ms) >= retain_ms,
            })
            .map(|(id, _)| *id)
            .collect();
        released.into_iter().filter_map(|id| self.apps.remove(&id).map(|a| (id, a.files.len(), a.held()))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(n: u32) -> ApplicationId {
        format!("application_1700000000000_{n:04}").parse().unwrap()
    }

    #[test]
    fn only_an_application_that_uploaded_a_file_holds_it() {
        let mut accounts = Accounts::new(1000);
        accounts.reserve(app(1), "a.jar", 10, 0).unwrap();
        assert!(!accounts.holds(app(1), "aa"), "a reservation is no holding");
        accounts.record(app(1), "aa", 10, 10, 5);
        assert!(accounts.holds(app(1), "aa"));
        assert!(!accounts.holds(app(2), "aa"), "another application knowing the hash holds nothing");
        assert_eq!(accounts.size(app(1), "aa"), Some(10));
        assert_eq!(accounts.size(app(2), "aa"), None);
        // The second application sends the bytes too; then both hold the one file.
        accounts.reserve(app(2), "a.jar", 10, 6).unwrap();
        accounts.record(app(2), "aa", 10, 10, 6);
        assert!(accounts.holds(app(1), "aa") && accounts.holds(app(2), "aa"));
        assert_eq!(accounts.held_files(), BTreeSet::from(["aa".to_owned()]));
    }

    #[test]
    fn the_quota_counts_held_files_and_uploads_in_flight() {
        let mut accounts = Accounts::new(100);
        accounts.reserve(app(1), "one", 60, 0).unwrap();
        let refused = accounts.reserve(app(1), "two", 41, 0).unwrap_err();
        assert_eq!(
            refused,
            QuotaExceeded { app: app(1), name: "two".into(), size: 41, quota: 100, held: 0, in_flight: 60 }
        );
        let text = refused.to_string();
        for part in ["application_1700000000000_0001", "100 bytes", "weft.resourcemanager.staging.max-app-bytes"] {
            assert!(text.contains(part), "{text}");
        }
        accounts.reserve(app(1), "two", 40, 0).unwrap();
        accounts.unreserve(app(1), 40);
        accounts.record(app(1), "f1", 60, 60, 1);
        assert_eq!(accounts.held(app(1)), 60);
        assert!(accounts.reserve(app(1), "three", 41, 2).is_err(), "held bytes count");
        accounts.reserve(app(1), "three", 40, 2).unwrap();
        accounts.record(app(1), "f3", 40, 40, 3);
        assert_eq!(accounts.held(app(1)), 100);
        // Another application has a quota of its own.
        accounts.reserve(app(2), "big", 100, 0).unwrap();
        // A file held twice by one application counts once.
        accounts.reserve(app(3), "x", 50, 0).unwrap();
        accounts.record(app(3), "f", 50, 50, 0);
        accounts.reserve(app(3), "x", 50, 0).unwrap();
        accounts.record(app(3), "f", 50, 50, 0);
        assert_eq!(accounts.held(app(3)), 50);
    }

    #[test]
    fn a_refused_first_upload_leaves_no_account() {
        let mut accounts = Accounts::new(10);
        let before = accounts.clone();
        assert!(accounts.reserve(app(1), "huge", 11, 0).is_err());
        assert_eq!(accounts, before);
    }

    #[test]
    fn accounts_are_released_when_their_application_ends_or_was_never_submitted() {
        let mut accounts = Accounts::new(1000);
        for (n, file) in [(1, "running"), (2, "ended"), (3, "never-submitted-idle"), (4, "never-submitted-fresh")] {
            accounts.reserve(app(n), file, 5, 0).unwrap();
            accounts.record(app(n), file, 5, 5, if n == 4 { 900 } else { 100 });
        }
        accounts.record(app(1), "ended", 5, 0, 100);
        accounts.reserve(app(5), "in-flight", 5, 0).unwrap();
        let standing = |id: ApplicationId| match id {
            id if id == app(1) => Standing::Running,
            id if id == app(2) => Standing::Ended,
            _ => Standing::Unknown,
        };
        let released = accounts.release(standing, 1000, 500);
        assert_eq!(released, [(app(2), 1, 5), (app(3), 1, 5)]);
        assert!(accounts.holds(app(1), "running") && accounts.holds(app(4), "never-submitted-fresh"));
        assert!(!accounts.holds(app(2), "ended"));
        // A file an ended application shared with a running one stays held.
        assert_eq!(
            accounts.held_files(),
            BTreeSet::from(["ended".to_owned(), "never-submitted-fresh".to_owned(), "running".to_owned()])
        );
        assert_eq!(accounts.release(standing, 1000, 500), [], "an upload in flight keeps its account");
        accounts.touch(app(4), 2000);
        assert!(accounts.release(standing, 2400, 500).iter().all(|(id, ..)| *id != app(4)), "a touch keeps it");
    }
}
