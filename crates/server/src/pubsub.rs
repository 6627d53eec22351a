//! Pub/Sub: SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE and their UNSUBSCRIBEs, PUBLISH,
//! SPUBLISH, PUBSUB introspection, and the publication of keyspace events
//! (`__keyspace@<db>__:<key>` / `__keyevent@<db>__:<event>`).
//!
//! The registry maps each channel (and shard channel) to its subscribers' handles,
//! split in shards by channel hash under read-write locks, so publishers to
//! different channels, or to the same one, do not serialize on one lock; patterns
//! are one map, skipped without a lock while none is subscribed. A message is
//! encoded once per protocol and posted, as shared bytes, to each subscriber's
//! mailbox (`mailbox.rs`), which its own connection writes: the fan-out's socket
//! writes run on the subscribers' threads. One publisher's messages reach every
//! subscriber in publish order (one mailbox is FIFO). A subscriber that does not
//! read is closed at its output-buffer limit (pubsub class) instead of growing the
//! server's memory.
//!
//! Each client's own subscriptions are in its handle ([`ClientSubs`]), in the order
//! it made them (an UNSUBSCRIBE without arguments confirms them in that order);
//! `Client::subscriptions` counts them all for the admission of RESP2 subscribed
//! mode.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use ferrokv_core::commands::{reply_help, Admit, CommandDef, Locks};
use ferrokv_core::ctx::Ctx;
use ferrokv_core::glob::glob_match;
use ferrokv_core::notify::{Class, KeyEvent};
use ferrokv_core::{CmdError, CmdResult};
use ferrokv_resp::Protocol;
use parking_lot::{Mutex, RwLock};

use crate::clients::ClientHandle;
use crate::cmds::state;
use crate::state::ServerState;

/// No shard lock: these commands do not touch the keyspace (SSUBSCRIBE's and
/// SPUBLISH's "keys" are shard channels).
fn no_locks(_: &[&[u8]], _: usize, _: usize) -> Vec<ferrokv_core::keyspace::LockId> {
    Vec::new()
}

/// The Pub/Sub commands.
pub static COMMANDS: &[CommandDef] = &[
    CommandDef::new("subscribe", subscribe).admit(Admit::SUBSCRIBED),
    CommandDef::new("unsubscribe", unsubscribe).admit(Admit::SUBSCRIBED),
    CommandDef::new("psubscribe", psubscribe).admit(Admit::SUBSCRIBED),
    CommandDef::new("punsubscribe", punsubscribe).admit(Admit::SUBSCRIBED),
    CommandDef::with_locks("ssubscribe", ssubscribe, Locks::Custom(no_locks))
        .admit(Admit::SUBSCRIBED),
    CommandDef::with_locks("sunsubscribe", sunsubscribe, Locks::Custom(no_locks))
        .admit(Admit::SUBSCRIBED),
    CommandDef::new("publish", publish),
    CommandDef::with_locks("spublish", spublish, Locks::Custom(no_locks)),
    CommandDef::new("pubsub|channels", pubsub_channels),
    CommandDef::new("pubsub|numsub", pubsub_numsub),
    CommandDef::new("pubsub|numpat", pubsub_numpat),
    CommandDef::new("pubsub|shardchannels", pubsub_shardchannels),
    CommandDef::new("pubsub|shardnumsub", pubsub_shardnumsub),
    CommandDef::new("pubsub|help", pubsub_help),
];

/// The three kinds of subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// SUBSCRIBE.
    Channel = 0,
    /// PSUBSCRIBE.
    Pattern = 1,
    /// SSUBSCRIBE.
    Shard = 2,
}

/// One client's subscriptions of one kind, in the order made.
#[derive(Default)]
struct SubSet {
    names: HashMap<Bytes, u64, foldhash::fast::RandomState>,
    next: u64,
}

impl SubSet {
    fn insert(&mut self, name: &Bytes) -> bool {
        if self.names.contains_key(name) {
            return false;
        }
        self.next += 1;
        self.names.insert(name.clone(), self.next);
        true
    }

    fn in_order(&self) -> Vec<Bytes> {
        let mut v: Vec<(&Bytes, &u64)> = self.names.iter().collect();
        v.sort_by_key(|(_, seq)| **seq);
        v.into_iter().map(|(n, _)| n.clone()).collect()
    }
}

