//! CLIENT PAUSE: while a pause is on, the admission step holds the commands it
//! covers (every command for `ALL`; for `WRITE` the writes and the commands that
//! may replicate, judged with a script's declared flags and EXEC's queued ones,
//! as Redis 7.0's processCommand); the server parks their connections with the
//! command still in the query buffer and runs it again, admission included, when
//! the pause ends or changes ([`ClientPause::generation`]). While paused the
//! dataset stays as it is: keys past their TTL read as missing but are not
//! deleted, the active expiry cycle and eviction do not run.
//!
//! Commands pay one relaxed load ([`ClientPause::kind`]) while no pause is on.
//! The pause ends lazily: the first look after its end time clears it.

use std::sync::atomic::{AtomicI64, AtomicU64, AtomicU8, Ordering::Relaxed};

use parking_lot::Mutex;

/// What a pause holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum PauseKind {
    /// Nothing.
    Off = 0,
    /// Writes and commands that may replicate.
    Write = 1,
    /// Every command.
    All = 2,
}

/// Why the server is paused (Redis keeps one pause per purpose and applies the
/// most restrictive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PausePurpose {
    /// CLIENT PAUSE.
    Client = 0,
    /// A failover.
    Internal = 1,
    /// A shutdown waiting for its replicas.
    Shutdown = 2,
}

const PURPOSES: usize = 3;

/// The pause state.
#[derive(Default)]
pub struct ClientPause {
    kind: AtomicU8,
    end_ms: AtomicI64,
    generation: AtomicU64,
    purposes: Mutex<[(u8, i64); PURPOSES]>,
}

impl ClientPause {
    /// Whether a pause may be on (one relaxed load, no clock): the cheap test
    /// before [`kind`](Self::kind).
    #[inline]
    pub fn maybe_on(&self) -> bool {
        self.kind.load(Relaxed) != 0
    }

    /// The pause in force at `now_ms` (ends an expired one).
    #[inline]
    pub fn kind(&self, now_ms: i64) -> PauseKind {
        match self.kind.load(Relaxed) {
            0 => PauseKind::Off,
            _ => self.slow_kind(now_ms),
        }
    }

    #[cold]
    fn slow_kind(&self, now_ms: i64) -> PauseKind {
        if self.end_ms.load(Relaxed) < now_ms {
            self.update(now_ms);
        }
        match self.kind.load(Relaxed) {
            0 => PauseKind::Off,
            1 => PauseKind::Write,
            _ => PauseKind::All,
        }
    }

    /// Whether some pause is on at `now_ms`.
    pub fn active(&self, now_ms: i64) -> bool {
        self.kind(now_ms) != PauseKind::Off
    }

    /// When the pause in force ends (unix ms).
    pub fn end_ms(&self) -> i64 {
        self.end_ms.load(Relaxed)
    }

    /// Changes each time the pause is set, lifted or relaxed: a held command
    /// is worth trying again once it differs from the one it was held under.
    pub fn generation(&self) -> u64 {
        self.generation.load(Relaxed)
    }

    /// Pauses `kind` until `end_ms` for `purpose`; an existing pause of that
    /// purpose keeps the more restrictive kind and the later end (Redis's
    /// pauseClients).
    pub fn pause(&self, purpose: PausePurpose, kind: PauseKind, end_ms: i64, now_ms: i64) {
        {
            let mut p = self.purposes.lock();
            let slot = &mut p[purpose as usize];
            if slot.0 == 0 {
                *slot = (kind as u8, end_ms);
            } else {
                *slot = (slot.0.max(kind as u8), slot.1.max(end_ms));
            }
        }
        self.update(now_ms);
    }

    /// Lifts the pause of `purpose`.
    pub fn unpause(&self, purpose: PausePurpose, now_ms: i64) {
        self.purposes.lock()[purpose as usize] = (0, 0);
        self.update(now_ms);
    }

    /// Recomputes the pause in force: the most restrictive kind of the live
    /// purposes, with the latest end among those of that kind.
    fn update(&self, now_ms: i64) {
        let mut p = self.purposes.lock();
        let mut kind = 0u8;
        for slot in p.iter_mut() {
            if slot.0 != 0 && slot.1 < now_ms {
                *slot = (0, 0);
            }
            kind = kind.max(slot.0);
        }
        let end = p
            .iter()
            .filter(|s| s.0 == kind && kind != 0)
            .map(|s| s.1)
            .max()
            .unwrap_or(0);
        let old = self.kind.swap(kind, Relaxed);
        let old_end = self.end_ms.swap(end, Relaxed);
        if old != kind || old_end != end {
            self.generation.fetch_add(1, Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn most_restrictive_purpose_wins_and_expires() {
        let p = ClientPause::default();
        assert_eq!(p.kind(0), PauseKind::Off);
        p.pause(PausePurpose::Client, PauseKind::Write, 100, 0);
        assert_eq!(p.kind(50), PauseKind::Write);
        let g = p.generation();
        p.pause(PausePurpose::Internal, PauseKind::All, 80, 0);
        assert_eq!(p.kind(50), PauseKind::All);
        assert_ne!(p.generation(), g);
        // The ALL one ends first; WRITE goes on to its own end.
        assert_eq!(p.kind(90), PauseKind::Write);
        assert_eq!(p.kind(101), PauseKind::Off);
        p.pause(PausePurpose::Client, PauseKind::All, 1000, 200);
        p.unpause(PausePurpose::Client, 300);
        assert_eq!(p.kind(300), PauseKind::Off);
    }
}
