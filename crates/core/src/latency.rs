//! The latency monitor (Redis 7.0's latency.c): per event class (`command`,
//! `fast-command`, `expire-cycle`, `eviction-cycle`, `aof-fsync-always`, ...) the
//! latest 160 samples of at least latency-monitor-threshold ms, one per second
//! (the worst of that second), and the all-time maximum; and the LATENCY command
//! over them and over the per-command histograms of INFO latencystats.
//!
//! Commands reach it only past the engine's gate (see [`crate::slowlog`]); the
//! other sources check [`LatencyMonitor::sample`]'s threshold themselves, one
//! config load.

use parking_lot::Mutex;

use crate::commands::{reply_help, CommandDef};
use crate::config::P;
use crate::ctx::Ctx;
use crate::error::{CmdError, CmdResult};
use crate::Engine;

/// Samples kept per event.
pub const HISTORY: usize = 160;

#[derive(Clone)]
struct Series {
    /// Where the next sample goes.
    idx: usize,
    /// The worst latency seen (ms) since the event's last reset.
    max: u32,
    /// `(unix seconds, ms)`; time 0: empty.
    samples: Box<[(i64, u32); HISTORY]>,
}

impl Series {
    fn new() -> Series {
        Series {
            idx: 0,
            max: 0,
            samples: Box::new([(0, 0); HISTORY]),
        }
    }

    fn add(&mut self, now: i64, ms: u32) {
        self.max = self.max.max(ms);
        let prev = (self.idx + HISTORY - 1) % HISTORY;
        if self.samples[prev].0 == now {
            // One sample per second: the worst of it.
            self.samples[prev].1 = self.samples[prev].1.max(ms);
            return;
        }
        self.samples[self.idx] = (now, ms);
        self.idx = (self.idx + 1) % HISTORY;
    }

    /// The samples, oldest first.
    fn in_order(&self) -> impl Iterator<Item = (i64, u32)> + '_ {
        (0..HISTORY)
            .map(move |j| self.samples[(self.idx + j) % HISTORY])
            .filter(|s| s.0 != 0)
    }

    fn latest(&self) -> (i64, u32) {
        self.samples[(self.idx + HISTORY - 1) % HISTORY]
    }
}

