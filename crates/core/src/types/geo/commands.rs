//! GEOADD, GEOPOS, GEODIST, GEOHASH, GEOSEARCH, GEOSEARCHSTORE, GEORADIUS,
//! GEORADIUSBYMEMBER and their _RO forms, with Redis 7.0's argument order, errors
//! and reply shapes.

use crate::args::{float_arg, int_arg, is_kw, parse_f64};
use crate::commands::{CommandDef, Locks};
use crate::ctx::Ctx;
use crate::error::{CmdError, CmdResult};
use crate::keyspace::{lock_id, LockId};
use crate::types::geo::format_coord;
use crate::types::geo::hash::{self, LAT_MAX, LAT_MIN, LON_MAX, LON_MIN, STEP_MAX};
use crate::types::geo::search::{self, Found, Shape, ShapeKind};
use crate::types::zset::commands::read_zset;
use crate::types::zset::{ScoreRange, ZSetValue};
use crate::types::Value;

/// The table.
pub static COMMANDS: &[CommandDef] = &[
    CommandDef::new("geoadd", geoadd),
    CommandDef::new("geopos", geopos),
    CommandDef::new("geodist", geodist),
    CommandDef::new("geohash", geohash),
    CommandDef::new("geosearch", geosearch),
    CommandDef::new("geosearchstore", geosearchstore),
    CommandDef::with_locks("georadius", georadius, Locks::Custom(radius_locks)),
    CommandDef::new("georadius_ro", georadius_ro),
    CommandDef::with_locks(
        "georadiusbymember",
        georadiusbymember,
        Locks::Custom(radius_locks),
    ),
    CommandDef::new("georadiusbymember_ro", georadiusbymember_ro),
];

/// GEORADIUS[BYMEMBER]'s shards: the source key and every key after a STORE or
/// STOREDIST. The key specs name the first such key (what COMMAND GETKEYS
/// reports, as Redis), but the command stores into the last one.
fn radius_locks(args: &[&[u8]], db: usize, _dbs: usize) -> Vec<LockId> {
    let mut ids = vec![lock_id(db, args[1])];
    for (i, a) in args.iter().enumerate().skip(2) {
        if is_kw(a, "store") || is_kw(a, "storedist") {
            if let Some(k) = args.get(i + 1) {
                ids.push(lock_id(db, k));
            }
        }
    }
    ids
}

fn other(s: &str) -> CmdError {
    CmdError::Other(s.to_string())
}

/// Longitude and latitude arguments, range-checked as Redis does.
fn lon_lat(lon: &[u8], lat: &[u8]) -> CmdResult<(f64, f64)> {
    let lon = float_arg(lon)?;
    let lat = float_arg(lat)?;
    if !(LON_MIN..=LON_MAX).contains(&lon) || !(LAT_MIN..=LAT_MAX).contains(&lat) {
        return Err(other(&format!(
            "invalid longitude,latitude pair {lon:.6},{lat:.6}"
        )));
    }
    Ok((lon, lat))
}

/// Meters per unit.
fn unit(arg: &[u8]) -> CmdResult<f64> {
    [("m", 1.0), ("km", 1000.0), ("ft", 0.3048), ("mi", 1609.34)]
        .iter()
        .find(|(name, _)| is_kw(arg, name))
        .map(|(_, m)| *m)
        .ok_or_else(|| other("unsupported unit provided. please use M, KM, FT, MI"))
}

/// A float argument with a command-specific error text.
fn float_or(arg: &[u8], msg: &str) -> CmdResult<f64> {
    parse_f64(arg).ok_or_else(|| other(msg))
}

/// `radius unit`.
fn radius_args(r: &[u8], u: &[u8]) -> CmdResult<(f64, f64)> {
    let radius = float_or(r, "need numeric radius")?;
    if radius < 0.0 {
        return Err(other("radius cannot be negative"));
    }
    Ok((radius, unit(u)?))
}

