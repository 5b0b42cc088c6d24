//! The allocator of every perfledger binary: jemalloc, configured here once.
//! A binary chooses it by linking this crate (`use perfledger_alloc as _;`);
//! libraries leave the choice to their user, and tests run on the system
//! allocator.
//!
//! Why jemalloc: glibc's malloc was a quarter of a rebuild's CPU samples and
//! its per-thread arenas fragment (a 10M-event rebuild took 53 s against 35
//! s with jemalloc; README, *Rebuild: plain inserts and jemalloc*).
//!
//! Why [`CONF`]: jemalloc keeps freed pages for `dirty_decay_ms` (10 s by
//! default) before it gives them back to the system. A rebuild frees and
//! allocates about a batch's staged bytes a second (the slots it rewrites),
//! so ten seconds of them sat in its resident set. At 10M events
//! (1 December, `readmodel_bench --rebuild-only`, alternated runs) the peak
//! was 501-527 MB with the default and 452-475 MB with 250-1,000 ms, at no
//! measurable cost in time; 0 ms gave 438 MB but was 1.7× slower (a purge
//! on every free). Freed pages go back at once (`muzzy_decay_ms:0`, also
//! jemalloc 5.3's default), because pages marked "free when you like"
//! still count as resident until the kernel is short of memory.
//!
//! `_RJEM_MALLOC_CONF` in the environment still overrides these (jemalloc
//! reads it after this string).

// The allocator itself.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options for every perfledger binary (why: the module docs).
pub const CONF: &str = "dirty_decay_ms:500,muzzy_decay_ms:0";

/// [`CONF`], NUL-terminated, under the name jemalloc reads its compiled-in
/// options from (`malloc_conf`, prefixed `_rjem_` as tikv-jemalloc-sys
/// builds it; jemalloc's own definition is weak, so this one wins). It is
/// read before `main`, so it must be a constant.
#[export_name = "_rjem_malloc_conf"]
#[used]
static MALLOC_CONF: &[u8; CONF.len() + 1] = &{
    let mut conf = [0u8; CONF.len() + 1];
    let bytes = CONF.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        conf[i] = bytes[i];
        i += 1;
    }
    conf
};

/// The value of jemalloc option `name` (an `opt.*` key of `ssize_t` type,
/// such as `opt.dirty_decay_ms`), as the running allocator has it: how a
/// binary (or a test) checks that [`CONF`] took effect.
pub fn option_isize(name: &str) -> Option<isize> {
    let key = std::ffi::CString::new(name).ok()?;
    let mut value: isize = 0;
    let mut len = std::mem::size_of::<isize>();
    // SAFETY: `key` is NUL-terminated; `value` is an `ssize_t`-sized
    // out-buffer whose size is passed in `len`; nothing is written.
    let status = unsafe {
        tikv_jemalloc_sys::mallctl(
            key.as_ptr(),
            (&mut value as *mut isize).cast(),
            &mut len,
            std::ptr::null_mut(),
            0,
        )
    };
    (status == 0 && len == std::mem::size_of::<isize>()).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The compiled-in options reach jemalloc (the symbol's name and type
    /// are what it reads): without them it runs with a 10 s decay.
    #[test]
    fn jemalloc_runs_with_perfledgers_options() {
        if std::env::var_os("_RJEM_MALLOC_CONF").is_some() {
            return; // the environment overrides CONF on purpose
        }
        assert_eq!(option_isize("opt.dirty_decay_ms"), Some(500));
        assert_eq!(option_isize("opt.muzzy_decay_ms"), Some(0));
        assert_eq!(option_isize("opt.no_such_option"), None);
    }
}