/// The recorded events, in the order they first happened.
#[derive(Default)]
pub struct LatencyMonitor {
    events: Mutex<Vec<(String, Series)>>,
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl LatencyMonitor {
    /// Records `ms` for `event` when the monitor is on and it reaches the
    /// threshold (Redis's latencyAddSampleIfNeeded).
    pub fn sample(&self, engine: &Engine, event: &str, ms: u64) {
        let threshold = engine.config.int(P::LatencyMonitorThreshold);
        if threshold > 0 && ms >= threshold as u64 {
            self.add(event, ms);
        }
    }

    /// Records `ms` for `event` unconditionally.
    pub fn add(&self, event: &str, ms: u64) {
        let ms = u32::try_from(ms).unwrap_or(u32::MAX);
        let now = unix_now();
        let mut events = self.events.lock();
        match events.iter_mut().find(|(e, _)| e == event) {
            Some((_, s)) => s.add(now, ms),
            None => {
                let mut s = Series::new();
                s.add(now, ms);
                events.push((event.to_string(), s));
            }
        }
    }

    /// Forgets `event` (every event for `None`); returns how many were reset.
    pub fn reset(&self, event: Option<&[u8]>) -> usize {
        let mut events = self.events.lock();
        let before = events.len();
        events.retain(|(e, _)| event.is_some_and(|n| !e.as_bytes().eq_ignore_ascii_case(n)));
        before - events.len()
    }

    fn find(&self, event: &[u8]) -> Option<(String, Series)> {
        self.events
            .lock()
            .iter()
            .find(|(e, _)| e.as_bytes() == event)
            .cloned()
    }

    /// LATENCY LATEST's rows: each event with the unix time and ms of its latest
    /// sample, and its all-time maximum (ms).
    pub fn latest_samples(&self) -> Vec<(String, i64, u32, u32)> {
        self.events
            .lock()
            .iter()
            .map(|(e, s)| {
                let (time, ms) = s.latest();
                (e.clone(), time, ms, s.max)
            })
            .collect()
    }

    fn all(&self) -> Vec<(String, Series)> {
        self.events.lock().clone()
    }
}

/// The table.
pub static COMMANDS: &[CommandDef] = &[
    CommandDef::new("latency|latest", latest),
    CommandDef::new("latency|history", history),
    CommandDef::new("latency|reset", reset),
    CommandDef::new("latency|graph", graph),
    CommandDef::new("latency|doctor", doctor),
    CommandDef::new("latency|histogram", histogram),
    CommandDef::new("latency|help", help),
];

fn latest(ctx: &mut Ctx<'_, '_>, _args: &[&[u8]]) -> CmdResult {
    let events = ctx.engine.latency.all();
    ctx.out.array(events.len());
    for (name, s) in &events {
        let (time, ms) = s.latest();
        ctx.out.array(4);
        ctx.out.bulk(name.as_bytes());
        ctx.out.int(time);
        ctx.out.int(i64::from(ms));
        ctx.out.int(i64::from(s.max));
    }
    Ok(())
}

fn history(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let Some((_, s)) = ctx.engine.latency.find(args[2]) else {
        ctx.out.array(0);
        return Ok(());
    };
    let samples: Vec<(i64, u32)> = s.in_order().collect();
    ctx.out.array(samples.len());
    for (time, ms) in samples {
        ctx.out.array(2);
        ctx.out.int(time);
        ctx.out.int(i64::from(ms));
    }
    Ok(())
}

fn reset(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let n = if args.len() == 2 {
        ctx.engine.latency.reset(None)
    } else {
        args[2..]
            .iter()
            .map(|e| ctx.engine.latency.reset(Some(e)))
            .sum()
    };
    ctx.out.int(n as i64);
    Ok(())
}

/// LATENCY GRAPH: the samples as a sparkline four rows high, labelled with how
/// long ago each was taken.
fn graph(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let Some((name, s)) = ctx.engine.latency.find(args[2]) else {
        return Err(CmdError::Other(format!(
            "No samples available for event '{}'",
            String::from_utf8_lossy(args[2])
        )));
    };
    let now = unix_now();
    let samples: Vec<(u32, String)> = s
        .in_order()
        .map(|(t, ms)| {
            let ago = now - t;
            let label = match ago {
                a if a < 60 => format!("{a}s"),
                a if a < 3600 => format!("{}m", a / 60),
                a if a < 86400 => format!("{}h", a / 3600),
                a => format!("{}d", a / 86400),
            };
            (ms, label)
        })
        .collect();
    let high = samples.iter().map(|s| s.0).max().unwrap_or(0);
    let low = samples.iter().map(|s| s.0).min().unwrap_or(0);
    let mut text = format!(
        "{name} - high {high} ms, low {low} ms (all time high {} ms)\n",
        s.max
    );
    text.push_str(&"-".repeat(80));
    text.push('\n');
    for (i, chunk) in samples.chunks(80).enumerate() {
        if i > 0 {
            text.push('\n');
        }
        sparkline(&mut text, chunk, low, high);
    }
    ctx.out.verbatim(b"txt", text.as_bytes());
    Ok(())
}

/// Four rows of `_o#` (a full cell below the top is `|`), then the labels
/// written downwards after one blank row.
fn sparkline(out: &mut String, samples: &[(u32, String)], low: u32, high: u32) {
    const CHARS: &[u8] = b"_o#";
    const ROWS: usize = 4;
    let steps = (CHARS.len() * ROWS) as f64;
    let range = if high == low {
        1.0
    } else {
        f64::from(high - low)
    };
    let step_of = |v: u32| -> usize {
        let s = (f64::from(v - low) * steps / range) as i64;
        s.clamp(0, steps as i64 - 1) as usize
    };
    for row in 0..ROWS {
        let line: String = samples
            .iter()
            .map(|(v, _)| {
                let idx = step_of(*v) as i64 - ((ROWS - row - 1) * CHARS.len()) as i64;
                if (0..CHARS.len() as i64).contains(&idx) {
                    CHARS[idx as usize] as char
                } else if idx >= CHARS.len() as i64 {
                    '|'
                } else {
                    ' '
                }
            })
            .collect();
        out.push_str(&line);
        out.push('\n');
    }
    if samples.is_empty() {
        return;
    }
    out.push_str(&" ".repeat(samples.len()));
    out.push('\n');
    let longest = samples.iter().map(|s| s.1.len()).max().unwrap_or(0);
    for i in 0..longest {
        let line: String = samples
            .iter()
            .map(|(_, l)| l.as_bytes().get(i).map_or(' ', |&b| b as char))
            .collect();
        out.push_str(&line);
        out.push('\n');
    }
}

/// The statistics of one event's samples (Redis's analyzeLatencyForEvent).
struct Analysis {
    samples: u64,
    avg: u64,
    mad: u64,
    period: i64,
}

fn analyze(s: &Series) -> Analysis {
    let samples: Vec<(i64, u32)> = s.in_order().collect();
    let n = samples.len() as u64;
    if n == 0 {
        return Analysis {
            samples: 0,
            avg: 0,
            mad: 0,
            period: 0,
        };
    }
    let sum: u64 = samples.iter().map(|x| u64::from(x.1)).sum();
    let avg = sum / n;
    let oldest = samples.iter().map(|x| x.0).min().unwrap_or(0);
    let period = (unix_now() - oldest).max(1);
    let mad = samples
        .iter()
        .map(|x| (avg as i64 - i64::from(x.1)).unsigned_abs())
        .sum::<u64>()
        / n;
    Analysis {
        samples: n,
        avg,
        mad,
        period,
    }
}

fn doctor(ctx: &mut Ctx<'_, '_>, _args: &[&[u8]]) -> CmdResult {
    let report = doctor_report(ctx.engine);
    ctx.out.verbatim(b"txt", report.as_bytes());
    Ok(())
}

/// LATENCY DOCTOR's report, with Redis's wording for the events ferrokv records.
pub fn doctor_report(engine: &Engine) -> String {
    let events = engine.latency.all();
    let threshold = engine.config.int(P::LatencyMonitorThreshold);
    if events.is_empty() && threshold == 0 {
        return "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n".into();
    }
    let slower_than = engine.config.int(P::SlowlogLogSlowerThan);
    let mut report = String::new();
    #[derive(Default)]
    struct Advice {
        slowlog_enabled: bool,
        slowlog_tuning: bool,
        slowlog_inspect: bool,
        scheduler: bool,
        relax_fsync: bool,
        disk: bool,
        hz: bool,
        large_objects: bool,
        mass_eviction: bool,
        count: usize,
    }
    let mut a = Advice::default();
    for (i, (name, s)) in events.iter().enumerate() {
        if i == 0 {
            report.push_str("Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n");
        }
        let an = analyze(s);
        report.push_str(&format!(
            "{}. {name}: {} latency spikes (average {}ms, mean deviation {}ms, period {:.2} sec). Worst all time event {}ms.",
            i + 1,
            an.samples,
            an.avg,
            an.mad,
            an.period as f64 / an.samples.max(1) as f64,
            s.max
        ));
        match name.as_str() {
            "command" => {
                if slower_than < 0 {
                    a.slowlog_enabled = true;
                    a.count += 1;
                } else if slower_than / 1000 > threshold {
                    a.slowlog_tuning = true;
                    a.count += 1;
                }
                a.slowlog_inspect = true;
                a.large_objects = true;
                a.count += 2;
            }
            "fast-command" => {
                a.scheduler = true;
                a.count += 1;
            }
            "aof-fsync-always" => {
                a.relax_fsync = true;
                a.count += 1;
            }
            "aof-write-pending-fsync" | "aof-write-alone" | "aof-fstat" => {
                a.disk = true;
                a.count += 1;
            }
            "expire-cycle" => {
                a.hz = true;
                a.large_objects = true;
                a.count += 2;
            }
            "eviction-del" => {
                a.large_objects = true;
                a.count += 1;
            }
            "eviction-cycle" => {
                a.mass_eviction = true;
                a.count += 1;
            }
            _ => {}
        }
        report.push('\n');
    }
    if events.is_empty() && a.count == 0 {
        report.push_str("Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n");
        return report;
    }
    if a.count == 0 {
        report.push_str("\nWhile there are latency events logged, I'm not able to suggest any easy fix. Please use the Redis community to get some help, providing this report in your help request.\n");
        return report;
    }
    report.push_str("\nI have a few advices for you:\n\n");
    if a.slowlog_enabled {
        report.push_str(&format!("- There are latency issues with potentially slow commands you are using. Try to enable the Slow Log Redis feature using the command 'CONFIG SET slowlog-log-slower-than {}'. If the Slow log is disabled Redis is not able to log slow commands execution for you.\n", threshold * 1000));
    }
    if a.slowlog_tuning {
        report.push_str(&format!("- Your current Slow Log configuration only logs events that are slower than your configured latency monitor threshold. Please use 'CONFIG SET slowlog-log-slower-than {}'.\n", threshold * 1000));
    }
    if a.slowlog_inspect {
        report.push_str("- Check your Slow Log to understand what are the commands you are running which are too slow to execute. Please check https://redis.io/commands/slowlog for more information.\n");
    }
    if a.scheduler {
        report.push_str("- The system is slow to execute Redis code paths not containing system calls. This usually means the system does not provide Redis CPU time to run for long periods. You should try to:\n  1) Lower the system load.\n  2) Use a computer / VM just for Redis if you are running other software in the same system.\n  3) Check if you have a \"noisy neighbour\" problem.\n  4) Check with 'redis-cli --intrinsic-latency 100' what is the intrinsic latency in your system.\n  5) Check if the problem is allocator-related by recompiling Redis with MALLOC=libc, if you are using Jemalloc. However this may create fragmentation problems.\n");
    }
    if a.disk {
        report.push_str("- It is strongly advised to use local disks for persistence, especially if you are using AOF. Remote disks provided by platform-as-a-service providers are known to be slow.\n");
        report.push_str("- Try to lower the disk contention. This is often caused by other disk intensive processes running in the same computer (including other Redis instances).\n");
    }
    if a.relax_fsync {
        report.push_str("- Your fsync policy is set to 'always'. It is very hard to get good performances with such a setup, if possible try to relax the fsync policy to 'onesec'.\n");
    }
    if a.hz {
        report.push_str("- In order to make the Redis keys expiring process more incremental, try to set the 'hz' configuration parameter to 100 using 'CONFIG SET hz 100'.\n");
    }
    if a.large_objects {
        report.push_str("- Deleting, expiring or evicting (because of maxmemory policy) large objects is a blocking operation. If you have very large objects that are often deleted, expired, or evicted, try to fragment those objects into multiple smaller objects.\n");
    }
    if a.mass_eviction {
        report.push_str("- Sudden changes to the 'maxmemory' setting via 'CONFIG SET', or allocation of large objects via sets or sorted sets intersections, STORE option of SORT, Redis Cluster large keys migrations (RESTORE command), may create sudden memory pressure forcing the server to block trying to evict keys. \n");
    }
    report
}

/// A command's name, calls and cumulative distribution.
type Histogram<'a> = (&'a str, u64, Vec<(u64, u64)>);

