//! Who holds which staged file, and how much each application may hold: plain data, no I/O.
//!
//! An application holds a file once it has uploaded it (the store checked every byte against the
//! hash) in a call that carried its staging token. Proof of possession is per user: the upload also
//! proves that the user its token names (the one who asked for the application id) has the bytes,
//! and a later application of that same user then claims the file on its hash alone (a `Stat` of
//! its client), without sending it again. Knowing a hash still grants nothing: a file only another
//! user uploaded — even the very same bytes — is not handed over; that user's application sends the
//! bytes too, and only then holds it as well (the store keeps one copy). A token naming no user
//! proves nothing beyond its application. A user's proof of a blob goes when the store removes the
//! blob. Reading is allowed only to holders: the application's own client (Stat) and NodeManagers
//! localizing one of its containers (Download).
//!
//! Quota: the sizes of the distinct files an application holds, plus the uploads it has in flight,
//! stay within `weft.resourcemanager.staging.max-app-bytes`. An upload is reserved in full when its
//! header arrives and refused at once if it would pass the quota; a failed upload gives its
//! reservation back. A claim is held to the quota the same way, as an upload of the blob's size.
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

/// An upload (or a claim) refused because it would take the application past its quota.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "staging {name:?} ({size} bytes) refused: {app} would hold more than its staging quota of {quota} bytes \
     (weft.resourcemanager.staging.max-app-bytes); it already holds {held} bytes and has {in_flight} in flight"
)]
pub struct QuotaExceeded {
    pub app: ApplicationId,
    /// The upload's file name; for a claim, the blob's sha256.
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

/// Every application's staged files, and every user's proofs of possession.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accounts {
    quota: u64,
    apps: BTreeMap<ApplicationId, Account>,
    /// user → sha256 → size of each blob that user uploaded in full. Invariant: a user's entry is
    /// never empty, and a blob's proofs go when the store removes it ([`Accounts::forget_blobs`]).
    proofs: BTreeMap<String, BTreeMap<String, u64>>,
}

