//! `--bigkeys` and `--memkeys`: SCAN the keyspace, measure each key (element count or
//! MEMORY USAGE), print each new biggest key as it is found and a summary per type.

use std::io::Write;
use std::process::ExitCode;

use ferrokv_resp::Frame;

use crate::args::Config;
use crate::connection::Connection;
use crate::output::repr::repr;
use crate::session::Fatal;

/// The types in the order the summary lists them, with the command that sizes them
/// and the unit of that size.
const TYPES: &[(&str, &str, &str)] = &[
    ("hash", "HLEN", "fields"),
    ("list", "LLEN", "items"),
    ("string", "STRLEN", "bytes"),
    ("stream", "XLEN", "entries"),
    ("set", "SCARD", "members"),
    ("zset", "ZCARD", "members"),
];

#[derive(Default, Clone)]
struct TypeStats {
    count: u64,
    total: u64,
    biggest: u64,
    biggest_key: Option<Vec<u8>>,
}

fn fail(e: impl std::fmt::Display) -> Fatal {
    Fatal::Message(format!("Error: {e}"))
}

/// Sends all `cmds` at once, then reads their replies in order.
fn pipeline(conn: &mut Connection, cmds: &[Vec<Vec<u8>>]) -> Result<Vec<Frame>, Fatal> {
    for c in cmds {
        conn.send(c)
            .map_err(|e| fail(crate::connection::strerror(&e)))?;
    }
    cmds.iter()
        .map(|_| conn.read_frame().map_err(fail))
        .collect()
}

fn int_of(f: &Frame) -> u64 {
    match f {
        Frame::Integer(i) => (*i).max(0) as u64,
        _ => 0,
    }
}

/// One SCAN step: the next cursor and the keys.
fn scan_step(
    conn: &mut Connection,
    config: &Config,
    cursor: &[u8],
) -> Result<(Vec<u8>, Vec<Vec<u8>>), Fatal> {
    let mut cmd = vec![b"SCAN".to_vec(), cursor.to_vec()];
    if let Some(p) = &config.pattern {
        cmd.extend([b"MATCH".to_vec(), p.clone()]);
    }
    match conn.call(&cmd).map_err(fail)? {
        Frame::Array(parts) if parts.len() == 2 => match (&parts[0], &parts[1]) {
            (Frame::Bulk(n), Frame::Array(k)) => Ok((
                n.to_vec(),
                k.iter()
                    .filter_map(|f| f.as_bytes().map(<[u8]>::to_vec))
                    .collect(),
            )),
            _ => Err(fail("unexpected SCAN reply")),
        },
        Frame::Error(e) => Err(fail(String::from_utf8_lossy(&e))),
        _ => Err(fail("unexpected SCAN reply")),
    }
}

/// How many hot keys --hotkeys keeps.
const HOT_SLOTS: usize = 16;

