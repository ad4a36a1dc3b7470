/// mimalloc: an append allocates and frees a few small values per event on every core,
/// where glibc's malloc spent a quarter of the CPU (BENCHMARKS.md, issue 30).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's options (`mi_option_e` of the bundled v3 `mimalloc.h`): arenas committed
/// as they are used, not up front, and freed pages given back at once instead of after
/// 10 ms, so that a read's peak memory stays near glibc's while the speed is mimalloc's.
const MI_OPTION_ARENA_EAGER_COMMIT: i32 = 4;
const MI_OPTION_PURGE_DELAY: i32 = 15;

/// Sets the options before anything is allocated: the first allocation reserves the
/// first arena (Rust's runtime allocates before `main`), so this runs as an early
/// constructor of the process (`.init_array`, priority 101: before the default ones).
extern "C" fn mimalloc_options() {
    // SAFETY: mi_option_set only stores an option's value; it runs while the process is
    // single-threaded, before any allocation of ours.
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_ARENA_EAGER_COMMIT, 0);
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0);
    }
}

#[used]
#[link_section = ".init_array.00101"]
static MIMALLOC_OPTIONS: extern "C" fn() = mimalloc_options;

fn main() {
    std::process::exit(caseledger::cli::main());
}
