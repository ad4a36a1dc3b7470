//! No panic escapes (SPEC §13). sled 0.34 panics on some damaged files (an index out of
//! bounds while it reads its log, a failed deserialisation of a snapshot); such a
//! panic must become "the store in DIR is damaged (…); run caseledger recover" with
//! exit 4, never exit 101 with a backtrace.
//!
//! [`quietly`] runs a closure and returns a panic inside it as its message, printing
//! nothing. [`install`] sets the process's panic hook once: inside `quietly` it only
//! records the message; a panic inside sled on any other thread (sled's own I/O
//! threads, a reader of the HTTP service) ends the process with the damaged-store
//! message and exit 4; anything else is a bug and is printed as usual.

use std::cell::RefCell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Mutex, Once};

thread_local! {
    /// Inside `quietly`: where the hook leaves the message.
    static CAUGHT: RefCell<Option<Option<String>>> = const { RefCell::new(None) };
}

static INSTALL: Once = Once::new();

/// The ledger directory whose store this process opened last: the hook names it when
/// sled panics on a thread of its own, far from any call that knows the directory.
static STORE_DIR: Mutex<Option<String>> = Mutex::new(None);

/// Remembers the directory of the store being opened (kept in `STORE_DIR`).
pub fn watch_store(dir: &std::path::Path) {
    *STORE_DIR.lock().unwrap_or_else(|e| e.into_inner()) = Some(dir.display().to_string());
}

/// The directory of the store this process opened last.
pub fn watched_store() -> String {
    STORE_DIR.lock().unwrap_or_else(|e| e.into_inner()).clone().unwrap_or_else(|| "the ledger directory".into())
}

fn describe(info: &panic::PanicHookInfo<'_>) -> String {
    let what = info
        .payload()
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| info.payload().downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".into());
    match info.location() {
        Some(l) => format!("{what} at {}:{}", short_path(l.file()), l.line()),
        None => what,
    }
}

/// `…/sled-0.34.7/src/pagecache/segment.rs` → `sled-0.34.7/src/pagecache/segment.rs`.
fn short_path(file: &str) -> &str {
    file.find("sled-").map_or(file, |i| &file[i..])
}

fn in_sled(info: &panic::PanicHookInfo<'_>) -> bool {
    info.location().is_some_and(|l| l.file().contains("sled-0."))
}

/// Sets the panic hook (once per process).
pub fn install() {
    INSTALL.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let quiet = CAUGHT.with(|c| {
                let mut c = c.borrow_mut();
                match c.as_mut() {
                    Some(slot) => {
                        *slot = Some(describe(info));
                        true
                    }
                    None => false,
                }
            });
            if quiet {
                return;
            }
            if in_sled(info) {
                eprintln!(
                    "{}",
                    crate::Error::Damaged { dir: watched_store(), detail: format!("sled failed: {}", describe(info)) }
                );
                std::process::exit(4);
            }
            default(info);
        }));
    });
}

/// Runs `f`; a panic inside it comes back as `Err(message)`, with nothing printed.
pub fn quietly<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    install();
    let outer = CAUGHT.with(|c| c.borrow_mut().replace(None));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    let message = CAUGHT.with(|c| std::mem::replace(&mut *c.borrow_mut(), outer)).flatten();
    result.map_err(|_| message.unwrap_or_else(|| "panic".into()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_panic_comes_back_as_its_message() {
        let r: Result<(), String> = super::quietly(|| panic!("boom {}", 7));
        let msg = r.unwrap_err();
        assert!(msg.starts_with("boom 7 at "), "{msg}");
        assert_eq!(super::quietly(|| 5), Ok(5));
        // Nested: the inner panic does not leak into the outer call's message.
        let outer = super::quietly(|| {
            let inner: Result<(), String> = super::quietly(|| panic!("inner"));
            assert!(inner.unwrap_err().starts_with("inner"));
            panic!("outer")
        });
        assert!(outer.unwrap_err().starts_with("outer"));
    }
}