/// LATENCY HISTOGRAM [command ...]: each command's calls and cumulative
/// distribution (µs bucket tops doubling from 1 µs), every command with data
/// when none is named; an unknown name is skipped, a container lists its
/// subcommands.
fn histogram(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let engine = ctx.engine;
    let mut wanted: Vec<&crate::commands::Command> = Vec::new();
    if args.len() == 2 {
        for cmd in engine.registry.iter() {
            wanted.push(cmd);
            wanted.extend(cmd.subcommands.iter());
        }
        wanted.sort_by(|a, b| a.meta.name.cmp(&b.meta.name));
    } else {
        for name in &args[2..] {
            let (top, sub) = match name.iter().position(|&b| b == b'|') {
                Some(i) => (&name[..i], Some(&name[i + 1..])),
                None => (&name[..], None),
            };
            let Some(cmd) = engine.registry.get(top) else {
                continue;
            };
            match sub {
                Some(s) => {
                    if let Some(c) = cmd.subcommand(s) {
                        wanted.push(c);
                    }
                }
                None => {
                    wanted.push(cmd);
                    wanted.extend(cmd.subcommands.iter());
                }
            }
        }
    }
    let data: Vec<Histogram<'_>> = wanted
        .iter()
        .filter_map(|c| {
            engine
                .cmdstats
                .cdf(c.id)
                .map(|(calls, cdf)| (c.meta.name.as_str(), calls, cdf))
        })
        .collect();
    ctx.out.map(data.len());
    for (name, calls, cdf) in &data {
        ctx.out.bulk(name.as_bytes());
        ctx.out.map(2);
        ctx.out.bulk(b"calls");
        ctx.out.int(*calls as i64);
        ctx.out.bulk(b"histogram_usec");
        ctx.out.map(cdf.len());
        for (us, n) in cdf {
            ctx.out.int(*us as i64);
            ctx.out.int(*n as i64);
        }
    }
    Ok(())
}

