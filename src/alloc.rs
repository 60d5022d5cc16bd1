//! The process's allocator, and the one thing asked of it by name.
//!
//! jemalloc: glibc's malloc cost 0.5 µs of client CPU per plain request,
//! about a twentieth of it (BENCHMARKS.md, "Instructions per request").
//! It is set here, in the library, so that the tests and benchmarks run on
//! the allocator the binary ships with.

#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Gives back to the system the pages every thread has freed but its arena
/// still holds. jemalloc returns a freed page some seconds later, and only
/// when its arena is used again: the lanes' arenas, idle once a step ends,
/// would otherwise keep what the run freed resident while the report is
/// drawn, and the peak memory of a run would depend on when its last purge
/// happened to fall (BENCHMARKS.md, "Peak memory of a million requests").
pub fn release_freed() {
    // "arena.<MALLCTL_ARENAS_ALL>.purge": every arena, at once.
    const PURGE_ALL: &[u8] = b"arena.4096.purge\0";
    // SAFETY: a NUL-terminated name; "purge" reads and writes nothing.
    let _ = unsafe {
        tikv_jemalloc_sys::mallctl(
            PURGE_ALL.as_ptr().cast(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        )
    };
}
