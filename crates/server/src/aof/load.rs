//! Loading the AOF at startup: the manifest's files in order, an RDB base or
//! preamble, commands replayed as a loading client, a truncated tail.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::*;
use std::time::Instant;

use ferrokv_core::config::P;
use ferrokv_core::ctx::Keys;
use ferrokv_core::keyspace::LockSet;
use ferrokv_core::{Client, CmdError, Engine, ServerHooks};
use ferrokv_persist::aof::{Manifest, Step};
use ferrokv_persist::convert::{access_field, from_rdb, initial_access_field, AccessPolicy};
use ferrokv_persist::rdb::{RdbReader, Record};
use ferrokv_resp::{Protocol, ReplyBuf};

use super::rewrite::write_base_now;
use super::*;
use crate::state::ServerState;

/// What loading found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LoadReport {
    /// Commands replayed.
    pub commands: u64,
    /// Keys loaded from an RDB base.
    pub rdb_keys: u64,
    /// Bytes dropped from a truncated last file.
    pub truncated_bytes: u64,
}

/// At startup with appendonly yes: loads the AOF named by the manifest (creating
/// an empty one if there is none) and opens its last incr file for appending.
/// An error means the server must not start.
pub fn load_at_startup(st: &ServerState) -> Result<LoadReport, String> {
    let engine = &st.engine;
    let d = dir(engine);
    let mpath = manifest_path(engine);
    let report;
    let mut m = match std::fs::read_to_string(&mpath) {
        Ok(text) => {
            let mut m = Manifest::parse(&text)
                .map_err(|e| format!("Failed to load the AOF manifest {}: {e}", mpath.display()))?;
            // An upgrade from a single-file AOF that was interrupted (Redis's
            // loadAppendOnlyFiles): a manifest naming no file, or only the old file
            // as its base while that file is still in the server dir, not the
            // AOF dir.
            let name = filename(engine);
            if PathBuf::from(&name).is_file() {
                let empty = m.base.is_none() && m.incrs.is_empty();
                let interrupted = m.incrs.is_empty()
                    && m.base.as_ref().is_some_and(|b| b.name == name)
                    && !d.join(&name).exists();
                if empty || interrupted {
                    if let Some(up) = upgrade_old_style(engine, &d)? {
                        m = up;
                    }
                }
            }
            let started = Instant::now();
            report = load_files(engine, st, &d, &m)?;
            tracing::info!(
                "DB loaded from append only file: {:.3} seconds",
                started.elapsed().as_secs_f64()
            );
            m
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            match upgrade_old_style(engine, &d)? {
                Some(m) => {
                    report = load_files(engine, st, &d, &m)?;
                    m
                }
                None => {
                    report = LoadReport::default();
                    Manifest::default()
                }
            }
        }
        Err(e) => {
            return Err(format!(
                "Can't read the AOF manifest {}: {e}",
                mpath.display()
            ))
        }
    };
    std::fs::create_dir_all(&d)
        .map_err(|e| format!("Can't open or create append-only dir {}: {e}", d.display()))?;
    let name = filename(engine);
    let mut size_before = 0;
    if m.base.is_none() && m.incrs.is_empty() {
        // Redis writes a base for the (empty) dataset on a first start.
        let (base, seq) = m.next_base_name(&name, engine.config.bool(P::AofUseRdbPreamble));
        tracing::info!("Creating AOF base file {base} on server start");
        *st.aof.manifest.lock() = Some(m.clone());
        write_base_now(engine, &d.join(&base))?;
        m.install_base(base, seq, "");
    }
    if let Some(b) = &m.base {
        let size = file_size(&st.engine, &d.join(&b.name));
        st.aof.stats.base_size.store(size, Relaxed);
        size_before += size;
    }
    // Appends go to the last incr file (a new one if there is none).
    let last = match m.incrs.last() {
        Some(f) => f.name.clone(),
        None => {
            let n = m.add_incr(&name);
            tracing::info!("Creating AOF incr file {n} on server start");
            n
        }
    };
    for f in &m.incrs[..m.incrs.len() - 1] {
        size_before += file_size(&st.engine, &d.join(&f.name));
    }
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(d.join(&last))
        .map_err(|e| format!("Can't open the append-only file {last}: {e}"))?;
    let incr_size = file.metadata().map_or(0, |md| md.len());
    // Leftovers of a rewrite that finished just before a crash.
    for old in m.history.drain(..) {
        tracing::info!("Removing the history file {} in the background", old.name);
        let _ = std::fs::remove_file(d.join(&old.name));
    }
    persist_manifest(engine, &m).map_err(|e| format!("Can't persist the AOF manifest: {e}"))?;
    st.aof
        .switch_to(file, size_before)
        .map_err(|e| e.to_string())?;
    st.aof.io.lock().incr_size = incr_size;
    *st.aof.manifest.lock() = Some(m);
    engine.propagating.store(true, Release);
    st.aof.enabled.store(true, Release);
    Ok(report)
}

