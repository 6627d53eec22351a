//! Bitmap commands, with Redis's argument checks in Redis's order (src/bitops.c).

use smallvec::SmallVec;

use crate::args::{int_arg, is_c_kw, parse_i64};
use crate::commands::CommandDef;
use crate::config::P;
use crate::ctx::{Ctx, Keys};
use crate::error::{CmdError, CmdResult};
use crate::keyspace::Lookup;
use crate::notify::events as ev;
use crate::types::bitmap::{
    bitpos as first_bit, get_signed, get_unsigned, popcount, set_field, signed_overflow,
    unsigned_overflow, Overflow,
};
use crate::types::string::StrValue;
use crate::types::{Value, ValueType};

/// The table.
pub static COMMANDS: &[CommandDef] = &[
    CommandDef::new("setbit", setbit),
    CommandDef::new("getbit", getbit),
    CommandDef::new("bitcount", bitcount),
    CommandDef::new("bitpos", bitpos),
    CommandDef::new("bitop", bitop),
    CommandDef::new("bitfield", bitfield),
    CommandDef::new("bitfield_ro", bitfield_ro),
];

/// Redis's getBitOffsetFromArgument: a bit offset; with `hash_bits` (BITFIELD) the
/// `#n` form means n times the field width. Negative offsets and offsets whose
/// byte is past proto-max-bulk-len are refused, except for a replaying client
/// (Redis's mustObeyClient).
fn bit_offset(ctx: &Ctx<'_, '_>, arg: &[u8], hash_bits: Option<u32>) -> CmdResult<u64> {
    let (digits, times) = match (arg.first(), hash_bits) {
        (Some(b'#'), Some(bits)) => (&arg[1..], Some(bits)),
        _ => (arg, None),
    };
    let mut offset = parse_i64(digits).ok_or(CmdError::BitOffset)?;
    if let Some(bits) = times {
        offset = offset.wrapping_mul(i64::from(bits));
    }
    let limit = ctx.engine.config.int(P::ProtoMaxBulkLen);
    if offset < 0 || (!ctx.client.loading && (offset >> 3) >= limit) {
        return Err(CmdError::BitOffset);
    }
    Ok(offset as u64)
}

/// Zero-fills `buf` to `len` bytes. The allocation grows as Redis's sdsMakeRoomFor
/// grows a string (twice the size below 1 MB, 1 MB more above), so a bitmap grown
/// bit by bit reallocates rarely without holding twice its size. An allocation
/// that cannot be made is refused (Redis would abort; only reachable with
/// proto-max-bulk-len raised past the memory there is).
fn grow_zeroed(buf: &mut Vec<u8>, len: usize) -> CmdResult<()> {
    if len > buf.capacity() {
        let target = if len < 1 << 20 {
            len.saturating_mul(2)
        } else {
            len.saturating_add(1 << 20)
        };
        if buf.try_reserve_exact(target - buf.len()).is_err()
            && buf.try_reserve_exact(len - buf.len()).is_err()
        {
            return Err(CmdError::StringTooLong);
        }
    }
    buf.resize(len, 0);
    Ok(())
}

/// Redis's lookupStringForBitCommand: runs `f` on the string at `key` made long
/// enough to hold bit `maxbit` (created zero-filled, or zero-padded), with whether
/// it was created or grown. WRONGTYPE for another type. Creating the key is not
/// counted as a change (Redis's dbAdd): the caller counts what it changes.
fn with_bits<R>(
    keys: &mut Keys<'_>,
    key: &[u8],
    maxbit: u64,
    f: impl FnOnce(&mut Vec<u8>, bool) -> R,
) -> CmdResult<R> {
    let need = usize::try_from(maxbit >> 3)
        .ok()
        .and_then(|b| b.checked_add(1))
        .ok_or(CmdError::StringTooLong)?;
    if let Some(mut e) = keys.write(key)? {
        let Some(Value::Str(s)) = e.value_of(ValueType::String) else {
            return Err(CmdError::WrongType);
        };
        let buf = s.make_raw();
        let grown = buf.len() < need;
        if grown {
            grow_zeroed(buf, need)?;
        }
        return Ok(f(buf, grown));
    }
    // A new string is exactly as long as needed, as Redis creates it.
    let mut buf = Vec::new();
    buf.try_reserve_exact(need)
        .map_err(|_| CmdError::StringTooLong)?;
    buf.resize(need, 0);
    let mut e = keys.add_new(key, Value::Str(StrValue::Raw(Box::new(buf))))?;
    match e.value() {
        Value::Str(s) => Ok(f(s.make_raw(), true)),
        _ => Err(CmdError::WrongType),
    }
}