/// A client's subscriptions (in its handle): changed by its own commands, counted
/// for CLIENT LIST (`sub`, `psub`, `ssub`).
#[derive(Default)]
pub struct ClientSubs {
    sets: Mutex<[SubSet; 3]>,
    counts: [AtomicUsize; 3],
}

impl ClientSubs {
    /// Subscriptions of `kind`.
    pub fn count(&self, kind: Kind) -> usize {
        self.counts[kind as usize].load(Relaxed)
    }

    /// Channels + patterns + shard channels (Redis's CLIENT_PUBSUB while > 0).
    pub fn total(&self) -> usize {
        self.counts.iter().map(|c| c.load(Relaxed)).sum()
    }

    /// Its subscriptions of `kind`.
    pub fn names(&self, kind: Kind) -> Vec<Bytes> {
        self.sets.lock()[kind as usize].in_order()
    }

    /// What SUBSCRIBE/PSUBSCRIBE confirmations count: channels + patterns.
    fn global(&self) -> usize {
        self.count(Kind::Channel) + self.count(Kind::Pattern)
    }
}

type Subscribers = Vec<Arc<ClientHandle>>;
type ChannelMap = HashMap<Bytes, Subscribers, foldhash::fast::RandomState>;

const SLOTS: usize = 64;

#[derive(Default)]
#[repr(align(64))]
struct Slot {
    map: RwLock<ChannelMap>,
}

/// Every subscription of the server.
pub struct PubSub {
    channels: Box<[Slot]>,
    shard_channels: Box<[Slot]>,
    patterns: RwLock<ChannelMap>,
    /// Channels, patterns and shard channels with at least one subscriber.
    counts: [AtomicUsize; 3],
}

impl Default for PubSub {
    fn default() -> Self {
        let slots = || (0..SLOTS).map(|_| Slot::default()).collect();
        PubSub {
            channels: slots(),
            shard_channels: slots(),
            patterns: RwLock::new(HashMap::default()),
            counts: Default::default(),
        }
    }
}

fn slot_of(name: &[u8]) -> usize {
    (ferrokv_core::keyspace::hash_key(name) >> 24) as usize % SLOTS
}

/// Appends `$<len>\r\n<bytes>\r\n`.
fn put_bulk(b: &mut BytesMut, bytes: &[u8]) {
    b.put_u8(b'$');
    b.extend_from_slice(itoa::Buffer::new().format(bytes.len()).as_bytes());
    b.extend_from_slice(b"\r\n");
    b.extend_from_slice(bytes);
    b.extend_from_slice(b"\r\n");
}

/// `*n` (RESP2) or `>n` (RESP3) followed by bulks, in an allocation of its own
/// (a letter's bytes are what its mailbox counts against the client's limit).
fn encode(proto: Protocol, parts: &[&[u8]]) -> Bytes {
    let len: usize = parts.iter().map(|p| p.len() + 24).sum::<usize>() + 8;
    let mut b = BytesMut::with_capacity(len);
    b.put_u8(if proto == Protocol::Resp3 { b'>' } else { b'*' });
    b.extend_from_slice(itoa::Buffer::new().format(parts.len()).as_bytes());
    b.extend_from_slice(b"\r\n");
    for p in parts {
        put_bulk(&mut b, p);
    }
    b.freeze()
}

/// One message encoded lazily for each protocol, shared by every recipient.
struct Letter<'a> {
    parts: [&'a [u8]; 3],
    encoded: [Option<Bytes>; 2],
}

