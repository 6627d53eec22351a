//! SORT and SORT_RO over lists, sets and sorted sets, as Redis 7.0's sort.c behaves:
//! numeric (strtod) or ALPHA (byte order) comparison, BY and GET patterns with
//! `*` substitution and `->field` hash lookups, LIMIT, STORE into a list.
//!
//! BY and GET can name any key of the database, so SORT locks the whole database.

use std::cmp::Ordering;

use crate::args::{int_arg, is_kw};
use crate::commands::{CommandDef, Locks};
use crate::ctx::Ctx;
use crate::error::{CmdError, CmdResult};
use crate::types::list::ListValue;
use crate::types::Value;

/// The table.
pub static COMMANDS: &[CommandDef] = &[
    CommandDef::with_locks("sort", sort, Locks::Db),
    CommandDef::with_locks("sort_ro", sort_ro, Locks::Db),
];

fn sort(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    sort_generic(ctx, args, false)
}

fn sort_ro(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    sort_generic(ctx, args, true)
}

/// The options of one SORT call.
struct Options<'a> {
    desc: bool,
    alpha: bool,
    limit: Option<(i64, i64)>,
    store: Option<&'a [u8]>,
    by: Option<&'a [u8]>,
    /// BY without a `*`: keep the native order.
    dont_sort: bool,
    get: Vec<&'a [u8]>,
}

/// `full_key_access`: the user may read every key (BY and GET patterns name keys
/// no ACL check saw).
fn parse_options<'a>(
    args: &[&'a [u8]],
    readonly: bool,
    full_key_access: bool,
) -> CmdResult<Options<'a>> {
    let mut o = Options {
        desc: false,
        alpha: false,
        limit: None,
        store: None,
        by: None,
        dont_sort: false,
        get: Vec::new(),
    };
    let mut j = 2;
    while j < args.len() {
        let left = args.len() - j - 1;
        let a = args[j];
        if is_kw(a, "asc") {
            o.desc = false;
        } else if is_kw(a, "desc") {
            o.desc = true;
        } else if is_kw(a, "alpha") {
            o.alpha = true;
        } else if is_kw(a, "limit") && left >= 2 {
            o.limit = Some((int_arg(args[j + 1])?, int_arg(args[j + 2])?));
            j += 2;
        } else if !readonly && is_kw(a, "store") && left >= 1 {
            o.store = Some(args[j + 1]);
            j += 1;
        } else if is_kw(a, "by") && left >= 1 {
            o.by = Some(args[j + 1]);
            o.dont_sort = !args[j + 1].contains(&b'*');
            if !o.dont_sort && !full_key_access {
                return Err(CmdError::Other(
                    "BY option of SORT denied due to insufficient ACL permissions.".into(),
                ));
            }
            j += 1;
        } else if is_kw(a, "get") && left >= 1 {
            if !full_key_access {
                return Err(CmdError::Other(
                    "GET option of SORT denied due to insufficient ACL permissions.".into(),
                ));
            }
            o.get.push(args[j + 1]);
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    Ok(o)
}

/// What is being sorted.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    List,
    Set,
    ZSet,
}

/// The elements of the value at `key` in native order (zsets by rank); an empty
/// list when missing.
fn load(ctx: &mut Ctx<'_, '_>, key: &[u8]) -> CmdResult<(Kind, Vec<Vec<u8>>)> {
    let Some(mut e) = ctx.keys.read(key)? else {
        return Ok((Kind::List, Vec::new()));
    };
    let mut items = Vec::new();
    // For writing: SORT turns a compact zset into a skiplist, as Redis's does.
    let kind = match e.value() {
        Value::List(l) => {
            l.for_each(|x| items.push(x.to_vec()));
            Kind::List
        }
        Value::Set(s) => {
            s.for_each(|x| items.push(x.to_vec()));
            Kind::Set
        }
        Value::ZSet(z) => {
            z.convert_to_big();
            z.for_each(|m, _| items.push(m.to_vec()));
            Kind::ZSet
        }
        _ => return Err(CmdError::WrongType),
    };
    Ok((kind, items))
}

