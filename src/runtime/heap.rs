//! Giving freed heap memory back to the kernel. glibc's allocator keeps
//! what a thread frees in that thread's arena for reuse; after a config
//! load (a parse tree and a typed config of tens of megabytes at 100,000
//! real servers) or a read of a large IPVS table, most of it is free but
//! still resident, so a director that needs 40 MB would show 160 MB.
//! `malloc_trim(3)` returns the free pages of every arena (since glibc
//! 2.8 also those in the middle of a heap, with MADV_DONTNEED).
//!
//! The one module of pharos with `unsafe`: a call into the C library the
//! binary is linked with anyway.
#![allow(unsafe_code)]

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