impl<'a> Letter<'a> {
    fn new(parts: [&'a [u8]; 3]) -> Self {
        Letter {
            parts,
            encoded: [None, None],
        }
    }

    fn send(&mut self, h: &ClientHandle) {
        let resp3 = h.resp.load(Relaxed) == 3;
        let slot = &mut self.encoded[usize::from(resp3)];
        let bytes = slot.get_or_insert_with(|| {
            let proto = if resp3 {
                Protocol::Resp3
            } else {
                Protocol::Resp2
            };
            encode(proto, &self.parts)
        });
        deliver(h, bytes.clone());
    }
}

/// Posts `letter` to `h`, logging the close of a client over its output-buffer
/// limit as Redis does.
pub fn deliver(h: &ClientHandle, letter: Bytes) {
    deliver_letter(h, crate::mailbox::Letter::Raw(letter));
}

fn deliver_letter(h: &ClientHandle, letter: crate::mailbox::Letter) {
    if h.mailbox.post_letter(letter) == crate::mailbox::Posted::OverLimit {
        log_overflow(h);
    }
}

/// Redis's warning for a client closed over its output-buffer limits.
pub fn log_overflow(h: &ClientHandle) {
    tracing::warn!(
        "Client {} scheduled to be closed ASAP for overcoming of output buffer limits.",
        h.describe()
    );
}

impl PubSub {
    fn slots(&self, kind: Kind) -> &[Slot] {
        match kind {
            Kind::Shard => &self.shard_channels,
            _ => &self.channels,
        }
    }

    fn with_map<R>(&self, kind: Kind, name: &[u8], f: impl FnOnce(&mut ChannelMap) -> R) -> R {
        match kind {
            Kind::Pattern => f(&mut self.patterns.write()),
            _ => f(&mut self.slots(kind)[slot_of(name)].map.write()),
        }
    }

    /// Subscribes `h` to `name`; false if it already was.
    pub fn subscribe(&self, h: &Arc<ClientHandle>, kind: Kind, name: &[u8]) -> bool {
        let name = Bytes::copy_from_slice(name);
        let mut sets = h.subs.sets.lock();
        if !sets[kind as usize].insert(&name) {
            return false;
        }
        h.subs.counts[kind as usize].fetch_add(1, Relaxed);
        self.with_map(kind, &name, |map| {
            let subs = map.entry(name.clone()).or_default();
            if subs.is_empty() {
                self.counts[kind as usize].fetch_add(1, Relaxed);
            }
            subs.push(h.clone());
        });
        true
    }

    /// Unsubscribes `h` from `name`; false if it was not subscribed.
    pub fn unsubscribe(&self, h: &ClientHandle, kind: Kind, name: &[u8]) -> bool {
        let mut sets = h.subs.sets.lock();
        if sets[kind as usize].names.remove(name).is_none() {
            return false;
        }
        h.subs.counts[kind as usize].fetch_sub(1, Relaxed);
        drop(sets);
        self.remove_from_registry(h.id, kind, name);
        true
    }

    fn remove_from_registry(&self, id: u64, kind: Kind, name: &[u8]) {
        self.with_map(kind, name, |map| {
            if let Some(subs) = map.get_mut(name) {
                subs.retain(|s| s.id != id);
                if subs.is_empty() {
                    map.remove(name);
                    self.counts[kind as usize].fetch_sub(1, Relaxed);
                }
            }
        });
    }

    /// Unsubscribes `h` from everything of `kind`; returns the names, in the
    /// order they were subscribed.
    pub fn unsubscribe_all(&self, h: &ClientHandle, kind: Kind) -> Vec<Bytes> {
        let mut sets = h.subs.sets.lock();
        let names = sets[kind as usize].in_order();
        sets[kind as usize] = SubSet::default();
        h.subs.counts[kind as usize].store(0, Relaxed);
        drop(sets);
        for n in &names {
            self.remove_from_registry(h.id, kind, n);
        }
        names
    }

    /// A client goes (disconnect, RESET): out of every subscription.
    pub fn drop_client(&self, h: &ClientHandle) {
        if h.subs.total() == 0 {
            return;
        }
        for kind in [Kind::Channel, Kind::Pattern, Kind::Shard] {
            self.unsubscribe_all(h, kind);
        }
    }

    /// Whether nobody is subscribed to anything.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.counts.iter().all(|c| c.load(Relaxed) == 0)
    }

    /// Channels (of `kind`) with subscribers.
    pub fn count(&self, kind: Kind) -> usize {
        self.counts[kind as usize].load(Relaxed)
    }