impl Accounts {
    /// No accounts yet; each application may hold up to `quota` bytes.
    pub fn new(quota: u64) -> Accounts {
        Accounts { quota, apps: BTreeMap::new(), proofs: BTreeMap::new() }
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

    /// An upload of `reserved` bytes completed as the file `sha256` of `size` bytes: `app` holds it,
    /// and `user` (whom `app`'s staging token names, if anyone) has proven possession of it. Returns
    /// whether that proof is new (so that it is worth keeping in the state store).
    pub fn record(
        &mut self,
        app: ApplicationId,
        user: Option<&str>,
        sha256: &str,
        size: u64,
        reserved: u64,
        now_ms: u64,
    ) -> bool {
        let account = self.apps.entry(app).or_default();
        account.in_flight = account.in_flight.saturating_sub(reserved);
        account.files.insert(sha256.to_owned(), size);
        account.touched_ms = account.touched_ms.max(now_ms);
        let Some(user) = user else { return false };
        self.proofs.entry(user.to_owned()).or_default().insert(sha256.to_owned(), size) != Some(size)
    }

    /// The size of the blob `sha256` as `user` proved possession of it, if they did.
    pub fn proven(&self, user: &str, sha256: &str) -> Option<u64> {
        self.proofs.get(user).and_then(|blobs| blobs.get(sha256).copied())
    }

    /// `app`, whose staging token names `user`, asks for the blob `sha256`, which is in the store
    /// with `size` bytes. `app` holds it afterwards if it did already, or if `user` proved possession
    /// of exactly that blob: then it is reserved and recorded as an upload of `size` bytes would be,
    /// and refused the same way past the quota (changing nothing). `Ok(false)`: no proof, or one of
    /// another size.
    pub fn claim(
        &mut self,
        app: ApplicationId,
        user: &str,
        sha256: &str,
        size: u64,
        now_ms: u64,
    ) -> Result<bool, QuotaExceeded> {
        if self.size(app, sha256) == Some(size) {
            self.touch(app, now_ms);
            return Ok(true);
        }
        if self.proven(user, sha256) != Some(size) {
            return Ok(false);
        }
        self.reserve(app, sha256, size, now_ms)?;
        self.record(app, Some(user), sha256, size, size, now_ms);
        Ok(true)
    }

    /// The blobs `user` has proven possession of, sha256 → size.
    pub fn proofs_of(&self, user: &str) -> BTreeMap<String, u64> {
        self.proofs.get(user).cloned().unwrap_or_default()
    }

    /// Takes back `user`'s proofs from before a restart (from the state store).
    pub fn restore_proofs(&mut self, user: &str, blobs: BTreeMap<String, u64>) {
        if !blobs.is_empty() {
            self.proofs.entry(user.to_owned()).or_default().extend(blobs);
        }
    }

    /// The store removed these blobs: no one's proof of them counts any more. Returns the users
    /// whose proofs changed.
    pub fn forget_blobs(&mut self, removed: &BTreeSet<String>) -> Vec<String> {
        let mut changed = Vec::new();
        self.proofs.retain(|user, blobs| {
            let before = blobs.len();
            blobs.retain(|sha256, _| !removed.contains(sha256));
            if blobs.len() != before {
                changed.push(user.clone());
            }
            !blobs.is_empty()
        });
        changed
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
        accounts.record(app(1), None, "aa", 10, 10, 5);
        assert!(accounts.holds(app(1), "aa"));
        assert!(!accounts.holds(app(2), "aa"), "another application knowing the hash holds nothing");
        assert_eq!(accounts.size(app(1), "aa"), Some(10));
        assert_eq!(accounts.size(app(2), "aa"), None);
        // The second application sends the bytes too; then both hold the one file.
        accounts.reserve(app(2), "a.jar", 10, 6).unwrap();
        accounts.record(app(2), None, "aa", 10, 10, 6);
        assert!(accounts.holds(app(1), "aa") && accounts.holds(app(2), "aa"));
        assert_eq!(accounts.held_files(), BTreeSet::from(["aa".to_owned()]));
    }

    /// An upload of `sha256` (`size` bytes) by `app`, whose staging token names `user`.
    fn upload(accounts: &mut Accounts, app: ApplicationId, user: Option<&str>, sha256: &str, size: u64) {
        accounts.reserve(app, "file", size, 0).unwrap();
        accounts.record(app, user, sha256, size, size, 0);
    }

    #[test]
    fn a_users_upload_lets_that_users_other_applications_claim_the_blob() {
        let mut accounts = Accounts::new(1000);
        upload(&mut accounts, app(1), Some("alice"), "aa", 10);
        assert_eq!(accounts.proven("alice", "aa"), Some(10));
        assert_eq!(accounts.claim(app(2), "alice", "aa", 10, 7), Ok(true));
        assert!(accounts.holds(app(2), "aa"));
        assert_eq!((accounts.held(app(2)), accounts.proofs_of("alice").len()), (10, 1));
        assert_eq!(accounts.claim(app(2), "alice", "aa", 10, 8), Ok(true), "claiming again changes nothing");
        assert_eq!(accounts.held(app(2)), 10);
        // A proof is of one blob at one size.
        assert_eq!(accounts.claim(app(3), "alice", "aa", 11, 8), Ok(false));
        assert_eq!(accounts.claim(app(3), "alice", "bb", 10, 8), Ok(false));
        // An upload with a token naming no user proves nothing for anyone.
        upload(&mut accounts, app(4), None, "cc", 5);
        assert_eq!(accounts.claim(app(5), "alice", "cc", 5, 8), Ok(false));
        assert!(!accounts.holds(app(3), "aa") && !accounts.holds(app(5), "cc"));
    }

    #[test]
    fn another_users_upload_of_the_same_bytes_proves_nothing() {
        let mut accounts = Accounts::new(1000);
        upload(&mut accounts, app(1), Some("alice"), "aa", 10);
        assert_eq!(accounts.claim(app(2), "bob", "aa", 10, 0), Ok(false));
        assert!(!accounts.holds(app(2), "aa"));
        assert_eq!(accounts.proven("bob", "aa"), None);
        // Bob sends the bytes himself; from then on his applications claim it too.
        upload(&mut accounts, app(2), Some("bob"), "aa", 10);
        assert_eq!(accounts.claim(app(3), "bob", "aa", 10, 0), Ok(true));
        // Bob's upload changed nothing for a third user.
        assert_eq!(accounts.claim(app(4), "carol", "aa", 10, 0), Ok(false));
    }

    #[test]
    fn a_claim_is_held_to_the_quota_like_an_upload() {
        let mut accounts = Accounts::new(100);
        upload(&mut accounts, app(1), Some("alice"), "big", 60);
        upload(&mut accounts, app(2), Some("alice"), "other", 30);
        accounts.reserve(app(2), "in flight", 20, 0).unwrap();
        let before = accounts.clone();
        let refused = accounts.claim(app(2), "alice", "big", 60, 5).unwrap_err();
        assert_eq!(
            refused,
            QuotaExceeded { app: app(2), name: "big".into(), size: 60, quota: 100, held: 30, in_flight: 20 }
        );
        assert_eq!(accounts, before, "a refused claim changes nothing");
        accounts.unreserve(app(2), 20);
        assert_eq!(accounts.claim(app(2), "alice", "big", 60, 5), Ok(true));
        assert_eq!(accounts.held(app(2)), 90);
        // Refused for an application with no account yet, it leaves none behind.
        let mut tight = Accounts::new(50);
        upload(&mut tight, app(1), Some("alice"), "x", 40);
        tight.quota = 30; // as after a restart with a smaller setting
        let before = tight.clone();
        assert!(tight.claim(app(3), "alice", "x", 40, 0).is_err());
        assert_eq!(tight, before);
    }

    #[test]
    fn a_proof_goes_with_its_blob() {
        let mut accounts = Accounts::new(1000);
        upload(&mut accounts, app(1), Some("alice"), "aa", 10);
        upload(&mut accounts, app(1), Some("alice"), "bb", 10);
        upload(&mut accounts, app(2), Some("bob"), "bb", 10);
        upload(&mut accounts, app(3), Some("carol"), "cc", 10);
        let changed = accounts.forget_blobs(&BTreeSet::from(["bb".to_owned(), "gone".to_owned()]));
        assert_eq!(changed, ["alice", "bob"]);
        assert_eq!(accounts.claim(app(4), "alice", "bb", 10, 0), Ok(false));
        assert_eq!(accounts.claim(app(4), "bob", "bb", 10, 0), Ok(false));
        assert_eq!(accounts.proofs_of("bob"), BTreeMap::new());
        assert_eq!(accounts.claim(app(4), "alice", "aa", 10, 0), Ok(true), "other proofs stay");
        // Proofs restored after a restart count again.
        accounts.restore_proofs("bob", BTreeMap::from([("bb".to_owned(), 10)]));
        assert_eq!(accounts.claim(app(5), "bob", "bb", 10, 0), Ok(true));
        // Releasing an application's account keeps its user's proofs.
        accounts.release(|_| Standing::Ended, 0, 0);
        assert_eq!(accounts.proven("alice", "aa"), Some(10));
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
        accounts.record(app(1), None, "f1", 60, 60, 1);
        assert_eq!(accounts.held(app(1)), 60);
        assert!(accounts.reserve(app(1), "three", 41, 2).is_err(), "held bytes count");
        accounts.reserve(app(1), "three", 40, 2).unwrap();
        accounts.record(app(1), None, "f3", 40, 40, 3);
        assert_eq!(accounts.held(app(1)), 100);
        // Another application has a quota of its own.
        accounts.reserve(app(2), "big", 100, 0).unwrap();
        // A file held twice by one application counts once.
        accounts.reserve(app(3), "x", 50, 0).unwrap();
        accounts.record(app(3), None, "f", 50, 50, 0);
        accounts.reserve(app(3), "x", 50, 0).unwrap();
        accounts.record(app(3), None, "f", 50, 50, 0);
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
            accounts.record(app(n), None, file, 5, 5, if n == 4 { 900 } else { 100 });
        }
        accounts.record(app(1), None, "ended", 5, 0, 100);
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
