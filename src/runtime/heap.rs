//! Keeping the heap small: one allocator arena, and freed memory given
//! back to the kernel. glibc's allocator keeps
//! what a thread frees in that thread's arena for reuse; after a config
//! load (a parse tree and a typed config of tens of megabytes at 100,000
//! real servers) or a read of a large IPVS table, most of it is free but
//! still resident, so a director that needs 40 MB would show 160 MB.
//! `malloc_trim(3)` returns the free pages of every arena (since glibc
//! 2.8 also those in the middle of a heap, with MADV_DONTNEED). And glibc
//! gives each thread that allocates an arena of its own (up to 8 per
//! core), each keeping its own free memory: at 10,000 services, one arena
//! for the whole process held 78 MB resident where the default held 98
//! (debug build, this host). pharos's threads allocate little on the
//! packet path, so the shared arena's lock costs nothing measurable.
//!
//! One of the three places of pharos with `unsafe` (with `clock::adjust`
//! and `check::connects`'s registration of its epoll set): a call into the
//! C library the binary is linked with anyway.
#![allow(unsafe_code)]

/// One allocator arena for the process. Called first thing in `pharos
/// run`, before the runtime's threads start.
pub fn one_arena() {
    // SAFETY: mallopt takes two integers and only sets glibc's own
    // allocator parameters; M_ARENA_MAX limits arenas created from now
    // on, which is sound at any time.
    unsafe {
        nix::libc::mallopt(nix::libc::M_ARENA_MAX, 1);
    }
}

/// Returns the allocator's free pages to the kernel. Cheap when there is
/// little to return; called after a config load and after a pass that
/// read or changed a large table.
pub fn release() {
    // SAFETY: malloc_trim takes no pointers and touches only glibc's own
    // arenas, each under its lock, so it is sound from any thread at any
    // time, concurrently with other threads' malloc and free.
    unsafe {
        nix::libc::malloc_trim(0);
    }
}