    /// PUBLISH / SPUBLISH: `message` to the subscribers of `channel` and, unless
    /// sharded, of every matching pattern; returns how many received it.
    pub fn publish(&self, channel: &[u8], message: &[u8], sharded: bool) -> usize {
        let mut receivers = 0;
        let kind = if sharded { Kind::Shard } else { Kind::Channel };
        if self.count(kind) > 0 {
            let map = self.slots(kind)[slot_of(channel)].map.read();
            if let Some(subs) = map.get(channel) {
                let head: &[u8] = if sharded { b"smessage" } else { b"message" };
                let mut letter = Letter::new([head, channel, message]);
                for h in subs {
                    letter.send(h);
                }
                receivers += subs.len();
            }
        }
        if !sharded && self.count(Kind::Pattern) > 0 {
            let patterns = self.patterns.read();
            // Channel and message, shared by every pattern subscriber.
            let mut tail: Option<Bytes> = None;
            for (pattern, subs) in patterns.iter() {
                if !glob_match(pattern, channel, false) {
                    continue;
                }
                let tail = tail.get_or_insert_with(|| {
                    let mut b = BytesMut::with_capacity(channel.len() + message.len() + 32);
                    put_bulk(&mut b, channel);
                    put_bulk(&mut b, message);
                    b.freeze()
                });
                for h in subs {
                    deliver_letter(
                        h,
                        crate::mailbox::Letter::PMessage {
                            resp3: h.resp.load(Relaxed) == 3,
                            pattern: pattern.clone(),
                            tail: tail.clone(),
                        },
                    );
                }
                receivers += subs.len();
            }
        }
        receivers
    }

    /// The channels (of `kind`) with subscribers that match `pattern`.
    fn list(&self, kind: Kind, pattern: Option<&[u8]>) -> Vec<Bytes> {
        let mut out = Vec::new();
        for slot in self.slots(kind).iter() {
            for name in slot.map.read().keys() {
                if pattern.is_none_or(|p| glob_match(p, name, false)) {
                    out.push(name.clone());
                }
            }
        }
        out
    }

    /// Subscribers of `channel` (of `kind`).
    fn subscribers(&self, kind: Kind, channel: &[u8]) -> usize {
        self.slots(kind)[slot_of(channel)]
            .map
            .read()
            .get(channel)
            .map_or(0, Vec::len)
    }

    /// Publishes keyspace events (Redis's notifyKeyspaceEvent): for each, on
    /// `__keyspace@<db>__:<key>` the event name (flag K), then on
    /// `__keyevent@<db>__:<event>` the key (flag E).
    pub fn keyspace_events(&self, flags: u32, events: &[KeyEvent]) {
        if self.count(Kind::Channel) == 0 && self.count(Kind::Pattern) == 0 {
            return;
        }
        let keyspace = flags & Class::KEYSPACE.0 != 0;
        let keyevent = flags & Class::KEYEVENT.0 != 0;
        let mut chan = Vec::with_capacity(64);
        for (db, key, ev) in events {
            let head = |prefix: &[u8], chan: &mut Vec<u8>| {
                chan.clear();
                chan.extend_from_slice(prefix);
                chan.extend_from_slice(itoa::Buffer::new().format(*db).as_bytes());
                chan.extend_from_slice(b"__:");
            };
            if keyspace {
                head(b"__keyspace@", &mut chan);
                chan.extend_from_slice(key);
                self.publish(&chan, ev.name.as_bytes(), false);
            }
            if keyevent {
                head(b"__keyevent@", &mut chan);
                chan.extend_from_slice(ev.name.as_bytes());
                self.publish(&chan, key, false);
            }
        }
    }
}

/// The handle of the client running the command.
fn own_handle(ctx: &Ctx<'_, '_>, st: &ServerState) -> CmdResult<Arc<ClientHandle>> {
    st.clients
        .get(ctx.client.id)
        .ok_or_else(|| CmdError::Other("client not registered".into()))
}

/// After a (un)subscription: the client's count for admission, and its output
/// buffer class (pubsub while subscribed to anything).
fn subscriptions_changed(ctx: &mut Ctx<'_, '_>, st: &ServerState, h: &ClientHandle) {
    let total = h.subs.total();
    let was = ctx.client.subscriptions;
    ctx.client.subscriptions = total;
    if (was > 0) != (total > 0) {
        crate::obuf::apply_class(st, h);
    }
    // Confirmations are pushes: CLIENT REPLY OFF does not silence them.
    ctx.client.reply.pushing = true;
}

