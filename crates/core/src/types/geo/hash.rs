//! Geohashes as Redis encodes them: 26 steps of interleaved bits (latitude in the
//! even bits, longitude in the odd ones) over a Mercator-limited latitude range, so
//! a point is a 52-bit integer stored as a sorted-set score. The arithmetic follows
//! the published algorithm step by step: a score written by Redis decodes to the
//! same coordinates here, and the same searches visit the same boxes.

/// Latitude limits of the Web Mercator projection (EPSG:900913).
pub const LAT_MIN: f64 = -85.05112878;
/// See [`LAT_MIN`].
pub const LAT_MAX: f64 = 85.05112878;
/// Longitude limits.
pub const LON_MIN: f64 = -180.0;
/// See [`LON_MIN`].
pub const LON_MAX: f64 = 180.0;
/// Steps of a stored score (52 bits).
pub const STEP_MAX: u8 = 26;

/// A closed interval of one coordinate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    /// Lower bound.
    pub min: f64,
    /// Upper bound.
    pub max: f64,
}

/// The ranges Redis hashes over.
pub const LON_RANGE: Range = Range {
    min: LON_MIN,
    max: LON_MAX,
};
/// See [`LON_RANGE`].
pub const LAT_RANGE: Range = Range {
    min: LAT_MIN,
    max: LAT_MAX,
};

/// A geohash of `step` steps (`2 * step` significant bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Bits {
    /// The interleaved bits.
    pub bits: u64,
    /// Precision.
    pub step: u8,
}

impl Bits {
    /// The "no box" marker used for pruned neighbours.
    pub fn is_zero(self) -> bool {
        self.bits == 0 && self.step == 0
    }

    /// Left-aligns the hash to 52 bits: the smallest score inside the box.
    pub fn align52(self) -> u64 {
        self.bits << (52 - u32::from(self.step) * 2)
    }
}

/// The box a hash stands for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Area {
    /// Longitude interval.
    pub lon: Range,
    /// Latitude interval.
    pub lat: Range,
}

/// Spreads the 32 bits of `v` to the even bit positions.
fn spread(v: u32) -> u64 {
    let mut x = u64::from(v);
    x = (x | (x << 16)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x << 8)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x << 2)) & 0x3333_3333_3333_3333;
    (x | (x << 1)) & 0x5555_5555_5555_5555
}

/// Gathers the even bits of `v` (inverse of [`spread`]).
fn squash(v: u64) -> u32 {
    let mut x = v & 0x5555_5555_5555_5555;
    x = (x | (x >> 1)) & 0x3333_3333_3333_3333;
    x = (x | (x >> 2)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x >> 4)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x >> 8)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x >> 16)) & 0x0000_0000_FFFF_FFFF;
    x as u32
}

/// Encodes a point with the given ranges; `None` outside them or out of the
/// absolute limits.
pub fn encode(lon_r: Range, lat_r: Range, lon: f64, lat: f64, step: u8) -> Option<Bits> {
    if !(1..=32).contains(&step) {
        return None;
    }
    if !(LON_MIN..=LON_MAX).contains(&lon) || !(LAT_MIN..=LAT_MAX).contains(&lat) {
        return None;
    }
    if lat < lat_r.min || lat > lat_r.max || lon < lon_r.min || lon > lon_r.max {
        return None;
    }
    let scale = (1u64 << step) as f64;
    let lat_off = (lat - lat_r.min) / (lat_r.max - lat_r.min) * scale;
    let lon_off = (lon - lon_r.min) / (lon_r.max - lon_r.min) * scale;
    // C converts the doubles to uint32_t by truncation.
    let bits = spread(lat_off as u32) | (spread(lon_off as u32) << 1);
    Some(Bits { bits, step })
}

/// Encodes with Redis's ranges.
pub fn encode_wgs84(lon: f64, lat: f64, step: u8) -> Option<Bits> {
    encode(LON_RANGE, LAT_RANGE, lon, lat, step)
}

/// The box of a hash.
pub fn decode(lon_r: Range, lat_r: Range, h: Bits) -> Area {
    let lat_i = squash(h.bits);
    let lon_i = squash(h.bits >> 1);
    let div = (1u64 << h.step) as f64;
    let lat_scale = lat_r.max - lat_r.min;
    let lon_scale = lon_r.max - lon_r.min;
    Area {
        lat: Range {
            min: lat_r.min + (f64::from(lat_i) / div) * lat_scale,
            max: lat_r.min + ((f64::from(lat_i) + 1.0) / div) * lat_scale,
        },
        lon: Range {
            min: lon_r.min + (f64::from(lon_i) / div) * lon_scale,
            max: lon_r.min + ((f64::from(lon_i) + 1.0) / div) * lon_scale,
        },
    }
}

/// The centre of a box, clamped to the valid ranges: `(lon, lat)`.
pub fn area_center(a: &Area) -> (f64, f64) {
    let lon = ((a.lon.min + a.lon.max) / 2.0).clamp(LON_MIN, LON_MAX);
    let lat = ((a.lat.min + a.lat.max) / 2.0).clamp(LAT_MIN, LAT_MAX);
    (lon, lat)
}