fn geoadd(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let (mut nx, mut xx) = (false, false);
    let mut first = 2;
    while first < args.len() {
        let a = args[first];
        if is_kw(a, "nx") {
            nx = true;
        } else if is_kw(a, "xx") {
            xx = true;
        } else if !is_kw(a, "ch") {
            break;
        }
        first += 1;
    }
    if !(args.len() - first).is_multiple_of(3) || (nx && xx) {
        return Err(CmdError::Syntax);
    }
    // GEOADD is ZADD with the coordinates turned into scores.
    let mut zargs: Vec<Vec<u8>> = args[..first].iter().map(|a| a.to_vec()).collect();
    zargs[0] = b"zadd".to_vec();
    for t in args[first..].chunks(3) {
        let (lon, lat) = lon_lat(t[0], t[1])?;
        let bits = hash::encode_wgs84(lon, lat, STEP_MAX)
            .map(|h| h.align52())
            .unwrap_or(0);
        zargs.push(bits.to_string().into_bytes());
        zargs.push(t[2].to_vec());
    }
    let refs: Vec<&[u8]> = zargs.iter().map(Vec::as_slice).collect();
    crate::types::zset::commands::zadd(ctx, &refs)
}

fn geopos(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let scores: Vec<Option<f64>> = match read_zset(&mut ctx.keys, args[1])? {
        None => vec![None; args.len() - 2],
        Some(z) => args[2..].iter().map(|m| z.score(m)).collect(),
    };
    ctx.out.array(scores.len());
    for s in scores {
        match s {
            None => ctx.out.null_array(),
            Some(score) => {
                let (lon, lat) = hash::decode_score(score);
                ctx.out.array(2);
                coord(ctx, lon);
                coord(ctx, lat);
            }
        }
    }
    Ok(())
}

/// A coordinate: a bulk string in RESP2, a double in RESP3 (same digits).
fn coord(ctx: &mut Ctx<'_, '_>, v: f64) {
    let text = format_coord(v);
    if ctx.out.is_resp3() {
        ctx.out.raw(format!(",{text}\r\n").as_bytes());
    } else {
        ctx.out.bulk(text.as_bytes());
    }
}

fn geodist(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let to_meters = match args.len() {
        5 => unit(args[4])?,
        n if n > 5 => return Err(CmdError::Syntax),
        _ => 1.0,
    };
    let pair = match read_zset(&mut ctx.keys, args[1])? {
        None => None,
        Some(z) => z.score(args[2]).zip(z.score(args[3])),
    };
    match pair {
        None => ctx.out.null(),
        Some((a, b)) => {
            let (lon1, lat1) = hash::decode_score(a);
            let (lon2, lat2) = hash::decode_score(b);
            let d = search::distance(lon1, lat1, lon2, lat2) / to_meters;
            ctx.out.bulk(format!("{d:.4}").as_bytes());
        }
    }
    Ok(())
}

fn geohash(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let hashes: Vec<Option<String>> = match read_zset(&mut ctx.keys, args[1])? {
        None => vec![None; args.len() - 2],
        Some(z) => args[2..]
            .iter()
            .map(|m| z.score(m).and_then(hash::standard_string))
            .collect(),
    };
    ctx.out.array(hashes.len());
    for h in hashes {
        match h {
            None => ctx.out.null(),
            Some(s) => ctx.out.bulk(s.as_bytes()),
        }
    }
    Ok(())
}

/// Which of the search commands is running.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Flavor {
    /// GEORADIUS key lon lat radius unit ...
    RadiusCoords { store_ok: bool },
    /// GEORADIUSBYMEMBER key member radius unit ...
    RadiusMember { store_ok: bool },
    /// GEOSEARCH key ...
    Search,
    /// GEOSEARCHSTORE dest key ...
    SearchStore,
}

fn georadius(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    search_generic(ctx, args, Flavor::RadiusCoords { store_ok: true })
}

fn georadius_ro(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    search_generic(ctx, args, Flavor::RadiusCoords { store_ok: false })
}

fn georadiusbymember(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    search_generic(ctx, args, Flavor::RadiusMember { store_ok: true })
}

fn georadiusbymember_ro(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    search_generic(ctx, args, Flavor::RadiusMember { store_ok: false })
}

fn geosearch(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    search_generic(ctx, args, Flavor::Search)
}