/// `--hotkeys`: OBJECT FREQ of every key (needs an LFU maxmemory policy); the
/// hottest 16 are kept and listed.
pub fn hot(config: &Config) -> Result<ExitCode, Fatal> {
    let mut conn = super::connect(config)?;
    let total_keys = int_of(&conn.call(&[b"DBSIZE".to_vec()]).map_err(fail)?);
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "\n# Scanning the entire keyspace to find hot keys as well as"
    );
    let _ = writeln!(
        out,
        "# average sizes per key type.  You can use -i 0.1 to sleep 0.1 sec"
    );
    let _ = writeln!(out, "# per 100 SCAN commands (not usually needed).\n");
    let _ = out.flush();
    // Ascending by counter; a key gets in by beating the coldest slot.
    let mut slots: Vec<(u64, Option<Vec<u8>>)> = vec![(0, None); HOT_SLOTS];
    let mut sampled = 0u64;
    let mut cursor = b"0".to_vec();
    let mut scans = 0u64;
    loop {
        let (next, keys) = scan_step(&mut conn, config, &cursor)?;
        let pct = if total_keys == 0 {
            0.0
        } else {
            100.0 * sampled as f64 / total_keys as f64
        };
        let freqs = pipeline(
            &mut conn,
            &keys
                .iter()
                .map(|k| vec![b"OBJECT".to_vec(), b"FREQ".to_vec(), k.clone()])
                .collect::<Vec<_>>(),
        )?;
        for (key, freq) in keys.iter().zip(&freqs) {
            if let Frame::Error(e) = freq {
                let _ = out.flush();
                return Err(Fatal::Message(format!(
                    "Error: {}",
                    String::from_utf8_lossy(e)
                )));
            }
            sampled += 1;
            let f = int_of(freq);
            let Some(pos) = slots.iter().rposition(|(c, _)| f > *c) else {
                continue;
            };
            slots.remove(0);
            slots.insert(pos, (f, Some(key.clone())));
            let _ = writeln!(
                out,
                "[{pct:05.2}%] Hot key '{}' found so far with counter {f}",
                String::from_utf8_lossy(&repr(key))
            );
        }
        let _ = out.flush();
        scans += 1;
        if scans.is_multiple_of(100) && !config.interval.is_zero() {
            std::thread::sleep(config.interval);
        }
        cursor = next;
        if cursor == b"0" {
            break;
        }
    }
    let _ = write!(
        out,
        "\n-------- summary -------\n\nSampled {sampled} keys in the keyspace!\n"
    );
    for (count, key) in slots.iter().rev() {
        if let Some(k) = key {
            let _ = writeln!(
                out,
                "hot key found with counter: {count}\tkeyname: {}",
                String::from_utf8_lossy(&repr(k))
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run(config: &Config, memory: bool) -> Result<ExitCode, Fatal> {
    let mut conn = super::connect(config)?;
    let total_keys = int_of(&conn.call(&[b"DBSIZE".to_vec()]).map_err(fail)?);
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "\n# Scanning the entire keyspace to find biggest keys as well as"
    );
    let _ = writeln!(
        out,
        "# average sizes per key type.  You can use -i 0.1 to sleep 0.1 sec"
    );
    let _ = writeln!(out, "# per 100 SCAN commands (not usually needed).\n");
    let mut stats = vec![TypeStats::default(); TYPES.len()];
    let (mut sampled, mut key_bytes) = (0u64, 0u64);
    let mut cursor = b"0".to_vec();
    let mut scans = 0u64;
    loop {
        let (next, keys) = scan_step(&mut conn, config, &cursor)?;
        let pct = if total_keys == 0 {
            0.0
        } else {
            100.0 * sampled as f64 / total_keys as f64
        };
        let types = pipeline(
            &mut conn,
            &keys
                .iter()
                .map(|k| vec![b"TYPE".to_vec(), k.clone()])
                .collect::<Vec<_>>(),
        )?;
        let type_idx: Vec<Option<usize>> = types
            .iter()
            .map(|t| {
                t.as_bytes()
                    .and_then(|t| TYPES.iter().position(|(name, _, _)| name.as_bytes() == t))
            })
            .collect();
        let size_cmds: Vec<Vec<Vec<u8>>> = keys
            .iter()
            .zip(&type_idx)
            .filter_map(|(k, t)| {
                let t = (*t)?;
                Some(if memory {
                    let mut c = vec![b"MEMORY".to_vec(), b"USAGE".to_vec(), k.clone()];
                    if config.memkeys_samples > 0 {
                        c.extend([
                            b"SAMPLES".to_vec(),
                            config.memkeys_samples.to_string().into_bytes(),
                        ]);
                    }
                    c
                } else {
                    vec![TYPES[t].1.as_bytes().to_vec(), k.clone()]
                })
            })
            .collect();
        let mut sizes = pipeline(&mut conn, &size_cmds)?.into_iter();
        for (key, t) in keys.iter().zip(&type_idx) {
            let Some(t) = *t else { continue };
            let size = sizes.next().map(|f| int_of(&f)).unwrap_or(0);
            sampled += 1;
            key_bytes += key.len() as u64;
            let s = &mut stats[t];
            s.count += 1;
            s.total += size;
            if s.biggest_key.is_none() || size > s.biggest {
                let unit = if memory { "bytes" } else { TYPES[t].2 };
                let _ = writeln!(
                    out,
                    "[{pct:05.2}%] Biggest {:<6} found so far '{}' with {size} {unit}",
                    TYPES[t].0,
                    String::from_utf8_lossy(&repr(key))
                );
                s.biggest = size;
                s.biggest_key = Some(key.clone());
            }
        }
        let _ = out.flush();
        scans += 1;
        if scans.is_multiple_of(100) && !config.interval.is_zero() {
            std::thread::sleep(config.interval);
        }
        cursor = next;
        if cursor == b"0" {
            break;
        }
    }
    let avg_len = if sampled == 0 {
        0.0
    } else {
        key_bytes as f64 / sampled as f64
    };
    let _ = write!(
        out,
        "\n-------- summary -------\n\nSampled {sampled} keys in the keyspace!\nTotal key length in bytes is {key_bytes} (avg len {avg_len:.2})\n\n"
    );
    for (s, (name, _, unit)) in stats.iter().zip(TYPES) {
        if let Some(k) = &s.biggest_key {
            let unit = if memory { "bytes" } else { unit };
            let _ = writeln!(
                out,
                "Biggest {name:>6} found '{}' has {} {unit}",
                String::from_utf8_lossy(&repr(k)),
                s.biggest
            );
        }
    }
    let _ = writeln!(out);
    for (s, (name, _, unit)) in stats.iter().zip(TYPES) {
        let unit = if memory { "bytes" } else { unit };
        let share = if sampled == 0 {
            0.0
        } else {
            100.0 * s.count as f64 / sampled as f64
        };
        let avg = if s.count == 0 {
            0.0
        } else {
            s.total as f64 / s.count as f64
        };
        let _ = writeln!(
            out,
            "{} {name}s with {} {unit} ({share:05.2}% of keys, avg size {avg:.2})",
            s.count, s.total
        );
    }
    Ok(ExitCode::SUCCESS)
}
