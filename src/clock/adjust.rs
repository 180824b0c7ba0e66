//! Setting the clock: a step with clock_settime(2) (nix has it), a slew
//! with adjtime(3), which only the C library has: the one call here
//! without a safe wrapper.
#![allow(unsafe_code)]

use nix::sys::time::TimeSpec;
use nix::time::{ClockId, clock_gettime, clock_settime};

/// Adds `offset_us` to the wall clock at once. Returns the time set.
pub fn step(offset_us: i64) -> Result<std::time::SystemTime, String> {
    let now = clock_gettime(ClockId::CLOCK_REALTIME)
        .map_err(|e| format!("reading the clock before stepping it: {e}"))?;
    let total_ns = i128::from(now.tv_sec()) * 1_000_000_000
        + i128::from(now.tv_nsec())
        + i128::from(offset_us) * 1_000;
    let to = TimeSpec::new(
        i64::try_from(total_ns.div_euclid(1_000_000_000))
            .map_err(|_| format!("stepping the clock by {offset_us} µs: out of range"))?,
        i64::try_from(total_ns.rem_euclid(1_000_000_000)).unwrap_or(0),
    );
    clock_settime(ClockId::CLOCK_REALTIME, to).map_err(|e| {
        format!("stepping the clock by {offset_us} µs (clock_settime): {e}; pharos needs CAP_SYS_TIME to set the clock")
    })?;
    Ok(std::time::UNIX_EPOCH
        + std::time::Duration::new(
            u64::try_from(to.tv_sec()).unwrap_or(0),
            u32::try_from(to.tv_nsec()).unwrap_or(0),
        ))
}

/// Has the kernel slew the clock by `offset_us` (at most 500 ppm: 0.5 ms a
/// second), replacing any slew still under way: the offset measured now
/// already counts what the last one did.
pub fn slew(offset_us: i64) -> Result<(), String> {
    let delta = nix::libc::timeval {
        tv_sec: offset_us.div_euclid(1_000_000),
        tv_usec: offset_us.rem_euclid(1_000_000),
    };
    // SAFETY: adjtime reads the timeval `delta` points at, which lives on
    // this stack frame for the whole call, and writes nothing when its
    // second argument is null (glibc and the kernel both accept null).
    let rc = unsafe { nix::libc::adjtime(&delta, std::ptr::null_mut()) };
    if rc == 0 {
        Ok(())
    } else {
        Err(format!(
            "slewing the clock by {offset_us} µs (adjtime): {}; pharos needs CAP_SYS_TIME to set the clock",
            std::io::Error::last_os_error()
        ))
    }
}