fn setbit(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let offset = bit_offset(ctx, args[2], None)?;
    let on = parse_i64(args[3]).ok_or(CmdError::BitValue)?;
    if on & !1 != 0 {
        return Err(CmdError::BitValue);
    }
    let key = args[1];
    let byte = (offset >> 3) as usize;
    let shift = 7 - (offset & 7) as u32;
    let (old, changed) = with_bits(&mut ctx.keys, key, offset, |buf, grown| {
        let Some(b) = buf.get_mut(byte) else {
            return (0, false);
        };
        let old = (*b >> shift) & 1;
        // Created, grown, or the bit flips: only then is it a change.
        let changed = grown || i64::from(old) != on;
        if changed {
            *b = (*b & !(1 << shift)) | ((on as u8) << shift);
        }
        (old, changed)
    })?;
    if changed {
        let db = ctx.keys.db;
        ctx.keys.mark_dirty(db, key)?;
        ctx.keys.changed(key, ev::SETBIT);
    }
    ctx.out.int(i64::from(old));
    Ok(())
}

fn getbit(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let offset = bit_offset(ctx, args[2], None)?;
    let byte = usize::try_from(offset >> 3).unwrap_or(usize::MAX);
    let shift = 7 - (offset & 7) as u32;
    let bit = match ctx.keys.read_str(args[1])? {
        None => 0,
        Some(s) => {
            let mut scratch = itoa::Buffer::new();
            s.bytes(&mut scratch)
                .get(byte)
                .map_or(0, |b| (b >> shift) & 1)
        }
    };
    ctx.out.int(i64::from(bit));
    Ok(())
}

/// BIT or BYTE, as BITCOUNT and BITPOS read their unit (true for BIT).
fn unit_arg(arg: &[u8]) -> CmdResult<bool> {
    if is_c_kw(arg, "bit") {
        Ok(true)
    } else if is_c_kw(arg, "byte") {
        Ok(false)
    } else {
        Err(CmdError::Syntax)
    }
}

/// A range over a string of `strlen` bytes as BITCOUNT and BITPOS resolve it:
/// negative indexes from the end, clamped to the string, and in BIT units the byte
/// range plus masks of the bits outside it in the first and last byte.
struct BitRange {
    start: i64,
    end: i64,
    first_mask: u8,
    last_mask: u8,
}