/// The point a stored score stands for: `(lon, lat)`.
pub fn decode_score(score: f64) -> (f64, f64) {
    let h = Bits {
        bits: score as u64,
        step: STEP_MAX,
    };
    area_center(&decode(LON_RANGE, LAT_RANGE, h))
}

/// Moves a hash one box east (`d > 0`) or west.
fn move_x(h: &mut Bits, d: i8) {
    if d == 0 {
        return;
    }
    let shift = 64 - u32::from(h.step) * 2;
    let mut x = h.bits & 0xAAAA_AAAA_AAAA_AAAA;
    let y = h.bits & 0x5555_5555_5555_5555;
    let zz = 0x5555_5555_5555_5555u64 >> shift;
    if d > 0 {
        x = x.wrapping_add(zz + 1);
    } else {
        x |= zz;
        x = x.wrapping_sub(zz + 1);
    }
    x &= 0xAAAA_AAAA_AAAA_AAAAu64 >> shift;
    h.bits = x | y;
}

/// Moves a hash one box north (`d > 0`) or south.
fn move_y(h: &mut Bits, d: i8) {
    if d == 0 {
        return;
    }
    let shift = 64 - u32::from(h.step) * 2;
    let x = h.bits & 0xAAAA_AAAA_AAAA_AAAA;
    let mut y = h.bits & 0x5555_5555_5555_5555;
    let zz = 0xAAAA_AAAA_AAAA_AAAAu64 >> shift;
    if d > 0 {
        y = y.wrapping_add(zz + 1);
    } else {
        y |= zz;
        y = y.wrapping_sub(zz + 1);
    }
    y &= 0x5555_5555_5555_5555u64 >> shift;
    h.bits = x | y;
}

/// The eight boxes around a hash.
#[derive(Debug, Clone, Copy, Default)]
pub struct Neighbors {
    /// North.
    pub north: Bits,
    /// East.
    pub east: Bits,
    /// West.
    pub west: Bits,
    /// South.
    pub south: Bits,
    /// North-east.
    pub north_east: Bits,
    /// South-east.
    pub south_east: Bits,
    /// North-west.
    pub north_west: Bits,
    /// South-west.
    pub south_west: Bits,
}

/// The neighbours of `h` at the same precision.
pub fn neighbors(h: Bits) -> Neighbors {
    let at = |dx: i8, dy: i8| {
        let mut n = h;
        move_x(&mut n, dx);
        move_y(&mut n, dy);
        n
    };
    Neighbors {
        east: at(1, 0),
        west: at(-1, 0),
        south: at(0, -1),
        north: at(0, 1),
        north_west: at(-1, 1),
        south_west: at(-1, -1),
        north_east: at(1, 1),
        south_east: at(1, -1),
    }
}

/// The 11-character standard geohash (latitude over ±90) of a stored score, as
/// GEOHASH prints it.
pub fn standard_string(score: f64) -> Option<String> {
    const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let (lon, lat) = decode_score(score);
    let lon_r = Range {
        min: -180.0,
        max: 180.0,
    };
    let lat_r = Range {
        min: -90.0,
        max: 90.0,
    };
    let h = encode(lon_r, lat_r, lon, lat, STEP_MAX)?;
    let mut s = String::with_capacity(11);
    for i in 0..11 {
        // 52 bits give ten full characters; the eleventh is zero, as Redis pads.
        let idx = if i == 10 {
            0
        } else {
            ((h.bits >> (52 - (i + 1) * 5)) & 0x1f) as usize
        };
        s.push(ALPHABET[idx] as char);
    }
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_and_squash_are_inverse() {
        for v in [0u32, 1, 0xFFFF_FFFF, 0x1234_5678, 0x8000_0001] {
            assert_eq!(squash(spread(v)), v);
        }
    }

    #[test]
    fn scores_match_redis() {
        // GEOADD Sicily 13.361389 38.115556 "Palermo" stores 3479099956230698;
        // 15.087269 37.502669 "Catania" stores 3479447370796909 (Redis docs).
        let p = encode_wgs84(13.361389, 38.115556, STEP_MAX).unwrap();
        assert_eq!(p.bits, 3479099956230698);
        let c = encode_wgs84(15.087269, 37.502669, STEP_MAX).unwrap();
        assert_eq!(c.bits, 3479447370796909);
        assert_eq!(
            standard_string(p.bits as f64).as_deref(),
            Some("sqc8b49rny0")
        );
        assert_eq!(
            standard_string(c.bits as f64).as_deref(),
            Some("sqdtr74hyu0")
        );
    }

    #[test]
    fn out_of_range_is_refused() {
        assert!(encode_wgs84(181.0, 0.0, STEP_MAX).is_none());
        assert!(encode_wgs84(0.0, 85.06, STEP_MAX).is_none());
    }

    #[test]
    fn neighbours_are_adjacent() {
        let h = encode_wgs84(10.0, 10.0, 10).unwrap();
        let a = decode(LON_RANGE, LAT_RANGE, h);
        let n = neighbors(h);
        let e = decode(LON_RANGE, LAT_RANGE, n.east);
        assert!((e.lon.min - a.lon.max).abs() < 1e-9);
        let s = decode(LON_RANGE, LAT_RANGE, n.south);
        assert!((s.lat.max - a.lat.min).abs() < 1e-9);
    }
}
