//! Client-side caching, the server's half: CLIENT TRACKING / CACHING / GETREDIR /
//! TRACKINGINFO, and the delivery of invalidations (Redis's tracking.c
//! sendTrackingMessage) that the engine's table (`core/src/tracking.rs`) asks for.
//!
//! An invalidation goes to the client's mailbox as a RESP3 push
//! (`>2 invalidate [keys]`), or, when it redirects to another client, to that
//! client: a push if it speaks RESP3, a `message` on `__redis__:invalidate` if it
//! is a RESP2 subscriber, nothing otherwise. A redirection to a client that is gone
//! marks the tracking client broken and, in RESP3, tells it
//! (`tracking-redir-broken`). Each client's switches live in its handle
//! ([`TrackState`]) so that any thread can deliver to it.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering::Relaxed;

use bytes::BytesMut;
use ferrokv_core::args::is_kw;
use ferrokv_core::ctx::Ctx;
use ferrokv_core::tracking::{prefixes_overlap, Broadcast, Invalidation, TrackingMode};
use ferrokv_core::{CmdError, CmdResult};

use crate::clients::ClientHandle;
use crate::cmds::state;
use crate::state::ServerState;

/// A client's tracking switches as others need them to deliver to it.
#[derive(Debug, Clone, Default)]
pub struct TrackState {
    /// CLIENT TRACKING ON.
    pub on: bool,
    /// BCAST mode.
    pub bcast: bool,
    /// OPTIN mode.
    pub optin: bool,
    /// OPTOUT mode.
    pub optout: bool,
    /// NOLOOP: not told of its own changes.
    pub noloop: bool,
    /// The client it redirects to went away (flag `R`).
    pub broken: bool,
    /// REDIRECT target (0: none).
    pub redirect: u64,
    /// BCAST prefixes.
    pub prefixes: BTreeSet<Vec<u8>>,
}

/// What an invalidation carries.
enum Payload<'a> {
    /// These keys.
    Keys(&'a [&'a [u8]]),
    /// Every key (a flush): a null, in the tracking client's protocol.
    All,
}

fn is_resp3(h: &ClientHandle) -> bool {
    h.resp.load(Relaxed) == 3
}

/// Sends one invalidation on behalf of tracking client `h` (Redis's
/// sendTrackingMessage).
fn send(st: &ServerState, h: &ClientHandle, redirect: u64, payload: Payload<'_>) {
    send_to(st, h, redirect, payload, None);
}

