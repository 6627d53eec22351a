//! Streams in RDB files and DUMP payloads (RDB_TYPE_STREAM_LISTPACKS_2, and the
//! older STREAM_LISTPACKS on load): each node as its 128-bit master ID and the
//! listpack Redis would hold for it, then the stream's counters, then the
//! consumer groups with their PELs and consumers.

use ferrokv_core::types::stream::node::{deltas, FLAG_DELETED, FLAG_SAMEFIELDS};
use ferrokv_core::types::stream::{Entry, Node, StreamId, StreamValue};

use super::blobs::{listpack_elems, BlobError, Elem, ListpackBuilder};
use super::error::corrupt;
use super::i64_bytes;

/// The listpack of a node, byte for byte as Redis builds it (master entry, then
/// each entry with ID deltas, SAMEFIELDS compression and its element count).
pub(crate) fn node_listpack(master: StreamId, node: &Node) -> Vec<u8> {
    let mut lp = ListpackBuilder::new();
    let int = |lp: &mut ListpackBuilder, v: i64| lp.push(&i64_bytes(v));
    int(&mut lp, node.live as i64);
    int(&mut lp, node.deleted as i64);
    let master_fields = node.master_fields();
    int(&mut lp, master_fields.len() as i64);
    for f in &master_fields {
        lp.push(f);
    }
    int(&mut lp, 0);
    for (_, e) in node.iter(master) {
        let (ms, seq) = deltas(e.id, master);
        int(&mut lp, e.flags());
        int(&mut lp, ms);
        int(&mut lp, seq);
        let n = e.len() / 2;
        if !e.same_fields {
            int(&mut lp, n as i64);
        }
        let mut i = 0;
        e.for_each(|f| {
            if i % 2 == 1 || !e.same_fields {
                lp.push(f);
            }
            i += 1;
        });
        let mut count = n as i64 + 3;
        if !e.same_fields {
            count += n as i64 + 1;
        }
        int(&mut lp, count);
    }
    lp.finish()
}

fn elem_int(e: Option<&Elem<'_>>, pos: usize) -> Result<i64, BlobError> {
    match e {
        Some(Elem::Int(v)) => Ok(*v),
        Some(Elem::Str(s)) => {
            super::strict_i64(s).ok_or((pos, corrupt("stream listpack", "integer expected")))
        }
        None => Err((pos, corrupt("stream listpack", "entry runs past the end"))),
    }
}

fn elem_bytes(e: Option<&Elem<'_>>, pos: usize) -> Result<Vec<u8>, BlobError> {
    e.map(|e| e.to_vec())
        .ok_or((pos, corrupt("stream listpack", "entry runs past the end")))
}

/// A node from its listpack (streamValidateListpackIntegrity's checks: counts,
/// entry shapes, IDs ascending from the master ID).
pub(crate) fn node_from_listpack(master: StreamId, lp: &[u8]) -> Result<Node, BlobError> {
    let elems = listpack_elems(lp)?;
    let bad = |why: &'static str| (0usize, corrupt("stream listpack", why));
    if elems.is_empty() {
        return Err(bad("empty listpack inside stream"));
    }
    let mut i = 0;
    let next_int = |i: &mut usize| {
        let v = elem_int(elems.get(*i), *i);
        *i += 1;
        v
    };
    let live = next_int(&mut i)?;
    let deleted = next_int(&mut i)?;
    let nfields = next_int(&mut i)?;
    if live < 0 || deleted < 0 || nfields < 0 || nfields as usize > elems.len() {
        return Err(bad("bad master entry"));
    }
    let mut master_fields = Vec::with_capacity(nfields as usize);
    for _ in 0..nfields {
        master_fields.push(elem_bytes(elems.get(i), i)?);
        i += 1;
    }
    if elem_int(elems.get(i), i)? != 0 {
        return Err(bad("master entry not terminated"));
    }
    i += 1;
    let mut node = Node::with_master_fields(&master_fields);
    let mut last: Option<StreamId> = None;
    while i < elems.len() {
        let start = i;
        let flags = elem_int(elems.get(i), i)?;
        let ms = elem_int(elems.get(i + 1), i + 1)?;
        let seq = elem_int(elems.get(i + 2), i + 2)?;
        i += 3;
        let id = StreamId::new(
            master.ms.wrapping_add(ms as u64),
            master.seq.wrapping_add(seq as u64),
        );
        if id < master || last.is_some_and(|l| id <= l) {
            return Err(bad("entry IDs out of order"));
        }
        last = Some(id);
        let same = flags & FLAG_SAMEFIELDS != 0;
        let mut fields = Vec::new();
        if same {
            for f in &master_fields {
                fields.push(f.clone());
                fields.push(elem_bytes(elems.get(i), i)?);
                i += 1;
            }
        } else {
            let n = elem_int(elems.get(i), i)?;
            i += 1;
            if n < 0 || n as usize > elems.len() {
                return Err(bad("bad field count"));
            }
            for _ in 0..n * 2 {
                fields.push(elem_bytes(elems.get(i), i)?);
                i += 1;
            }
        }
        let count = elem_int(elems.get(i), i)?;
        i += 1;
        if count != (i - start - 1) as i64 {
            return Err(bad("bad entry element count"));
        }
        node.push_entry(
            master,
            &Entry {
                id,
                deleted: flags & FLAG_DELETED != 0,
                same_fields: same,
                fields,
            },
        );
    }
    if node.live != live as u64 || node.deleted != deleted as u64 {
        return Err(bad("entry counts do not match"));
    }
    Ok(node)
}

/// The consumer-group part of a stream as the writer needs it.
pub(crate) fn write_groups(
    s: &StreamValue,
    out: &mut Vec<u8>,
    push_len: fn(&mut Vec<u8>, u64),
    push_str: &dyn Fn(&mut Vec<u8>, &[u8]),
) {
    push_len(out, s.groups.len() as u64);
    for (name, g) in &s.groups {
        push_str(out, name);
        push_len(out, g.last_id.ms);
        push_len(out, g.last_id.seq);
        push_len(out, g.entries_read as u64);
        push_len(out, g.pel.len() as u64);
        for (id, nack) in &g.pel {
            out.extend_from_slice(&id.encode());
            out.extend_from_slice(&nack.delivery_time.to_le_bytes());
            push_len(out, nack.delivery_count);
        }
        push_len(out, g.consumers.len() as u64);
        for (cname, c) in &g.consumers {
            push_str(out, cname);
            out.extend_from_slice(&c.seen_time.to_le_bytes());
            push_len(out, c.pel.len() as u64);
            for id in &c.pel {
                out.extend_from_slice(&id.encode());
            }
        }
    }
}
