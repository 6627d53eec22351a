//! The 24-bit access field of every key: the LRU clock (seconds) or, under an LFU
//! maxmemory policy, Redis's logarithmic counter (8 bits) and the minute of its last
//! decrement (16 bits).

use rand::Rng;

/// Counter value of a new key under LFU (Redis's LFU_INIT_VAL).
pub const LFU_INIT: u32 = 5;

/// How an access updates the field, fixed once per command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// LRU: store the clock (seconds, 24 bits).
    Lru(u32),
    /// LFU: decay by elapsed periods, then maybe increment.
    Lfu {
        /// Current time in minutes, 16 bits.
        minutes: u32,
        /// lfu-log-factor.
        log_factor: u32,
        /// lfu-decay-time in minutes.
        decay: u32,
    },
}

impl Access {
    /// The field of a newly created key.
    pub fn initial(self) -> u32 {
        match self {
            Access::Lru(clock) => clock,
            Access::Lfu { minutes, .. } => (minutes << 8) | LFU_INIT,
        }
    }

    /// The field after an access.
    pub fn touch(self, old: u32) -> u32 {
        match self {
            Access::Lru(clock) => clock,
            Access::Lfu {
                minutes,
                log_factor,
                decay,
            } => {
                let counter = lfu_decayed(old, minutes, decay);
                let counter = lfu_log_incr(counter, log_factor);
                (minutes << 8) | counter
            }
        }
    }
}

/// Minutes clock, 16 bits (Redis's LFUGetTimeInMinutes).
pub fn lfu_minutes(now_ms: i64) -> u32 {
    ((now_ms / 60_000) as u64 & 0xFFFF) as u32
}

/// The counter after decaying by the periods elapsed since its last decrement.
pub fn lfu_decayed(field: u32, now_minutes: u32, decay: u32) -> u32 {
    let last = field >> 8;
    let counter = field & 0xFF;
    let elapsed = if now_minutes >= last {
        now_minutes - last
    } else {
        65535 - last + now_minutes
    };
    let periods = elapsed.checked_div(decay).unwrap_or(0);
    counter.saturating_sub(periods)
}

/// Logarithmic increment: the higher the counter, the less likely it grows.
fn lfu_log_incr(counter: u32, log_factor: u32) -> u32 {
    if counter >= 255 {
        return 255;
    }
    let r: f64 = rand::thread_rng().gen();
    let base = counter.saturating_sub(LFU_INIT) as f64;
    let p = 1.0 / (base * f64::from(log_factor) + 1.0);
    if r < p {
        counter + 1
    } else {
        counter
    }
}