/// A Redis < 7.0 single-file AOF (`appendfilename` in the working directory, no
/// manifest) becomes the base of a multi-part AOF, as Redis 7.0 does on start
/// (aofUpgradePrepare): moved into the folder and named by a new manifest.
fn upgrade_old_style(engine: &Engine, d: &Path) -> Result<Option<Manifest>, String> {
    let name = filename(engine);
    let old = PathBuf::from(&name);
    if !old.is_file() {
        return Ok(None);
    }
    std::fs::create_dir_all(d)
        .map_err(|e| format!("Can't open or create append-only dir {}: {e}", d.display()))?;
    let m = Manifest {
        base: Some(ferrokv_persist::aof::AofFile {
            name: name.clone(),
            seq: 1,
            kind: ferrokv_persist::aof::FileKind::Base,
        }),
        base_seq: 1,
        ..Manifest::default()
    };
    std::fs::rename(&old, d.join(&name)).map_err(|e| {
        format!(
            "Error moving the old AOF file {name} into {}: {e}",
            d.display()
        )
    })?;
    persist_manifest(engine, &m).map_err(|e| format!("Can't persist the AOF manifest: {e}"))?;
    tracing::info!(
        "Successfully migrated an old-style AOF file ({name}) into the AOF directory ({}).",
        d.display()
    );
    Ok(Some(m))
}

/// Replays the files of `m` (base, then incrs) into the engine.
pub fn load_files(
    engine: &Engine,
    hooks: &dyn ServerHooks,
    d: &Path,
    m: &Manifest,
) -> Result<LoadReport, String> {
    let files: Vec<_> = m.load_order().collect();
    let mut report = LoadReport::default();
    let truncated_ok = engine.config.bool(P::AofLoadTruncated);
    for (i, f) in files.iter().enumerate() {
        let path = d.join(&f.name);
        let data = match std::fs::read(&path) {
            Ok(d) => d,
            Err(e) => {
                // strerror's text, as Redis prints it.
                let text = e.to_string();
                let why = text.split(" (os error").next().unwrap_or(&text);
                return Err(if e.kind() == std::io::ErrorKind::NotFound {
                    format!("The append log file {} doesn't exist: {why}", f.name)
                } else {
                    format!(
                        "Fatal error: can't open the append log file {} for reading: {why}",
                        f.name
                    )
                });
            }
        };
        let last = i + 1 == files.len();
        let mut start = 0;
        if data.starts_with(b"REDIS") {
            let (keys, end) = load_rdb_part(engine, &data, &f.name)?;
            report.rdb_keys += keys;
            start = end;
        }
        let outcome = replay(engine, hooks, &data[start..], start, &f.name)?;
        report.commands += outcome.commands;
        if let Some(valid) = outcome.truncated_at {
            let dropped = data.len() - valid;
            if !last {
                return Err(format!(
                    "Fatal error: the truncated file is not the last file ({}, offset {valid})",
                    f.name
                ));
            }
            if !truncated_ok {
                return Err(format!(
                    "Unexpected end of file reading the append only file {} (offset {valid}, {dropped} bytes after it). You can: 1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. 2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server.",
                    f.name
                ));
            }
            tracing::warn!(
                "!!! Warning: short read while loading the AOF file {}!!! Dropping the last {dropped} bytes (incomplete command from offset {valid}).",
                f.name
            );
            // Appends must follow whole records.
            OpenOptions::new()
                .write(true)
                .open(&path)
                .and_then(|file| file.set_len(valid as u64).and_then(|()| file.sync_all()))
                .map_err(|e| format!("Error truncating the AOF file {}: {e}", f.name))?;
            tracing::warn!(
                "AOF {} loaded anyway because aof-load-truncated is enabled",
                f.name
            );
            report.truncated_bytes += dropped as u64;
        }
    }
    Ok(report)
}