/// A confirmation: kind, name (or null), count.
fn confirm(ctx: &mut Ctx<'_, '_>, what: &[u8], name: Option<&[u8]>, count: usize) {
    ctx.out.push(3);
    ctx.out.bulk(what);
    match name {
        Some(n) => ctx.out.bulk(n),
        None => ctx.out.null(),
    }
    ctx.out.int(count as i64);
}

fn subscribe_kind(ctx: &mut Ctx<'_, '_>, args: &[&[u8]], kind: Kind) -> CmdResult {
    let st = state(ctx)?;
    let h = own_handle(ctx, st)?;
    let what: &[u8] = match kind {
        Kind::Channel => b"subscribe",
        Kind::Pattern => b"psubscribe",
        Kind::Shard => b"ssubscribe",
    };
    for name in &args[1..] {
        st.pubsub.subscribe(&h, kind, name);
        let count = if kind == Kind::Shard {
            h.subs.count(Kind::Shard)
        } else {
            h.subs.global()
        };
        confirm(ctx, what, Some(name), count);
    }
    subscriptions_changed(ctx, st, &h);
    Ok(())
}

fn unsubscribe_kind(ctx: &mut Ctx<'_, '_>, args: &[&[u8]], kind: Kind) -> CmdResult {
    let st = state(ctx)?;
    let h = own_handle(ctx, st)?;
    let what: &[u8] = match kind {
        Kind::Channel => b"unsubscribe",
        Kind::Pattern => b"punsubscribe",
        Kind::Shard => b"sunsubscribe",
    };
    let count = |h: &ClientHandle| {
        if kind == Kind::Shard {
            h.subs.count(Kind::Shard)
        } else {
            h.subs.global()
        }
    };
    if args.len() == 1 {
        // Each one confirmed with the count left after it (Redis unsubscribes one
        // at a time); nothing to leave is still confirmed, with a null name.
        let names = {
            let sets = h.subs.sets.lock();
            sets[kind as usize].in_order()
        };
        if names.is_empty() {
            confirm(ctx, what, None, count(&h));
        }
        for name in names {
            st.pubsub.unsubscribe(&h, kind, &name);
            confirm(ctx, what, Some(&name), count(&h));
        }
    } else {
        for name in &args[1..] {
            st.pubsub.unsubscribe(&h, kind, name);
            confirm(ctx, what, Some(name), count(&h));
        }
    }
    subscriptions_changed(ctx, st, &h);
    Ok(())
}

fn subscribe(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    // Redis refuses it to a client that cannot block, except inside MULTI (for
    // backward compatibility); ferrokv has no such client outside MULTI.
    subscribe_kind(ctx, args, Kind::Channel)
}

fn psubscribe(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    subscribe_kind(ctx, args, Kind::Pattern)
}

fn ssubscribe(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    if ctx.client.in_exec {
        return Err(CmdError::Other(
            "SSUBSCRIBE isn't allowed for a DENY BLOCKING client".into(),
        ));
    }
    subscribe_kind(ctx, args, Kind::Shard)
}

fn unsubscribe(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    unsubscribe_kind(ctx, args, Kind::Channel)
}

fn punsubscribe(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    unsubscribe_kind(ctx, args, Kind::Pattern)
}

fn sunsubscribe(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    unsubscribe_kind(ctx, args, Kind::Shard)
}

fn publish(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let st = state(ctx)?;
    let n = st.pubsub.publish(args[1], args[2], false);
    propagate_to_replicas(ctx, args);
    ctx.out.int(n as i64);
    Ok(())
}

fn spublish(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let st = state(ctx)?;
    let n = st.pubsub.publish(args[1], args[2], true);
    propagate_to_replicas(ctx, args);
    ctx.out.int(n as i64);
    Ok(())
}

/// A message published on a master also reaches the subscribers of its
/// replicas: the command goes down the replication stream, not to the AOF
/// (Redis's forceCommandPropagation(c, PROPAGATE_REPL)); inside MULTI or a
/// script it takes its place among the transaction's effects.
fn propagate_to_replicas(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) {
    if !ctx.client.loading
        && ctx
            .engine
            .propagating
            .load(std::sync::atomic::Ordering::Acquire)
    {
        ctx.hooks
            .propagate_to(&[(ctx.client.db, args)], false, true);
    }
}