fn geosearchstore(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    search_generic(ctx, args, Flavor::SearchStore)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Sort {
    None,
    Asc,
    Desc,
}

/// Redis's georadiusGeneric: the argument checks happen in its order, so the same
/// bad request gets the same error.
fn search_generic(ctx: &mut Ctx<'_, '_>, args: &[&[u8]], flavor: Flavor) -> CmdResult {
    let src = if flavor == Flavor::SearchStore { 2 } else { 1 };
    let zset = read_zset(&mut ctx.keys, args[src])?;
    let mut center: Option<(f64, f64)> = None;
    let mut kind: Option<ShapeKind> = None;
    let mut conversion = 1.0;
    let mut store: Option<&[u8]> = None;
    let mut store_dist = false;
    let is_search = matches!(flavor, Flavor::Search | Flavor::SearchStore);
    let member_pos = |z: &ZSetValue, m: &[u8]| -> CmdResult<(f64, f64)> {
        z.score(m)
            .map(hash::decode_score)
            .ok_or_else(|| other("could not decode requested zset member"))
    };
    let base = match flavor {
        Flavor::RadiusCoords { .. } => {
            center = Some(lon_lat(args[2], args[3])?);
            let (r, c) = radius_args(args[4], args[5])?;
            kind = Some(ShapeKind::Radius(r));
            conversion = c;
            6
        }
        Flavor::RadiusMember { .. } => {
            if let Some(z) = &zset {
                center = Some(member_pos(z, args[2])?);
                let (r, c) = radius_args(args[3], args[4])?;
                kind = Some(ShapeKind::Radius(r));
                conversion = c;
            }
            5
        }
        Flavor::Search => 2,
        Flavor::SearchStore => {
            store = Some(args[1]);
            3
        }
    };
    let store_ok = match flavor {
        Flavor::RadiusCoords { store_ok } | Flavor::RadiusMember { store_ok } => store_ok,
        _ => false,
    };
    let (mut withdist, mut withhash, mut withcoord, mut any) = (false, false, false, false);
    let (mut from_member, mut from_loc, mut by_radius, mut by_box) = (false, false, false, false);
    let mut sort = Sort::None;
    let mut count: i64 = 0;
    let rest = &args[base.min(args.len())..];
    let n = rest.len();
    let mut i = 0;
    while i < n {
        let a = rest[i];
        if is_kw(a, "withdist") {
            withdist = true;
        } else if is_kw(a, "withhash") {
            withhash = true;
        } else if is_kw(a, "withcoord") {
            withcoord = true;
        } else if is_kw(a, "any") {
            any = true;
        } else if is_kw(a, "asc") {
            sort = Sort::Asc;
        } else if is_kw(a, "desc") {
            sort = Sort::Desc;
        } else if is_kw(a, "count") && i + 1 < n {
            count = int_arg(rest[i + 1])?;
            if count <= 0 {
                return Err(other("COUNT must be > 0"));
            }
            i += 1;
        } else if (is_kw(a, "store") || is_kw(a, "storedist")) && i + 1 < n && store_ok {
            store = Some(rest[i + 1]);
            store_dist = is_kw(a, "storedist");
            i += 1;
        } else if is_kw(a, "storedist") && flavor == Flavor::SearchStore {
            store_dist = true;
        } else if is_kw(a, "frommember") && i + 1 < n && is_search && !from_loc {
            if let Some(z) = &zset {
                center = Some(member_pos(z, rest[i + 1])?);
            }
            from_member = true;
            i += 1;
        } else if is_kw(a, "fromlonlat") && i + 2 < n && is_search && !from_member {
            center = Some(lon_lat(rest[i + 1], rest[i + 2])?);
            from_loc = true;
            i += 2;
        } else if is_kw(a, "byradius") && i + 2 < n && is_search && !by_box {
            let (r, c) = radius_args(rest[i + 1], rest[i + 2])?;
            kind = Some(ShapeKind::Radius(r));
            conversion = c;
            by_radius = true;
            i += 2;
        } else if is_kw(a, "bybox") && i + 3 < n && is_search && !by_radius {
            let w = float_or(rest[i + 1], "need numeric width")?;
            let h = float_or(rest[i + 2], "need numeric height")?;
            if h < 0.0 || w < 0.0 {
                return Err(other("height or width cannot be negative"));
            }
            conversion = unit(rest[i + 3])?;
            kind = Some(ShapeKind::Box {
                width: w,
                height: h,
            });
            by_box = true;
            i += 3;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    if store.is_some() && (withdist || withhash || withcoord) {
        return Err(other(if flavor == Flavor::SearchStore {
            "GEOSEARCHSTORE is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
        } else {
            "STORE option in GEORADIUS is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
        }));
    }
    let name = String::from_utf8_lossy(args[0]).into_owned();
    if is_search && !(from_member || from_loc) {
        return Err(other(&format!(
            "exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}"
        )));
    }
    if is_search && !(by_radius || by_box) {
        return Err(other(&format!(
            "exactly one of BYRADIUS and BYBOX can be specified for {name}"
        )));
    }
    if any && count == 0 {
        return Err(other("the ANY argument requires COUNT argument"));
    }
    let Some(z) = zset else {
        // No source key.
        match store {
            Some(dest) => {
                crate::types::zset::commands::delete_destination(&mut ctx.keys, dest)?;
                ctx.out.int(0);
            }
            None => ctx.out.empty_array(),
        }
        return Ok(());
    };
    if count != 0 && sort == Sort::None && !any {
        sort = Sort::Asc;
    }
    let (Some((lon, lat)), Some(kind)) = (center, kind) else {
        return Err(CmdError::Syntax);
    };
    let shape = Shape {
        lon,
        lat,
        conversion,
        kind,
    };
    let limit = if any { count as usize } else { 0 };
    let mut found = search::search(&shape, limit, |min, max, visit| {
        let range = ScoreRange {
            min,
            minex: false,
            max,
            maxex: true,
        };
        let (start, end) = z.score_range_ranks(&range);
        z.visit(start, end, false, visit);
    });
    match sort {
        Sort::None => {}
        // Stable, like glibc's merge-sort qsort: ties keep their scan order.
        Sort::Asc => found.sort_by(|a, b| a.dist.total_cmp(&b.dist)),
        Sort::Desc => found.sort_by(|a, b| b.dist.total_cmp(&a.dist)),
    }
    let returned = if count == 0 {
        found.len()
    } else {
        found.len().min(count as usize)
    };
    found.truncate(returned);
    match store {
        None => reply_found(ctx, &found, conversion, withdist, withhash, withcoord),
        Some(dest) => {
            if found.is_empty() {
                crate::types::zset::commands::delete_destination(&mut ctx.keys, dest)?;
            } else {
                let pairs: Vec<(Vec<u8>, f64)> = found
                    .into_iter()
                    .map(|f| {
                        let score = if store_dist {
                            f.dist / conversion
                        } else {
                            f.score
                        };
                        (f.member, score)
                    })
                    .collect();
                let z = ZSetValue::from_pairs(pairs, &ctx.engine.config);
                ctx.keys.set(dest, Value::ZSet(z), false)?;
                ctx.keys.changed(
                    dest,
                    if is_search {
                        crate::notify::events::GEOSEARCHSTORE
                    } else {
                        crate::notify::events::GEORADIUSSTORE
                    },
                );
            }
            ctx.out.int(returned as i64);
        }
    }
    Ok(())
}

fn reply_found(
    ctx: &mut Ctx<'_, '_>,
    found: &[Found],
    conversion: f64,
    withdist: bool,
    withhash: bool,
    withcoord: bool,
) {
    let extra = usize::from(withdist) + usize::from(withhash) + usize::from(withcoord);
    ctx.out.array(found.len());
    for f in found {
        if extra > 0 {
            ctx.out.array(extra + 1);
        }
        ctx.out.bulk(&f.member);
        if withdist {
            ctx.out
                .bulk(format!("{:.4}", f.dist / conversion).as_bytes());
        }
        if withhash {
            ctx.out.int(f.score as i64);
        }
        if withcoord {
            ctx.out.array(2);
            coord(ctx, f.lon);
            coord(ctx, f.lat);
        }
    }
}