/// Loads the RDB at the start of `data` (a `.base.rdb`, or an old AOF with an
/// RDB preamble). Keys past their TTL are kept, as Redis does for a preamble:
/// later commands in the AOF may refer to them. Returns the keys loaded and where
/// the RDB ends.
fn load_rdb_part(engine: &Engine, data: &[u8], name: &str) -> Result<(u64, usize), String> {
    let corrupt = |e: ferrokv_persist::RdbError| {
        format!("Bad file format reading the append only file {name} (RDB preamble: {e}), make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>")
    };
    let mut reader = RdbReader::buffered(data).map_err(corrupt)?;
    let now = engine.clock.now_ms();
    let policy = AccessPolicy::of(&engine.config);
    let dbs = engine.keyspace.db_count();
    let mut keys: Option<Keys<'_>> = None;
    let mut loaded = 0u64;
    while let Some(rec) = reader.next_record().map_err(corrupt)? {
        let e = match rec {
            Record::Entry(e) => e,
            Record::ModuleAux(m) => {
                return Err(format!(
                    "The AOF file {name} contains AUX module data I can't load: no matching module '{m}'"
                ))
            }
            _ => continue,
        };
        let db = usize::try_from(e.db).unwrap_or(usize::MAX);
        if db >= dbs {
            return Err(format!(
                "FATAL: Data file was created with a Redis server configured to handle more than {dbs} databases. Exiting"
            ));
        }
        if keys.as_ref().map(|k| k.db) != Some(db) {
            drop(keys.take());
            let mut k = Keys::new(LockSet::lock_dbs(&engine.keyspace, [db]), db, now);
            k.mode.loading = true;
            keys = Some(k);
        }
        let Some(k) = keys.as_mut() else { continue };
        let key = e.key;
        let value = from_rdb(e.value, &engine.config).map_err(|err| {
            format!(
                "Can't load key '{}' in DB {db}: {err}",
                String::from_utf8_lossy(&key)
            )
        })?;
        if k.exists(&key).map_err(|err| err.to_string())? {
            return Err(format!(
                "Duplicated key '{}' in DB {db} of {name}",
                String::from_utf8_lossy(&key)
            ));
        }
        let field = access_field(policy, e.meta.idle_secs, e.meta.freq, now)
            .unwrap_or_else(|| initial_access_field(policy, now));
        let entry = k
            .insert_new(&key, value, e.meta.expire_ms)
            .map_err(|err| err.to_string())?;
        entry.node.set_lru(field);
        loaded += 1;
    }
    let end = usize::try_from(reader.offset())
        .unwrap_or(data.len())
        .min(data.len());
    Ok((loaded, end))
}

struct Replayed {
    commands: u64,
    /// Offset (in the file) up to which the data is whole, when the rest is an
    /// incomplete record or an unfinished MULTI.
    truncated_at: Option<usize>,
}