/// Redis's lookupKeyByPattern: `#` is the element itself; otherwise the first `*`
/// is replaced by the element and an optional `->field` suffix reads a hash field.
/// A pattern without `*` names nothing.
fn lookup_by_pattern(ctx: &mut Ctx<'_, '_>, pattern: &[u8], elem: &[u8]) -> Option<Vec<u8>> {
    if pattern == b"#" {
        return Some(elem.to_vec());
    }
    let star = pattern.iter().position(|&b| b == b'*')?;
    let after = &pattern[star + 1..];
    let arrow = after
        .windows(2)
        .position(|w| w == b"->")
        .filter(|&p| p + 2 < after.len());
    let (postfix, field) = match arrow {
        Some(p) => (&after[..p], Some(&after[p + 2..])),
        None => (after, None),
    };
    let mut key = Vec::with_capacity(pattern.len() + elem.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(elem);
    key.extend_from_slice(postfix);
    let e = ctx.keys.read(&key).ok()??;
    match (&*e.node.value(), field) {
        (Value::Str(s), None) => {
            let mut b = itoa::Buffer::new();
            Some(s.bytes(&mut b).to_vec())
        }
        (Value::Hash(h), Some(f)) => h.get(f).map(|v| v.to_vec()),
        _ => None,
    }
}

/// strtod as SORT uses it: the whole string must be a number (an empty string is
/// 0), out-of-range and NaN are errors.
fn sort_score(s: &[u8]) -> Option<f64> {
    let t = std::str::from_utf8(s).ok()?;
    let t = t.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    if t.is_empty() {
        return (s.is_empty() || t.len() < s.len()).then_some(0.0);
    }
    let v: f64 = t.parse().ok()?;
    let lower = t.to_ascii_lowercase();
    if v.is_nan() || (v.is_infinite() && !lower.contains("inf")) {
        return None;
    }
    Some(v)
}

struct Item {
    elem: Vec<u8>,
    score: f64,
    cmp: Option<Vec<u8>>,
}

fn sort_generic(ctx: &mut Ctx<'_, '_>, args: &[&[u8]], readonly: bool) -> CmdResult {
    let user = &ctx.client.user;
    let full_key_access = ctx.client.acl_free()
        || crate::acl::check::unrestricted_key_access(
            user,
            ctx.cmd.meta,
            args,
            crate::commands::meta::KeyFlags::ACCESS,
        );
    let mut o = parse_options(args, readonly, full_key_access)?;
    let (kind, elems) = load(ctx, args[1])?;
    // A set has no native order: with STORE the result must be deterministic.
    if o.dont_sort && kind == Kind::Set && (o.store.is_some() || ctx.client.in_script) {
        o.dont_sort = false;
        o.alpha = true;
        o.by = None;
    }
    let len = elems.len() as i64;
    let (limit_start, limit_count) = o.limit.unwrap_or((0, -1));
    let mut start = limit_start.max(0);
    let mut end = if limit_count < 0 {
        len - 1
    } else {
        start.wrapping_add(limit_count).wrapping_sub(1)
    };
    if start >= len {
        start = len - 1;
        end = len - 2;
    }
    if end >= len {
        end = len - 1;
    }

    let mut items: Vec<Item> = elems
        .into_iter()
        .map(|elem| Item {
            elem,
            score: 0.0,
            cmp: None,
        })
        .collect();
    if o.dont_sort {
        if o.desc && kind != Kind::Set {
            items.reverse();
        }
    } else {
        let mut bad_number = false;
        for it in &mut items {
            let by = match o.by {
                Some(p) => lookup_by_pattern(ctx, p, &it.elem),
                None => None,
            };
            if o.alpha {
                if o.by.is_some() {
                    it.cmp = by;
                }
            } else {
                let src = match o.by {
                    Some(_) => by,
                    None => Some(it.elem.clone()),
                };
                if let Some(v) = src {
                    match sort_score(&v) {
                        Some(s) => it.score = s,
                        None => bad_number = true,
                    }
                }
            }
        }
        if bad_number {
            return Err(CmdError::Other(
                "One or more scores can't be converted into double".into(),
            ));
        }
        let by_pattern = o.by.is_some();
        let (alpha, desc) = (o.alpha, o.desc);
        items.sort_by(|a, b| {
            let c = if !alpha {
                a.score
                    .partial_cmp(&b.score)
                    .unwrap_or(Ordering::Equal)
                    .then_with(|| a.elem.cmp(&b.elem))
            } else if by_pattern {
                match (&a.cmp, &b.cmp) {
                    (None, None) => Ordering::Equal,
                    (None, Some(_)) => Ordering::Less,
                    (Some(_), None) => Ordering::Greater,
                    (Some(x), Some(y)) => x.cmp(y),
                }
            } else {
                a.elem.cmp(&b.elem)
            };
            if desc {
                c.reverse()
            } else {
                c
            }
        });
    }

    let range: Vec<Item> = if start <= end && start >= 0 {
        items
            .into_iter()
            .skip(start as usize)
            .take((end - start + 1) as usize)
            .collect()
    } else {
        Vec::new()
    };
    let mut output: Vec<Option<Vec<u8>>> = Vec::new();
    for it in &range {
        if o.get.is_empty() {
            output.push(Some(it.elem.clone()));
        }
        for p in &o.get {
            output.push(lookup_by_pattern(ctx, p, &it.elem));
        }
    }

    match o.store {
        None => {
            ctx.out.array(output.len());
            for v in &output {
                match v {
                    Some(b) => ctx.out.bulk(b),
                    None => ctx.out.null(),
                }
            }
        }
        Some(dest) => {
            let n = output.len();
            if n > 0 {
                let items: Vec<Vec<u8>> =
                    output.into_iter().map(Option::unwrap_or_default).collect();
                let list = ListValue::from_items(items, &ctx.engine.config);
                ctx.keys.set(dest, Value::List(Box::new(list)), false)?;
                ctx.keys.changed(dest, crate::notify::events::SORTSTORE);
            } else if ctx.keys.delete(dest)? {
                ctx.keys.changed(dest, crate::notify::events::DEL);
            }
            ctx.out.int(n as i64);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::sort_score;

    #[test]
    fn strtod_rules() {
        assert_eq!(sort_score(b""), Some(0.0));
        assert_eq!(sort_score(b" 1.5"), Some(1.5));
        assert_eq!(sort_score(b"1.5 "), None);
        assert_eq!(sort_score(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(sort_score(b"nan"), None);
        assert_eq!(sort_score(b"1e400"), None);
        assert_eq!(sort_score(b"abc"), None);
    }
}
