//! The compact set encoding ("intset"): sorted integers packed at the narrowest of
//! 16, 32 or 64 bits that holds every member. As in Redis the width only grows
//! (adding a wide value upgrades all members; removing it does not downgrade).

/// Sorted distinct integers.
#[derive(Debug, Clone)]
pub enum Intset {
    /// Every member fits 16 bits.
    I16(Vec<i16>),
    /// 32-bit members.
    I32(Vec<i32>),
    /// 64-bit members.
    I64(Vec<i64>),
}

impl Default for Intset {
    fn default() -> Self {
        Intset::I16(Vec::new())
    }
}

/// The width class a value needs: 0 (16), 1 (32), 2 (64 bits).
fn width_of(v: i64) -> u8 {
    if i16::try_from(v).is_ok() {
        0
    } else if i32::try_from(v).is_ok() {
        1
    } else {
        2
    }
}

impl Intset {
    /// Active defrag: moves the member array when the allocator says so.
    pub fn defrag(&mut self, m: &mut crate::defrag::Mover<'_>) {
        match self {
            Intset::I16(v) => m.vec(v),
            Intset::I32(v) => m.vec(v),
            Intset::I64(v) => m.vec(v),
        }
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        match self {
            Intset::I16(v) => v.len(),
            Intset::I32(v) => v.len(),
            Intset::I64(v) => v.len(),
        }
    }

    /// Whether there is no member.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes per member (2, 4 or 8).
    pub fn width_bytes(&self) -> usize {
        match self {
            Intset::I16(_) => 2,
            Intset::I32(_) => 4,
            Intset::I64(_) => 8,
        }
    }

    fn width(&self) -> u8 {
        match self {
            Intset::I16(_) => 0,
            Intset::I32(_) => 1,
            Intset::I64(_) => 2,
        }
    }

    /// The member at `i` (in ascending order).
    pub fn get(&self, i: usize) -> Option<i64> {
        match self {
            Intset::I16(v) => v.get(i).map(|&x| i64::from(x)),
            Intset::I32(v) => v.get(i).map(|&x| i64::from(x)),
            Intset::I64(v) => v.get(i).copied(),
        }
    }

    /// Where `x` is, or where it would go.
    fn search(&self, x: i64) -> Result<usize, usize> {
        if width_of(x) > self.width() {
            // Out of this width's range: below or above every member.
            return Err(if x < 0 { 0 } else { self.len() });
        }
        match self {
            Intset::I16(v) => v.binary_search(&(x as i16)),
            Intset::I32(v) => v.binary_search(&(x as i32)),
            Intset::I64(v) => v.binary_search(&x),
        }
    }

    /// Whether `x` is a member.
    pub fn contains(&self, x: i64) -> bool {
        self.search(x).is_ok()
    }

    fn upgrade(&mut self, w: u8) {
        let all: Vec<i64> = self.iter().collect();
        *self = match w {
            0 => Intset::I16(all.into_iter().map(|x| x as i16).collect()),
            1 => Intset::I32(all.into_iter().map(|x| x as i32).collect()),
            _ => Intset::I64(all),
        };
    }

    /// Adds `x`; returns whether it is new.
    pub fn insert(&mut self, x: i64) -> bool {
        if width_of(x) > self.width() {
            self.upgrade(width_of(x));
        }
        let Err(pos) = self.search(x) else {
            return false;
        };
        // Grow one slot at a time as Redis's intset does: small sets are the common
        // case and doubling would waste up to half of them.
        match self {
            Intset::I16(v) => {
                v.reserve_exact(1);
                v.insert(pos, x as i16)
            }
            Intset::I32(v) => {
                v.reserve_exact(1);
                v.insert(pos, x as i32)
            }
            Intset::I64(v) => {
                v.reserve_exact(1);
                v.insert(pos, x)
            }
        }
        true
    }

    /// Removes `x`; returns whether it was present.
    pub fn remove(&mut self, x: i64) -> bool {
        let Ok(pos) = self.search(x) else {
            return false;
        };
        self.remove_at(pos);
        true
    }

    /// Removes and returns the member at `pos`.
    pub fn remove_at(&mut self, pos: usize) -> Option<i64> {
        let v = self.get(pos)?;
        match self {
            Intset::I16(v) => {
                v.remove(pos);
            }
            Intset::I32(v) => {
                v.remove(pos);
            }
            Intset::I64(v) => {
                v.remove(pos);
            }
        }
        self.trim();
        Some(v)
    }

    /// Removes `n` (< len) distinct random members in one pass and returns them.
    pub fn pop_many(&mut self, n: usize, rng: &mut impl rand::Rng) -> Vec<i64> {
        let len = self.len();
        let mut picked = vec![false; len];
        let mut out = Vec::with_capacity(n.min(len));
        for i in rand::seq::index::sample(rng, len, n.min(len)) {
            picked[i] = true;
            if let Some(v) = self.get(i) {
                out.push(v);
            }
        }
        let mut idx = 0;
        let mut keep = || {
            let k = !picked[idx];
            idx += 1;
            k
        };
        match self {
            Intset::I16(v) => v.retain(|_| keep()),
            Intset::I32(v) => v.retain(|_| keep()),
            Intset::I64(v) => v.retain(|_| keep()),
        }
        self.trim();
        out
    }

    /// Gives memory back once at most half the capacity is used (Redis's intset
    /// reallocates to the exact size on every removal).
    fn trim(&mut self) {
        fn t<X>(v: &mut Vec<X>) {
            if v.capacity() > 2 * v.len() + 4 {
                v.shrink_to_fit();
            }
        }
        match self {
            Intset::I16(v) => t(v),
            Intset::I32(v) => t(v),
            Intset::I64(v) => t(v),
        }
    }

    /// The members in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = i64> + '_ {
        (0..self.len()).filter_map(|i| self.get(i))
    }

    /// Bytes allocated.
    pub fn heap_size(&self) -> usize {
        match self {
            Intset::I16(v) => v.capacity() * 2,
            Intset::I32(v) => v.capacity() * 4,
            Intset::I64(v) => v.capacity() * 8,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_upgrade_and_never_downgrade() {
        let mut s = Intset::default();
        assert!(s.insert(5));
        assert!(s.insert(-3));
        assert!(!s.insert(5));
        assert_eq!(s.width_bytes(), 2);
        assert!(s.insert(40_000));
        assert_eq!(s.width_bytes(), 4);
        assert!(s.insert(-40_000));
        assert!(s.insert(i64::MIN));
        assert_eq!(s.width_bytes(), 8);
        assert!(s.insert(i64::MAX));
        assert_eq!(
            s.iter().collect::<Vec<_>>(),
            vec![i64::MIN, -40_000, -3, 5, 40_000, i64::MAX]
        );
        assert!(s.remove(i64::MIN));
        assert!(s.remove(i64::MAX));
        assert!(!s.remove(7));
        assert_eq!(s.width_bytes(), 8);
        assert!(s.contains(-40_000));
        assert!(!s.contains(1 << 40));
        let mut rng = rand::thread_rng();
        let mut p = Intset::default();
        for i in 0..100 {
            p.insert(i * 1000);
        }
        let popped = p.pop_many(30, &mut rng);
        assert_eq!(popped.len(), 30);
        assert_eq!(p.len(), 70);
        for v in &popped {
            assert!(!p.contains(*v) && v % 1000 == 0);
        }
        let mut small = Intset::default();
        small.insert(1);
        assert!(!small.contains(1 << 40));
        assert!(!small.contains(-(1 << 40)));
        assert!(!small.remove(70_000));
        assert_eq!(small.len(), 1);
    }
}