/// Runs the commands in `data` (which starts at file offset `base`) through the
/// engine as a loading client: nothing expires meanwhile and nothing is logged.
/// MULTI ... EXEC blocks run when their EXEC is read; one without EXEC at the end
/// counts as a truncated tail, as in Redis.
fn replay(
    engine: &Engine,
    hooks: &dyn ServerHooks,
    data: &[u8],
    base: usize,
    name: &str,
) -> Result<Replayed, String> {
    let mut reader = ferrokv_persist::aof::CommandReader::new(data);
    let mut client = Client::new(0, true);
    client.loading = true;
    let mut out = ReplyBuf::new(Protocol::Resp2);
    let mut multi: Option<(usize, Vec<Vec<Vec<u8>>>)> = None;
    let mut n = 0u64;
    // key-load-delay applies per command, as in Redis's AOF loading loop.
    let delay = engine.config.int_named("key-load-delay");
    let mut delayed = 0u64;
    let mut defragged = None;
    let run = |client: &mut Client, out: &mut ReplyBuf, argv: &[Vec<u8>]| -> Result<(), String> {
        let args: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
        if args[0].eq_ignore_ascii_case(b"select") {
            let db = std::str::from_utf8(args.get(1).copied().unwrap_or_default())
                .ok()
                .and_then(|s| s.parse::<usize>().ok())
                .filter(|&d| d < engine.keyspace.db_count())
                .ok_or_else(|| format!("Invalid SELECT reading the append only file {name}"))?;
            client.db = db;
            return Ok(());
        }
        if let Err(CmdError::UnknownCommand { .. }) = engine.resolve(&args) {
            return Err(format!(
                "Unknown command '{}' reading the append only file {name}",
                String::from_utf8_lossy(args[0])
            ));
        }
        engine.execute(client, &args, out, hooks);
        out.buffer_mut().clear();
        Ok(())
    };
    loop {
        let at = reader.offset();
        match reader.next_step() {
            Step::Command(argv) => {
                n += 1;
                if delay != 0 {
                    crate::rdb_load::key_delay(delay, &mut delayed);
                }
                if n.is_multiple_of(1000) {
                    crate::active_defrag::while_loading(engine, &mut defragged);
                }
                if argv[0].eq_ignore_ascii_case(b"multi") {
                    multi = Some((at, Vec::new()));
                } else if argv[0].eq_ignore_ascii_case(b"exec") {
                    if let Some((_, queued)) = multi.take() {
                        for cmd in &queued {
                            run(&mut client, &mut out, cmd)?;
                        }
                    }
                } else if let Some((_, queued)) = multi.as_mut() {
                    queued.push(argv);
                } else {
                    run(&mut client, &mut out, &argv)?;
                }
            }
            Step::End => {
                return Ok(Replayed {
                    commands: n,
                    truncated_at: multi.map(|(at, _)| base + at),
                })
            }
            Step::Truncated { valid_up_to } => {
                let at = multi.map_or(valid_up_to, |(m, _)| m);
                return Ok(Replayed {
                    commands: n,
                    truncated_at: Some(base + at),
                });
            }
            Step::Corrupt { offset, reason } => {
                tracing::warn!("{reason} at offset {} of {name}", base + offset);
                // Redis's text (scripts and its tests look for it).
                return Err(format!("Bad file format reading the append only file {name}: make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>"));
            }
        }
    }
}

/// DEBUG LOADAOF: what is logged reaches the file (with the AOF on), every db is
/// emptied, and the files the manifest on disk names are loaded again (Redis's
/// debugCommand "loadaof"). An error leaves a partial dataset: the caller must
/// stop the server, as Redis exits.
pub fn debug_loadaof(st: &ServerState) -> Result<(), String> {
    let engine = &st.engine;
    if st.aof.enabled() {
        let end = st.aof.pending.lock().end;
        st.aof.sync_to(end).map_err(|e| e.to_string())?;
    }
    crate::debug::empty_all(engine);
    let d = dir(engine);
    let mpath = manifest_path(engine);
    let m = match std::fs::read_to_string(&mpath) {
        Ok(text) => Manifest::parse(&text)
            .map_err(|e| format!("Failed to load the AOF manifest {}: {e}", mpath.display()))?,
        // No AOF at all: an empty dataset, as Redis's AOF_NOT_EXIST.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(format!(
                "Can't read the AOF manifest {}: {e}",
                mpath.display()
            ))
        }
    };
    // Others get LOADING while the files replay (a slow script in them included),
    // as during Redis's loadAppendOnlyFiles.
    engine
        .gates
        .loading
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let loaded = load_files(engine, st, &d, &m);
    engine
        .gates
        .loading
        .store(false, std::sync::atomic::Ordering::Relaxed);
    loaded?;
    Ok(())
}
