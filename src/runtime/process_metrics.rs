//! The standard Prometheus process metrics (`process_resident_memory_bytes`,
//! `process_open_fds`, ...), read from `/proc/self` at each scrape, under the
//! names every Prometheus client library uses, so dashboards and alerts
//! written for them work unchanged. A soak run (`make soak`) samples them to
//! show that memory and file descriptors stay flat.
//!
//! Beside them, `pharos_resident_anon_memory_bytes`: the resident set less
//! the pages mapped from files. Most of pharos's RSS is its own static
//! binary's code, faulted in page by page as code paths first run (a first
//! takeover, a first reload), so the total climbs in steps for a while with
//! nothing leaked; the anonymous part (heap, stacks) is what a leak grows.

use std::fmt;
use std::fs;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

/// `/proc` reports CPU times and start times in USER_HZ ticks, which the
/// kernel fixes at 100 on x86 and every other architecture pharos builds for
/// (`proc(5)`, "clock ticks"; `sysconf(_SC_CLK_TCK)` returns it).
const USER_HZ: f64 = 100.0;

/// One reading of this process, at scrape time. A field is `None` when its
/// `/proc` file could not be read or parsed; the metric is then left out
/// rather than reported as 0.
#[derive(Debug, Default, PartialEq)]
pub struct ProcessSample {
    pub resident_bytes: Option<u64>,
    pub resident_anon_bytes: Option<u64>,
    pub virtual_bytes: Option<u64>,
    pub open_fds: Option<u64>,
    pub cpu_seconds: Option<f64>,
    pub start_time_seconds: Option<f64>,
}

impl ProcessSample {
    pub fn read() -> Self {
        let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
        let stat = fs::read_to_string("/proc/self/stat").unwrap_or_default();
        let boot_time = fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|s| boot_time(&s));
        let ticks = stat_ticks(&stat);
        ProcessSample {
            resident_bytes: status_kib(&status, "VmRSS:").map(|k| k * 1024),
            resident_anon_bytes: status_kib(&status, "RssAnon:").map(|k| k * 1024),
            virtual_bytes: status_kib(&status, "VmSize:").map(|k| k * 1024),
            open_fds: open_fds(),
            cpu_seconds: ticks.map(|t| (t.utime + t.stime) as f64 / USER_HZ),
            start_time_seconds: ticks
                .zip(boot_time)
                .map(|(t, boot)| boot as f64 + t.start as f64 / USER_HZ),
        }
    }
}

/// The entries of `/proc/self/fd`, less the one `read_dir` holds open to
/// list them.
fn open_fds() -> Option<u64> {
    let n = fs::read_dir("/proc/self/fd").ok()?.count() as u64;
    Some(n.saturating_sub(1))
}

/// A `Name:  1234 kB` line of `/proc/self/status`, in KiB.
fn status_kib(status: &str, key: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(key))?;
    let mut words = line[key.len()..].split_whitespace();
    let value = words.next()?.parse().ok()?;
    (words.next() == Some("kB")).then_some(value)
}

#[derive(Clone, Copy, Debug, PartialEq)]
struct StatTicks {
    utime: u64,
    stime: u64,
    start: u64,
}

/// utime, stime and starttime (fields 14, 15 and 22, `proc_pid_stat(5)`) of
/// `/proc/self/stat`. Fields are counted after the last `)`: the command name
/// before it may hold spaces and parentheses.
fn stat_ticks(stat: &str) -> Option<StatTicks> {
    let rest = &stat[stat.rfind(')')? + 1..];
    // `rest` starts at field 3 (state).
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
    Some(StatTicks {
        utime: field(14)?,
        stime: field(15)?,
        start: field(22)?,
    })
}

/// `btime` of `/proc/stat`: the boot time, in seconds since the epoch.
fn boot_time(stat: &str) -> Option<u64> {
    stat.lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()
}

/// Registered, unprefixed, in the registry `Metrics::encode` writes after
/// pharos's own. Help texts end in a full stop as the registry makes
/// pharos's own end (and as the Go client's read).
#[derive(Debug)]
pub struct ProcessCollector;

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), fmt::Error> {
        let s = ProcessSample::read();
        let gauges = [
            (
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
                s.resident_bytes,
            ),
            (
                "pharos_resident_anon_memory_bytes",
                "Resident anonymous memory (heap, stacks) in bytes: the resident set less pages mapped from files.",
                s.resident_anon_bytes,
            ),
            (
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes.",
                s.virtual_bytes,
            ),
            (
                "process_open_fds",
                "Number of open file descriptors.",
                s.open_fds,
            ),
        ];
        for (name, help, value) in gauges {
            if let Some(v) = value {
                let gauge = ConstGauge::new(i64::try_from(v).unwrap_or(i64::MAX));
                gauge.encode(encoder.encode_descriptor(
                    name,
                    help,
                    None,
                    gauge.metric_type(),
                )?)?;
            }
        }
        if let Some(v) = s.start_time_seconds {
            let gauge = ConstGauge::new(v);
            gauge.encode(encoder.encode_descriptor(
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.",
                None,
                gauge.metric_type(),
            )?)?;
        }
        if let Some(v) = s.cpu_seconds {
            // A counter's name carries `_total` only in the exposition.
            let counter = ConstCounter::new(v);
            counter.encode(encoder.encode_descriptor(
                "process_cpu_seconds",
                "Total user and system CPU time spent in seconds.",
                None,
                counter.metric_type(),
            )?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_are_read_in_kib_and_need_their_unit() {
        let status = "Name:\tpharos\nVmSize:\t   12345 kB\nVmRSS:\t    6789 kB\nRssAnon:\t    2345 kB\nThreads:\t4\n";
        assert_eq!(status_kib(status, "VmRSS:"), Some(6789));
        assert_eq!(status_kib(status, "RssAnon:"), Some(2345));
        assert_eq!(status_kib(status, "VmSize:"), Some(12345));
        assert_eq!(status_kib(status, "Threads:"), None);
        assert_eq!(status_kib(status, "VmSwap:"), None);
    }

    #[test]
    fn stat_fields_are_counted_after_the_last_parenthesis() {
        // A command name with a space and a `) ` in it, as a process may
        // name itself.
        let stat = "42 (pha ros) x) S 1 42 42 0 -1 4194560 100 0 0 0 \
                    250 75 0 0 20 0 4 0 1234 10000000 500 18446744073709551615";
        assert_eq!(
            stat_ticks(stat),
            Some(StatTicks {
                utime: 250,
                stime: 75,
                start: 1234
            })
        );
        assert_eq!(stat_ticks("42 (cut short) S 1"), None);
    }

    #[test]
    fn boot_time_is_the_btime_line() {
        let stat = "cpu  1 2 3\nintr 5\nbtime 1764950000\nprocesses 9\n";
        assert_eq!(boot_time(stat), Some(1_764_950_000));
    }

    #[test]
    fn this_process_is_read_from_proc() {
        let s = ProcessSample::read();
        assert!(s.resident_bytes.unwrap() > 0, "{s:?}");
        assert!(
            s.resident_anon_bytes.unwrap() <= s.resident_bytes.unwrap(),
            "{s:?}"
        );
        assert!(
            s.virtual_bytes.unwrap() >= s.resident_bytes.unwrap(),
            "{s:?}"
        );
        // stdin, stdout and stderr at least.
        assert!(s.open_fds.unwrap() >= 3, "{s:?}");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let start = s.start_time_seconds.unwrap();
        assert!(start <= now + 1.0 && start > now - 86_400.0, "{s:?}");
    }
}