const HELP: &[&str] = &[
    "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DOCTOR",
    "    Return a human readable latency analysis report.",
    "GRAPH <event>",
    "    Return an ASCII latency graph for the <event> class.",
    "HISTORY <event>",
    "    Return time-latency samples for the <event> class.",
    "LATEST",
    "    Return the latest latency samples for all events.",
    "RESET [<event> ...]",
    "    Reset latency data of one or more <event> classes.",
    "    (default: reset all data for all event classes)",
    "HISTOGRAM [COMMAND ...]",
    "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
    "    If no commands are specified then all histograms are replied.",
    "HELP",
    "    Prints this help.",
];

fn help(ctx: &mut Ctx<'_, '_>, _args: &[&[u8]]) -> CmdResult {
    reply_help(ctx, HELP);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_sample_per_second_and_a_ring_of_160() {
        let mut s = Series::new();
        s.add(100, 5);
        s.add(100, 9);
        s.add(100, 3);
        assert_eq!(s.in_order().collect::<Vec<_>>(), vec![(100, 9)]);
        for t in 0..200 {
            s.add(1000 + t, 1);
        }
        assert_eq!(s.in_order().count(), HISTORY);
        assert_eq!(s.in_order().next(), Some((1040, 1)));
        assert_eq!(s.latest(), (1199, 1));
        assert_eq!(s.max, 9);
    }

    #[test]
    fn reset_by_name_counts() {
        let m = LatencyMonitor::default();
        m.add("command", 10);
        m.add("expire-cycle", 10);
        assert_eq!(m.reset(Some(b"blabla")), 0);
        assert_eq!(m.reset(Some(b"COMMAND")), 1);
        assert_eq!(m.reset(None), 1);
    }
}
