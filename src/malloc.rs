//! glibc's malloc, tuned for `run` and `watch`, whose peak memory is the archive's. A run's
//! phases free much and then allocate differently (feeds and posts, then the search index's
//! dictionary and writer; the writer's memory, then the merge of its segments), and glibc keeps
//! what is freed: without these calls each phase's memory stays resident beside the next's.
//! Elsewhere (other C libraries, other systems) they do nothing.

/// Call before any thread starts.
///
/// Blocks of 128 kB and more are mapped on their own, and unmapped when freed. glibc raises that
/// threshold as large blocks are freed (up to 32 MB), after which a run's feed bodies and parsed
/// items filled the arenas, and the few blocks still alive among them kept some 10–15 MB
/// resident: a default first run (posts, then the search index) of 9,531 posts peaks at 90 MB
/// without the fixed threshold, 79 MB with it, in the same time (alternated on tmpfs).
///
/// The number of arenas is glibc's (eight per core). It was four while up to sixteen feeds were
/// parsed at once, whose threads held some 25 MB in arenas of their own; with one feed per core
/// parsed ahead of the ingest (`run`'s `Parsers`), four arenas keep no memory that glibc's
/// number does not (52 MB at a first run's peak either way) and cost 6–13 % of its time in
/// threads waiting for each other's arena (two sittings, alternated on tmpfs).
pub fn tune_for_run() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets tunables of the allocator; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

/// Hands back to the system the memory malloc keeps of what was freed, between a phase that
/// freed much and the next.
pub fn release_freed() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free memory of glibc's heaps to the system.
    unsafe {
        libc::malloc_trim(0);
    }
}
