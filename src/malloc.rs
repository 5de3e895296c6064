//! glibc's malloc, tuned for `run` and `watch`, whose peak memory is the archive's. A run's
//! phases free much and then allocate differently (feeds and posts, then the search index's
//! dictionary and writer; the writer's memory, then the merge of its segments), and glibc keeps
//! what is freed: without these calls each phase's memory stays resident beside the next's.
//! Elsewhere (other C libraries, other systems) they do nothing.

/// Call before any thread starts.
///
/// - Four malloc arenas instead of glibc's eight per core: a run's fetch workers and parsing
///   threads held some 25 MB in arenas of their own. Four keep a first run of 9,531 posts near
///   77 MB instead of 100 MB, in the same time within the noise (`bench/archive.sh`,
///   alternated; two arenas: 70 MB, some 10 % slower).
/// - Blocks of 128 kB and more mapped on their own, and unmapped when freed. glibc raises that
///   threshold as large blocks are freed (up to 32 MB), after which a run's feed bodies and
///   parsed items filled the arenas, and the few blocks still alive among them kept some 15 MB
///   resident: a default first run (posts, then the search index) peaked at 95–100 MB, and
///   80–88 MB with the threshold fixed, in the same time (alternated on tmpfs).
pub fn tune_for_run() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets tunables of the allocator; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 4);
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