fn channel_list(ctx: &mut Ctx<'_, '_>, args: &[&[u8]], kind: Kind) -> CmdResult {
    if args.len() > 3 {
        return Err(CmdError::subcommand_syntax(args));
    }
    let st = state(ctx)?;
    let names = st.pubsub.list(kind, args.get(2).copied());
    ctx.out.array(names.len());
    for n in &names {
        ctx.out.bulk(n);
    }
    Ok(())
}

fn numsub(ctx: &mut Ctx<'_, '_>, args: &[&[u8]], kind: Kind) -> CmdResult {
    let st = state(ctx)?;
    // A flat array of pairs in RESP2 and RESP3 alike, as Redis replies.
    ctx.out.array((args.len() - 2) * 2);
    for ch in &args[2..] {
        ctx.out.bulk(ch);
        ctx.out.int(st.pubsub.subscribers(kind, ch) as i64);
    }
    Ok(())
}

fn pubsub_channels(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    channel_list(ctx, args, Kind::Channel)
}

fn pubsub_shardchannels(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    channel_list(ctx, args, Kind::Shard)
}

fn pubsub_numsub(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    numsub(ctx, args, Kind::Channel)
}

fn pubsub_shardnumsub(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    numsub(ctx, args, Kind::Shard)
}

fn pubsub_numpat(ctx: &mut Ctx<'_, '_>, _args: &[&[u8]]) -> CmdResult {
    let st = state(ctx)?;
    ctx.out.int(st.pubsub.count(Kind::Pattern) as i64);
    Ok(())
}

const HELP: &[&str] = &[
    "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
    "HELP",
    "    Prints this help.",
];

fn pubsub_help(ctx: &mut Ctx<'_, '_>, _args: &[&[u8]]) -> CmdResult {
    reply_help(ctx, HELP);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_encoded_for_each_protocol() {
        let parts: [&[u8]; 3] = [b"message", b"ch", b"hi"];
        assert_eq!(
            &encode(Protocol::Resp2, &parts)[..],
            b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n"
        );
        let parts: [&[u8]; 3] = [b"smessage", b"ch", b""];
        assert_eq!(
            &encode(Protocol::Resp3, &parts)[..],
            b">3\r\n$8\r\nsmessage\r\n$2\r\nch\r\n$0\r\n\r\n"
        );
    }

    #[test]
    fn registry_counts_and_fans_out() {
        let ps = PubSub::default();
        let a = Arc::new(ClientHandle::new(1, None, None, -1, None));
        let b = Arc::new(ClientHandle::new(2, None, None, -1, None));
        b.resp.store(3, Relaxed);
        assert!(ps.subscribe(&a, Kind::Channel, b"ch"));
        assert!(!ps.subscribe(&a, Kind::Channel, b"ch"));
        assert!(ps.subscribe(&b, Kind::Channel, b"ch"));
        assert!(ps.subscribe(&b, Kind::Pattern, b"c*"));
        assert_eq!(ps.count(Kind::Channel), 1);
        assert_eq!(ps.publish(b"ch", b"x", false), 3);
        assert_eq!(ps.publish(b"ch", b"x", true), 0);
        assert_eq!(a.mailbox.queued_letters(), 1);
        assert_eq!(b.mailbox.queued_letters(), 2);
        let mut out = BytesMut::new();
        b.mailbox.drain_into(&mut out);
        assert_eq!(
            &out[..],
            b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$1\r\nx\r\n>4\r\n$8\r\npmessage\r\n$2\r\nc*\r\n$2\r\nch\r\n$1\r\nx\r\n"
        );
        ps.drop_client(&b);
        assert_eq!(ps.count(Kind::Pattern), 0);
        assert_eq!(ps.publish(b"ch", b"x", false), 1);
        assert_eq!(
            ps.unsubscribe_all(&a, Kind::Channel),
            vec![Bytes::from_static(b"ch")]
        );
        assert!(ps.is_empty());
    }
}
