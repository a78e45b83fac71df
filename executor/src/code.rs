//! Code references that cross process boundaries: a function of this executable, named by its offset
//! from [`anchor`], and the build id that proves both ends run the same executable.
//!
//! The invariant (ARCHITECTURE.md, "Shipping user code"): every function behind an [`FnRef`] and
//! `anchor` is linked into one executable image, so their distance is fixed at link time even under
//! ASLR; an executor resolves an `FnRef` only through a [`Verified`] frame, which exists only once the
//! frame's build id equals this process's own.
//!
//! What the types enforce: outside this crate, safe code can make an `FnRef` only from a function
//! (`FnRef::new`) and can neither resolve one nor make a `Verified` (`FnRef::resolve`,
//! `Verified::check` and the frame decoding that yields one are private to the crate). Inside, the
//! only source of `Verified` is a task frame received by the executor runtime from its driver. A
//! forged offset in such a frame would be arbitrary code execution, so that channel must be trusted:
//! the build id guards against honest mistakes (another build of the same program), not an attacker.

use std::fmt;
use std::marker::PhantomData;
use std::sync::OnceLock;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The fixed point offsets are measured from. Never inlined, never merged with another function.
#[inline(never)]
pub fn anchor() -> u32 {
    // A body of its own keeps the linker from folding it into an identical function.
    std::hint::black_box(0x5745_4654)
}

fn anchor_address() -> usize {
    anchor as fn() -> u32 as *const () as usize
}

/// A function pointer type that may travel as an [`FnRef`]. Implemented only for the fixed
/// constructor signatures of `crate::plan`, so user data can never become a code reference.
pub trait CodePointer: Copy + 'static {
    fn address(self) -> usize;
    /// # Safety
    /// `address` must be the address of a function of exactly this type in this executable.
    unsafe fn from_address(address: usize) -> Self;
}

/// The offset of a function of type `S` from [`anchor`]; built only from a value of type `S`.
pub struct FnRef<S> {
    offset: i64,
    _kind: PhantomData<S>,
}

impl<S> Clone for FnRef<S> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<S> Copy for FnRef<S> {}

impl<S> PartialEq for FnRef<S> {
    fn eq(&self, other: &Self) -> bool {
        self.offset == other.offset
    }
}
impl<S> Eq for FnRef<S> {}

impl<S> fmt::Debug for FnRef<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FnRef({:+#x})", self.offset)
    }
}

impl<S: CodePointer> FnRef<S> {
    pub fn new(function: S) -> FnRef<S> {
        let offset = function.address() as i64 - anchor_address() as i64;
        FnRef { offset, _kind: PhantomData }
    }

    /// The function in this process. Only a verified frame's references resolve.
    pub(crate) fn resolve(self, _proof: &Verified) -> S {
        let address = (anchor_address() as i64 + self.offset) as usize;
        // SAFETY: `Verified` is made only by `Verified::check` (crate-private), called only when a
        // task frame from the driver carries this executable's build id; the driver built the frame's
        // references with `FnRef::new` from functions of type `S` in that same executable, and the
        // distance from `anchor` is a link-time constant (one image, see the module header). What
        // this relies on and cannot check: that the frame really came from the driver (a trusted
        // channel).
        unsafe { S::from_address(address) }
    }
}

impl<S> Serialize for FnRef<S> {
    fn serialize<Z: Serializer>(&self, serializer: Z) -> Result<Z::Ok, Z::Error> {
        self.offset.serialize(serializer)
    }
}

impl<'de, S> Deserialize<'de> for FnRef<S> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(FnRef { offset: i64::deserialize(deserializer)?, _kind: PhantomData })
    }
}

/// Proof that a frame was made by this same executable; the only way to resolve an [`FnRef`]. Only this
/// crate makes one, from a task frame the executor runtime received (a copy is as good as the original).
#[derive(Debug, Clone)]
pub struct Verified(());

impl Verified {
    /// Checks a frame's build id against this process's own.
    pub(crate) fn check(frame_build: &BuildId) -> Result<Verified, BuildMismatch> {
        let own = build_id();
        if frame_build == own {
            Ok(Verified(()))
        } else {
            Err(BuildMismatch { task: *frame_build, executor: *own })
        }
    }
}

/// A task made by another build of the application binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "build id mismatch: the task comes from build {task} of the application binary, this executor runs build \
     {executor}; refusing it (the driver and its executors must run the same executable)"
)]
pub struct BuildMismatch {
    pub task: BuildId,
    pub executor: BuildId,
}

/// xxh3-128 of an executable's bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BuildId(pub u128);

impl fmt::Display for BuildId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

impl fmt::Debug for BuildId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BuildId({self})")
    }
}

impl std::str::FromStr for BuildId {
    type Err = String;
    fn from_str(s: &str) -> Result<BuildId, String> {
        u128::from_str_radix(s, 16).map(BuildId).map_err(|e| format!("bad build id {s:?}: {e}"))
    }
}

static BUILD_ID: OnceLock<BuildId> = OnceLock::new();