fn resolve_range(mut start: i64, mut end: i64, strlen: i64, bit_unit: bool) -> BitRange {
    let total = if bit_unit { strlen << 3 } else { strlen };
    if start < 0 {
        start += total;
    }
    if end < 0 {
        end += total;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= total {
        end = total - 1;
    }
    let (mut first_mask, mut last_mask) = (0, 0);
    if bit_unit && start <= end {
        first_mask = !((1u16 << (8 - (start & 7))) - 1) as u8;
        last_mask = ((1u16 << (7 - (end & 7))) - 1) as u8;
        start >>= 3;
        end >>= 3;
    }
    BitRange {
        start,
        end,
        first_mask,
        last_mask,
    }
}

fn bitcount(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    // Redis looks the key up before it reads the range: a missing key is 0 whatever
    // the arguments.
    let Some(s) = ctx.keys.read_str(args[1])? else {
        ctx.out.int(0);
        return Ok(());
    };
    let mut scratch = itoa::Buffer::new();
    let p = s.bytes(&mut scratch);
    let strlen = p.len() as i64;
    let range = match args.len() {
        4 | 5 => {
            let start = int_arg(args[2])?;
            let end = int_arg(args[3])?;
            if start < 0 && end < 0 && start > end {
                ctx.out.int(0);
                return Ok(());
            }
            let bit_unit = match args.get(4) {
                Some(u) => unit_arg(u)?,
                None => false,
            };
            resolve_range(start, end, strlen, bit_unit)
        }
        2 => BitRange {
            start: 0,
            end: strlen - 1,
            first_mask: 0,
            last_mask: 0,
        },
        _ => return Err(CmdError::Syntax),
    };
    if range.start > range.end {
        ctx.out.int(0);
        return Ok(());
    }
    let (start, end) = (range.start as usize, range.end as usize);
    let mut count = popcount(&p[start..=end]);
    // The bits of the edge bytes outside a BIT range were counted: take them off.
    count -= u64::from((p[start] & range.first_mask).count_ones());
    count -= u64::from((p[end] & range.last_mask).count_ones());
    ctx.out.int(count as i64);
    Ok(())
}

fn bitpos(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let bit = int_arg(args[2])?;
    if bit != 0 && bit != 1 {
        return Err(CmdError::BitposBit);
    }
    let bit = bit == 1;
    // A missing key is an endless run of clear bits, whatever the range says.
    let Some(s) = ctx.keys.read_str(args[1])? else {
        ctx.out.int(if bit { -1 } else { 0 });
        return Ok(());
    };
    let mut scratch = itoa::Buffer::new();
    let p = s.bytes(&mut scratch);
    let strlen = p.len() as i64;
    let mut end_given = false;
    let range = match args.len() {
        4..=6 => {
            let start = int_arg(args[3])?;
            let bit_unit = match args.get(5) {
                Some(u) => unit_arg(u)?,
                None => false,
            };
            let end = match args.get(4) {
                Some(e) => {
                    end_given = true;
                    int_arg(e)?
                }
                None => strlen - 1,
            };
            resolve_range(start, end, strlen, bit_unit)
        }
        3 => BitRange {
            start: 0,
            end: strlen - 1,
            first_mask: 0,
            last_mask: 0,
        },
        _ => return Err(CmdError::Syntax),
    };
    if range.start > range.end {
        ctx.out.int(-1);
        return Ok(());
    }
    let (first_mask, last_mask) = (range.first_mask, range.last_mask);
    let end = range.end as usize;
    let mut start = range.start as usize;
    let mut bytes = end - start + 1;
    // The bits outside a BIT range are forced to the opposite of what is sought.
    let hide = |b: u8, mask: u8| if bit { b & !mask } else { b | mask };
    let pos = 'found: {
        if first_mask != 0 {
            let mut edge = hide(p[start], first_mask);
            if last_mask != 0 && bytes == 1 {
                edge = hide(edge, last_mask);
            }
            let pos = first_bit(&[edge], bit);
            if bytes == 1 || (pos != -1 && pos != 8) {
                break 'found pos;
            }
            start += 1;
            bytes -= 1;
        }
        let middle = bytes - usize::from(last_mask != 0);
        if middle > 0 {
            let pos = first_bit(&p[start..start + middle], bit);
            if bytes == middle || (pos != -1 && pos != (middle as i64) << 3) {
                break 'found pos;
            }
            start += middle;
            bytes -= middle;
        }
        first_bit(&[hide(p[end], last_mask)], bit)
    };
    // With an explicit end the string is not zero-padded past it: a clear bit
    // "found" just after the range is no clear bit in it.
    if end_given && !bit && pos == (bytes as i64) << 3 {
        ctx.out.int(-1);
        return Ok(());
    }
    ctx.out.int(if pos == -1 {
        -1
    } else {
        pos + ((start as i64) << 3)
    });
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BitOp {
    And,
    Or,
    Xor,
    Not,
}

fn bitop(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let op = [
        ("and", BitOp::And),
        ("or", BitOp::Or),
        ("xor", BitOp::Xor),
        ("not", BitOp::Not),
    ]
    .into_iter()
    .find(|(name, _)| is_c_kw(args[1], name))
    .map(|(_, op)| op)
    .ok_or(CmdError::Syntax)?;
    if op == BitOp::Not && args.len() != 4 {
        return Err(CmdError::BitopNotSingleKey);
    }
    let (dest, sources) = (args[2], &args[3..]);
    // First pass: each source looked up once as Redis does (hits, WRONGTYPE at the
    // first non-string), for the result's length.
    let mut maxlen = 0usize;
    for key in sources {
        let len = match ctx.keys.read(key)? {
            None => 0,
            Some(e) => match &*e.node.value() {
                Value::Str(s) => s.len(),
                _ => return Err(CmdError::WrongType),
            },
        };
        maxlen = maxlen.max(len);
    }
    let db = ctx.keys.db;
    if maxlen > 0 {
        // The result is built a block at a time, every source applied to a block
        // while it is in cache (one pass over each source, as Redis's loop over
        // words): the sources are looked up again per block, without counting them
        // again. A missing or shorter source reads as zeros.
        const BLOCK: usize = 32 * 1024;
        let mut res: Vec<u8> = Vec::new();
        res.try_reserve_exact(maxlen)
            .map_err(|_| CmdError::StringTooLong)?;
        let mut at = 0;
        while at < maxlen {
            let end = (at + BLOCK).min(maxlen);
            for (i, key) in sources.iter().enumerate() {
                let mut scratch = itoa::Buffer::new();
                let e = ctx
                    .keys
                    .lookup_in(db, key, Lookup::NoTouch)?
                    .map(|e| e.into_ref());
                let src: &[u8] = match &e {
                    Some(v) => match &**v {
                        Value::Str(s) => s.bytes(&mut scratch),
                        _ => &[],
                    },
                    None => &[],
                };
                let part = src.get(at..end.min(src.len())).unwrap_or_default();
                if i == 0 {
                    res.extend_from_slice(part);
                    res.resize(end, 0);
                    if op == BitOp::Not {
                        res[at..].iter_mut().for_each(|b| *b = !*b);
                    }
                    continue;
                }
                let block = &mut res[at..end];
                match op {
                    BitOp::And => {
                        block.iter_mut().zip(part).for_each(|(r, s)| *r &= s);
                        block[part.len()..].fill(0);
                    }
                    BitOp::Or => block.iter_mut().zip(part).for_each(|(r, s)| *r |= s),
                    BitOp::Xor => block.iter_mut().zip(part).for_each(|(r, s)| *r ^= s),
                    BitOp::Not => {}
                }
            }
            at = end;
        }
        ctx.keys
            .set(dest, Value::Str(StrValue::Raw(Box::new(res))), false)?;
        ctx.keys.changed(dest, ev::SET);
    } else if ctx.keys.delete(dest)? {
        ctx.keys.changed(dest, ev::DEL);
    }
    ctx.out.int(maxlen as i64);
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FieldOp {
    Get,
    Set,
    Incrby,
}

/// One BITFIELD subcommand, parsed.
#[derive(Debug, Clone, Copy)]
struct Field {
    op: FieldOp,
    offset: u64,
    /// SET's value or INCRBY's increment.
    value: i64,
    overflow: Overflow,
    bits: u32,
    signed: bool,
}

/// Redis's getBitfieldTypeFromArgument: `i1`..`i64` or `u1`..`u63` (the width read
/// as C reads it, up to a NUL byte).
fn field_type(arg: &[u8]) -> CmdResult<(bool, u32)> {
    let signed = match arg.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return Err(CmdError::BitfieldType),
    };
    let bits = parse_i64(crate::args::c_str(&arg[1..])).ok_or(CmdError::BitfieldType)?;
    if bits < 1 || (signed && bits > 64) || (!signed && bits > 63) {
        return Err(CmdError::BitfieldType);
    }
    Ok((signed, bits as u32))
}

fn bitfield(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    bitfield_generic(ctx, args, false)
}

fn bitfield_ro(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    bitfield_generic(ctx, args, true)
}

/// Runs one SET or INCRBY on `buf`: the reply (`None` when OVERFLOW FAIL refused
/// it) and whether the field changed.
fn apply_write(buf: &mut [u8], f: &Field) -> (Option<i64>, bool) {
    if f.signed {
        let old = get_signed(buf, f.offset, f.bits);
        let (new, overflow, reply) = if f.op == FieldOp::Incrby {
            let over = signed_overflow(old, f.value, f.bits, f.overflow);
            let new = over.unwrap_or(old.wrapping_add(f.value));
            (new, over.is_some(), new)
        } else {
            let over = signed_overflow(f.value, 0, f.bits, f.overflow);
            (over.unwrap_or(f.value), over.is_some(), old)
        };
        if overflow && f.overflow == Overflow::Fail {
            return (None, false);
        }
        set_field(buf, f.offset, f.bits, new as u64);
        (Some(reply), old != new)
    } else {
        let old = get_unsigned(buf, f.offset, f.bits);
        let (new, overflow, reply) = if f.op == FieldOp::Incrby {
            let over = unsigned_overflow(old, f.value, f.bits, f.overflow);
            let new = over.unwrap_or(old.wrapping_add(f.value as u64));
            (new, over.is_some(), new)
        } else {
            let v = f.value as u64;
            let over = unsigned_overflow(v, 0, f.bits, f.overflow);
            (over.unwrap_or(v), over.is_some(), old)
        };
        if overflow && f.overflow == Overflow::Fail {
            return (None, false);
        }
        set_field(buf, f.offset, f.bits, new);
        (Some(reply as i64), old != new)
    }
}

fn read_field(src: &[u8], f: &Field) -> i64 {
    if f.signed {
        get_signed(src, f.offset, f.bits)
    } else {
        get_unsigned(src, f.offset, f.bits) as i64
    }
}

/// BITFIELD and BITFIELD_RO (Redis's bitfieldGeneric): every subcommand is parsed
/// first, OVERFLOW applying to those after it; then they run in order.
fn bitfield_generic(ctx: &mut Ctx<'_, '_>, args: &[&[u8]], read_only_cmd: bool) -> CmdResult {
    let mut fields: SmallVec<[Field; 4]> = SmallVec::new();
    let mut overflow = Overflow::Wrap;
    let mut writes = false;
    let mut highest_bit = 0u64;
    let mut j = 2;
    while j < args.len() {
        let rest = args.len() - j - 1;
        let sub = args[j];
        let op = if is_c_kw(sub, "get") && rest >= 2 {
            FieldOp::Get
        } else if is_c_kw(sub, "set") && rest >= 3 {
            FieldOp::Set
        } else if is_c_kw(sub, "incrby") && rest >= 3 {
            FieldOp::Incrby
        } else if is_c_kw(sub, "overflow") && rest >= 1 {
            let kind = args[j + 1];
            overflow = if is_c_kw(kind, "wrap") {
                Overflow::Wrap
            } else if is_c_kw(kind, "sat") {
                Overflow::Sat
            } else if is_c_kw(kind, "fail") {
                Overflow::Fail
            } else {
                return Err(CmdError::BitfieldOverflowType);
            };
            j += 2;
            continue;
        } else {
            return Err(CmdError::Syntax);
        };
        let (signed, bits) = field_type(args[j + 1])?;
        let offset = bit_offset(ctx, args[j + 2], Some(bits))?;
        let mut value = 0;
        if op != FieldOp::Get {
            writes = true;
            highest_bit = highest_bit.max(offset.wrapping_add(u64::from(bits) - 1));
            value = int_arg(args[j + 3])?;
        }
        fields.push(Field {
            op,
            offset,
            value,
            overflow,
            bits,
            signed,
        });
        j += if op == FieldOp::Get { 3 } else { 4 };
    }
    let key = args[1];
    if !writes {
        // Only GETs: a read, and a missing key reads as zeros.
        let mut scratch = itoa::Buffer::new();
        let e = ctx.keys.read(key)?.map(|e| e.into_ref());
        let src: &[u8] = match &e {
            None => &[],
            Some(v) => match &**v {
                Value::Str(s) => s.bytes(&mut scratch),
                _ => return Err(CmdError::WrongType),
            },
        };
        ctx.out.array(fields.len());
        for f in &fields {
            ctx.out.int(read_field(src, f));
        }
        return Ok(());
    }
    if read_only_cmd {
        return Err(CmdError::BitfieldReadOnly);
    }
    let out = &mut *ctx.out;
    let changes = with_bits(&mut ctx.keys, key, highest_bit, |buf, grown| {
        out.array(fields.len());
        let mut changes = 0u64;
        for f in &fields {
            if f.op == FieldOp::Get {
                out.int(read_field(buf, f));
                continue;
            }
            match apply_write(buf, f) {
                (Some(reply), changed) => {
                    out.int(reply);
                    if grown || changed {
                        changes += 1;
                    }
                }
                (None, _) => out.null(),
            }
        }
        changes
    })?;
    if changes > 0 {
        let db = ctx.keys.db;
        ctx.keys.mark_dirty_by(db, key, changes)?;
        ctx.keys.changed(key, ev::SETBIT);
    }
    Ok(())
}