/// [`send`], with the reply buffer of the client whose command is about to run:
/// a message for that client itself is written there, ahead of its reply (Redis
/// writes it to the client's output at once), rather than posted to its mailbox.
fn send_to(
    st: &ServerState,
    h: &ClientHandle,
    redirect: u64,
    payload: Payload<'_>,
    current: Option<(u64, &mut BytesMut)>,
) {
    let own_resp3 = is_resp3(h);
    let target;
    let to: &ClientHandle = if redirect != 0 {
        match st.clients.get(redirect) {
            Some(r) => {
                target = r;
                &target
            }
            None => {
                h.tracking.lock().broken = true;
                if own_resp3 {
                    let mut b = BytesMut::new();
                    b.extend_from_slice(b">2\r\n$21\r\ntracking-redir-broken\r\n:");
                    b.extend_from_slice(itoa::Buffer::new().format(redirect).as_bytes());
                    b.extend_from_slice(b"\r\n");
                    crate::pubsub::deliver(h, b.freeze());
                }
                return;
            }
        }
    } else {
        h
    };
    let mut b = BytesMut::new();
    if is_resp3(to) {
        b.extend_from_slice(b">2\r\n$10\r\ninvalidate\r\n");
    } else if redirect != 0 && to.subs.total() > 0 {
        b.extend_from_slice(b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n");
    } else {
        // RESP2 without redirection has no way to carry it.
        return;
    }
    match payload {
        Payload::Keys(keys) => {
            b.extend_from_slice(b"*");
            b.extend_from_slice(itoa::Buffer::new().format(keys.len()).as_bytes());
            b.extend_from_slice(b"\r\n");
            for k in keys {
                b.extend_from_slice(b"$");
                b.extend_from_slice(itoa::Buffer::new().format(k.len()).as_bytes());
                b.extend_from_slice(b"\r\n");
                b.extend_from_slice(k);
                b.extend_from_slice(b"\r\n");
            }
        }
        // The null of the tracking client's protocol, whoever receives it (as
        // Redis builds it).
        Payload::All => b.extend_from_slice(if own_resp3 { b"_\r\n" } else { b"$-1\r\n" }),
    }
    match current {
        Some((id, out)) if id == to.id => out.extend_from_slice(&b),
        _ => crate::pubsub::deliver(to, b.freeze()),
    }
}

/// `ServerHooks::invalidate`: keys that changed, to the clients that may cache
/// them.
pub fn invalidate(st: &ServerState, current: u64, list: &[Invalidation]) {
    invalidate_keys(st, current, list, None);
}

/// `ServerHooks::tracking_limited`: keys taken out of the table to keep it within
/// tracking-table-max-keys, before client `current`'s command runs. As for a
/// change, NOLOOP holds back the message to `current` itself (Redis compares the
/// target with its current client); what `current` is to hear goes into `out`,
/// before its reply.
pub fn limited(st: &ServerState, current: u64, list: &[Invalidation], out: &mut BytesMut) {
    invalidate_keys(st, current, list, Some(out));
}

/// Each key to each of its tracking clients; with `out`, a message for `current`
/// itself is written there instead of its mailbox.
fn invalidate_keys(
    st: &ServerState,
    current: u64,
    list: &[Invalidation],
    mut out: Option<&mut BytesMut>,
) {
    for inv in list {
        for &id in &inv.clients {
            let Some(h) = st.clients.get(id) else {
                continue;
            };
            let redirect = {
                let t = h.tracking.lock();
                // Gone from tracking, or since switched to BCAST: nothing.
                if !t.on || t.bcast || (t.noloop && id == current) {
                    continue;
                }
                t.redirect
            };
            let own = out.as_deref_mut().map(|o| (current, o));
            send_to(st, &h, redirect, Payload::Keys(&[&inv.key]), own);
        }
    }
}

/// `ServerHooks::invalidate_all`: a flush; every tracking client is told.
pub fn invalidate_all(st: &ServerState) {
    if st.engine.tracking.clients() == 0 {
        return;
    }
    for h in st.clients.all() {
        let redirect = {
            let t = h.tracking.lock();
            if !t.on {
                continue;
            }
            t.redirect
        };
        send(st, &h, redirect, Payload::All);
    }
}

/// `ServerHooks::broadcast`: each prefix's changed keys to its BCAST clients,
/// without the keys a NOLOOP client changed itself.
pub fn broadcast(st: &ServerState, batches: Vec<Broadcast>) {
    for b in &batches {
        for &id in &b.clients {
            let Some(h) = st.clients.get(id) else {
                continue;
            };
            let (noloop, redirect) = {
                let t = h.tracking.lock();
                if !t.on {
                    continue;
                }
                (t.noloop, t.redirect)
            };
            let keys: Vec<&[u8]> = b
                .keys
                .iter()
                .filter(|(_, by)| !noloop || *by != id)
                .map(|(k, _)| k.as_slice())
                .collect();
            if !keys.is_empty() {
                send(st, &h, redirect, Payload::Keys(&keys));
            }
        }
    }
}

/// Turns tracking off for `h` (CLIENT TRACKING OFF, RESET, disconnect).
pub fn disable(st: &ServerState, h: &ClientHandle) {
    let mut t = h.tracking.lock();
    if !t.on {
        return;
    }
    if t.bcast {
        let prefixes: Vec<Vec<u8>> = t.prefixes.iter().cloned().collect();
        st.engine.tracking.remove_prefixes(h.id, &prefixes);
    }
    *t = TrackState::default();
    drop(t);
    h.mem
        .prefixes
        .store(0, std::sync::atomic::Ordering::Relaxed);
    st.engine.tracking.client_off();
}

fn own_handle(ctx: &Ctx<'_, '_>, st: &ServerState) -> CmdResult<std::sync::Arc<ClientHandle>> {
    st.clients
        .get(ctx.client.id)
        .ok_or_else(|| CmdError::Other("client not registered".into()))
}

/// CLIENT TRACKING ON|OFF [REDIRECT id] [BCAST] [PREFIX p ...] [OPTIN] [OPTOUT]
/// [NOLOOP], checked in Redis's order.
pub fn client_tracking(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let st = state(ctx)?;
    let (mut redirect, mut bcast, mut optin, mut optout, mut noloop) =
        (0i64, false, false, false, false);
    let mut prefixes: Vec<&[u8]> = Vec::new();
    let mut j = 3;
    while j < args.len() {
        let more = j + 1 < args.len();
        let a = args[j];
        if is_kw(a, "redirect") && more {
            j += 1;
            if redirect != 0 {
                return Err(CmdError::Other(
                    "A client can only redirect to a single other client".into(),
                ));
            }
            redirect = ferrokv_core::args::int_arg(args[j])?;
            let exists = u64::try_from(redirect).is_ok_and(|id| st.clients.get(id).is_some());
            if !exists {
                return Err(CmdError::Other(
                    "The client ID you want redirect to does not exist".into(),
                ));
            }
        } else if is_kw(a, "bcast") {
            bcast = true;
        } else if is_kw(a, "optin") {
            optin = true;
        } else if is_kw(a, "optout") {
            optout = true;
        } else if is_kw(a, "noloop") {
            noloop = true;
        } else if is_kw(a, "prefix") && more {
            j += 1;
            prefixes.push(args[j]);
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let h = own_handle(ctx, st)?;
    if is_kw(args[2], "on") {
        if !bcast && !prefixes.is_empty() {
            return Err(CmdError::Other(
                "PREFIX option requires BCAST mode to be enabled".into(),
            ));
        }
        let current = h.tracking.lock().clone();
        if current.on && current.bcast != bcast {
            return Err(CmdError::Other("You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.".into()));
        }
        if bcast && (optin || optout) {
            return Err(CmdError::Other(
                "OPTIN and OPTOUT are not compatible with BCAST".into(),
            ));
        }
        if optin && optout {
            return Err(CmdError::Other(
                "You can't specify both OPTIN mode and OPTOUT mode".into(),
            ));
        }
        if (optin && current.optout) || (optout && current.optin) {
            return Err(CmdError::Other("You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.".into()));
        }
        if bcast {
            check_prefixes(&current.prefixes, &prefixes)?;
        }
        let mut t = h.tracking.lock();
        if !t.on {
            st.engine.tracking.client_on();
        }
        t.on = true;
        t.broken = false;
        t.bcast = bcast;
        t.optin = optin;
        t.optout = optout;
        t.noloop = noloop;
        t.redirect = redirect as u64;
        if bcast {
            let list: Vec<&[u8]> = if prefixes.is_empty() {
                vec![b""]
            } else {
                prefixes
            };
            for p in list {
                if t.prefixes.insert(p.to_vec()) {
                    st.engine.tracking.add_prefix(h.id, p);
                    h.mem.prefixes.fetch_add(
                        crate::client_mem::prefixes_mem(1, p.len()),
                        std::sync::atomic::Ordering::Relaxed,
                    );
                }
            }
        }
        // CLIENT CACHING given before stays (Redis keeps its flag).
        let caching = ctx.client.tracking.is_some_and(|m| m.caching);
        ctx.client.tracking = Some(TrackingMode {
            bcast,
            optin,
            optout,
            caching,
        });
    } else if is_kw(args[2], "off") {
        disable(st, &h);
        ctx.client.tracking = None;
    } else {
        return Err(CmdError::Syntax);
    }
    ctx.out.ok();
    Ok(())
}

/// Redis's checkPrefixCollisionsOrReply: no new prefix may overlap one the
/// client has, nor a later one of the same command.
fn check_prefixes(existing: &BTreeSet<Vec<u8>>, new: &[&[u8]]) -> CmdResult {
    for (i, p) in new.iter().enumerate() {
        if let Some(old) = existing.iter().find(|old| prefixes_overlap(old, p)) {
            return Err(CmdError::Other(format!(
                "Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single client must not overlap.",
                String::from_utf8_lossy(p),
                String::from_utf8_lossy(old)
            )));
        }
        if let Some(other) = new[i + 1..].iter().find(|q| prefixes_overlap(p, q)) {
            return Err(CmdError::Other(format!(
                "Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a single client must not overlap.",
                String::from_utf8_lossy(p),
                String::from_utf8_lossy(other)
            )));
        }
    }
    Ok(())
}

/// CLIENT CACHING YES|NO.
pub fn client_caching(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let Some(mode) = &mut ctx.client.tracking else {
        return Err(CmdError::Other("CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled".into()));
    };
    if is_kw(args[2], "yes") {
        if !mode.optin {
            return Err(CmdError::Other(
                "CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.".into(),
            ));
        }
    } else if is_kw(args[2], "no") {
        if !mode.optout {
            return Err(CmdError::Other(
                "CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.".into(),
            ));
        }
    } else {
        return Err(CmdError::Syntax);
    }
    mode.caching = true;
    ctx.out.ok();
    Ok(())
}

/// CLIENT GETREDIR: the redirection (0: none), -1 while tracking is off.
pub fn client_getredir(ctx: &mut Ctx<'_, '_>, _args: &[&[u8]]) -> CmdResult {
    let st = state(ctx)?;
    let t = own_handle(ctx, st)?.tracking.lock().clone();
    ctx.out.int(if t.on { t.redirect as i64 } else { -1 });
    Ok(())
}

/// CLIENT TRACKINGINFO: flags, redirect, prefixes.
pub fn client_trackinginfo(ctx: &mut Ctx<'_, '_>, _args: &[&[u8]]) -> CmdResult {
    let st = state(ctx)?;
    let t = own_handle(ctx, st)?.tracking.lock().clone();
    let caching = ctx.client.tracking.is_some_and(|m| m.caching);
    let mut flags: Vec<&[u8]> = vec![if t.on { b"on" } else { b"off" }];
    if t.bcast {
        flags.push(b"bcast");
    }
    if t.optin {
        flags.push(b"optin");
        if caching {
            flags.push(b"caching-yes");
        }
    }
    if t.optout {
        flags.push(b"optout");
        if caching {
            flags.push(b"caching-no");
        }
    }
    if t.noloop {
        flags.push(b"noloop");
    }
    if t.broken {
        flags.push(b"broken_redirect");
    }
    ctx.out.map(3);
    ctx.out.bulk(b"flags");
    ctx.out.set(flags.len());
    for f in flags {
        ctx.out.bulk(f);
    }
    ctx.out.bulk(b"redirect");
    ctx.out.int(if t.on { t.redirect as i64 } else { -1 });
    ctx.out.bulk(b"prefixes");
    ctx.out.array(t.prefixes.len());
    for p in &t.prefixes {
        ctx.out.bulk(p);
    }
    Ok(())
}