/// This process's build id, computed once: xxh3-128 of the linker's build id (the ELF
/// `NT_GNU_BUILD_ID` note, itself a hash of the whole linked output) when the executable has one,
/// which takes reading its headers; otherwise of the whole of `/proc/self/exe` (an executor reading
/// a 50 MB program at start took 0.14 s).
pub fn build_id() -> &'static BuildId {
    BUILD_ID.get_or_init(|| {
        let exe = std::path::Path::new("/proc/self/exe");
        if let Some(note) = linker_build_id(exe) {
            return BuildId(xxhash_rust::xxh3::xxh3_128(&note));
        }
        let bytes = std::fs::read(exe).unwrap_or_else(|e| {
            // Without its own image the process cannot prove anything; every task would be refused.
            panic!("cannot read /proc/self/exe to compute the build id: {e}")
        });
        BuildId(xxhash_rust::xxh3::xxh3_128(&bytes))
    })
}

/// The build id note the linker wrote into the ELF executable at `path`, read through its headers
/// and that note only; `None` when it has none (or is no ELF file).
fn linker_build_id(path: &std::path::Path) -> Option<Vec<u8>> {
    use object::Object as _;
    let cache = object::ReadCache::new(std::fs::File::open(path).ok()?);
    let elf = object::File::parse(&cache).ok()?;
    let note = elf.build_id().ok()??;
    (!note.is_empty()).then(|| note.to_vec())
}

/// Builds a value of a zero-sized type from nothing: how an executor gets back a user closure, whose
/// type (not its value) travels in the code reference. Compile-time checked to be zero-sized.
///
/// # Safety
///
/// Making a value of `F` out of nothing, here, must be sound: `F` is inhabited (conjuring a type with
/// no value, such as `std::convert::Infallible`, is undefined behaviour), and no invariant of `F`, or
/// of a value it holds, depends on where its value was made (a zero-sized token that vouches for
/// something about the process that made it must not be conjured in another). The RDD operators call
/// it only with the type of a function the user passed to an RDD method as a value: a fn item, or a
/// closure whose captures (if any) are zero-sized `Copy` values.
#[doc(hidden)]
pub unsafe fn conjure<F: Copy + 'static>() -> F {
    const {
        assert!(std::mem::size_of::<F>() == 0, "weft: a closure passed to an RDD operation captures variables; pass them explicitly with the *_with variant (map_with, filter_with, …)")
    };
    // SAFETY: `F` is zero-sized (checked above at compile time), so it has no bytes to initialize,
    // and inhabited (the caller's contract), so its one value is this one; it is `Copy`, so it has no
    // drop glue.
    unsafe { std::ptr::NonNull::<F>::dangling().read() }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Twice = fn(u32) -> u32;

    #[derive(Clone, Copy)]
    struct Plain(Twice);

    impl CodePointer for Plain {
        fn address(self) -> usize {
            self.0 as *const () as usize
        }
        unsafe fn from_address(address: usize) -> Plain {
            // SAFETY: forwarded from the caller.
            Plain(unsafe { std::mem::transmute::<usize, Twice>(address) })
        }
    }

    fn twice(x: u32) -> u32 {
        x * 2
    }

    #[test]
    fn a_reference_survives_serialization_and_resolves_to_the_same_function() {
        let reference = FnRef::new(Plain(twice));
        let bytes = bincode::serialize(&reference).unwrap();
        let back: FnRef<Plain> = bincode::deserialize(&bytes).unwrap();
        let proof = Verified::check(build_id()).unwrap();
        assert_eq!((back.resolve(&proof).0)(21), 42);
    }

    #[test]
    fn another_build_is_refused_with_both_ids() {
        let other = BuildId(build_id().0 ^ 1);
        let err = Verified::check(&other).unwrap_err().to_string();
        assert!(err.starts_with("build id mismatch"), "{err}");
        assert!(err.contains(&other.to_string()) && err.contains(&build_id().to_string()), "{err}");
    }

    #[test]
    fn zero_sized_closures_are_conjured() {
        let f = |x: i32| x + 1;
        fn again<F: Fn(i32) -> i32 + Copy + 'static>(_: F) -> i32 {
            // SAFETY: `F: Fn` is a closure or fn item type, inhabited (a value was passed in).
            let f = unsafe { conjure::<F>() };
            f(1)
        }
        assert_eq!(again(f), 2);
    }

    #[test]
    fn the_linker_build_id_is_read_from_the_headers() {
        let exe = std::env::current_exe().unwrap();
        let note = linker_build_id(&exe).expect("this test binary carries a linker build id (ld --build-id)");
        assert!(note.len() >= 16, "{note:?}");
        assert_eq!(linker_build_id(std::path::Path::new("/proc/self/exe")), Some(note.clone()));
        assert_eq!(*build_id(), BuildId(xxhash_rust::xxh3::xxh3_128(&note)));
        // Not an ELF file, or none at all: no id from the headers.
        let dir = tempfile::tempdir().unwrap();
        let text = dir.path().join("script");
        std::fs::write(&text, "#!/bin/sh\n").unwrap();
        assert_eq!(linker_build_id(&text), None);
        assert_eq!(linker_build_id(&dir.path().join("missing")), None);
    }

    #[test]
    fn build_ids_print_as_hex_and_parse_back() {
        let id = BuildId(0xabc);
        assert_eq!(id.to_string().len(), 32);
        assert_eq!(id.to_string().parse::<BuildId>().unwrap(), id);
    }
}
