//! The pseudo-random generator behind `math.random` in scripts: Redis replaces
//! Lua's (libc `rand()`) with a 48-bit linear congruential generator so that a
//! script sees the same sequence on every platform. Same constants as POSIX
//! `lrand48` (multiplier 0x5DEECE66D, increment 11), same seeding, and, as in
//! Redis 7.0, one generator for the whole server that nothing reseeds between
//! scripts (only `math.randomseed`).

/// The generator's 48-bit state.
#[derive(Debug, Clone, Copy)]
pub struct Rand48(u64);

const MASK: u64 = (1 << 48) - 1;
/// The state before any seeding (lrand48's documented initial value).
const INITIAL: u64 = 0x1234_ABCD_330E;

impl Default for Rand48 {
    fn default() -> Self {
        Rand48(INITIAL)
    }
}

impl Rand48 {
    /// The next value, in `0..2^31`.
    pub fn next(&mut self) -> i32 {
        self.0 = (self.0.wrapping_mul(0x5_DEEC_E66D).wrapping_add(0xB)) & MASK;
        (self.0 >> 17) as i32
    }

    /// `srand48(seed)`: the low 32 bits of the seed above the fixed 0x330E.
    pub fn seed(&mut self, seed: i32) {
        self.0 = ((seed as u32 as u64) << 16) | 0x330E;
    }
}

/// Redis's REDIS_LRAND48_MAX: the generator's values are below it.
pub const LRAND48_MAX: i32 = i32::MAX;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_posix_lrand48() {
        // glibc's lrand48() after srand48(0) gives 366850414, 1610402240.
        let mut r = Rand48::default();
        r.seed(0);
        assert_eq!((r.next(), r.next()), (366850414, 1610402240));
    }
}
