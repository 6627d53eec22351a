//! Distances and the area search behind GEOSEARCH and GEORADIUS: the search picks
//! a geohash precision from the radius, takes the centre box and its eight
//! neighbours (dropping the ones outside the shape's bounding box), and filters the
//! members of each box by exact distance. Redis returns unsorted results in that box
//! order, so the steps (precision estimate, neighbour order, pruning, duplicate
//! skipping) are Redis's own.

use super::hash::{self, Bits, Neighbors, LAT_RANGE, LON_RANGE};

/// Earth's quadratic mean radius for WGS-84, as Redis uses it.
pub const EARTH_RADIUS_M: f64 = 6372797.560856;
const MERCATOR_MAX: f64 = 20037726.37;
const D_R: f64 = std::f64::consts::PI / 180.0;

fn deg_rad(a: f64) -> f64 {
    a * D_R
}

fn rad_deg(a: f64) -> f64 {
    a / D_R
}

/// Distance along a meridian between two latitudes, in meters.
pub fn lat_distance(lat1: f64, lat2: f64) -> f64 {
    EARTH_RADIUS_M * (deg_rad(lat2) - deg_rad(lat1)).abs()
}

/// Haversine great-circle distance in meters.
pub fn distance(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let lon1r = deg_rad(lon1);
    let lon2r = deg_rad(lon2);
    let v = ((lon2r - lon1r) / 2.0).sin();
    // Same longitude: skip the expensive part (as Redis does, same result bits).
    if v == 0.0 {
        return lat_distance(lat1, lat2);
    }
    let lat1r = deg_rad(lat1);
    let lat2r = deg_rad(lat2);
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
    2.0 * EARTH_RADIUS_M * a.sqrt().asin()
}

/// The searched shape, in meters after `conversion` (the unit's size in meters).
#[derive(Debug, Clone, Copy)]
pub enum ShapeKind {
    /// BYRADIUS.
    Radius(f64),
    /// BYBOX width height.
    Box {
        /// Width in the unit.
        width: f64,
        /// Height in the unit.
        height: f64,
    },
}

/// A search: centre `(lon, lat)`, shape, and unit.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Centre longitude.
    pub lon: f64,
    /// Centre latitude.
    pub lat: f64,
    /// Meters per unit.
    pub conversion: f64,
    /// Radius or box.
    pub kind: ShapeKind,
}

impl Shape {
    /// Whether the point is inside; its distance from the centre (meters) if so.
    pub fn contains(&self, lon: f64, lat: f64) -> Option<f64> {
        match self.kind {
            ShapeKind::Radius(r) => {
                let d = distance(self.lon, self.lat, lon, lat);
                (d <= r * self.conversion).then_some(d)
            }
            ShapeKind::Box { width, height } => {
                let (w, h) = (width * self.conversion, height * self.conversion);
                if lat_distance(lat, self.lat) > h / 2.0 {
                    return None;
                }
                if distance(lon, lat, self.lon, lat) > w / 2.0 {
                    return None;
                }
                Some(distance(self.lon, self.lat, lon, lat))
            }
        }
    }

    /// `[min_lon, min_lat, max_lon, max_lat]` around the shape.
    fn bounding_box(&self) -> [f64; 4] {
        let (half_h, half_w) = match self.kind {
            ShapeKind::Radius(r) => (r, r),
            ShapeKind::Box { width, height } => (height / 2.0, width / 2.0),
        };
        let height = self.conversion * half_h;
        let width = self.conversion * half_w;
        let lat_delta = rad_deg(height / EARTH_RADIUS_M);
        let lon_delta_top = rad_deg(width / EARTH_RADIUS_M / deg_rad(self.lat + lat_delta).cos());
        let lon_delta_bottom =
            rad_deg(width / EARTH_RADIUS_M / deg_rad(self.lat - lat_delta).cos());
        // The hemispheres widen in opposite directions.
        let south = self.lat < 0.0;
        let delta = if south {
            lon_delta_bottom
        } else {
            lon_delta_top
        };
        [
            self.lon - delta,
            self.lat - lat_delta,
            self.lon + delta,
            self.lat + lat_delta,
        ]
    }

    /// The radius that covers the shape, in meters.
    fn radius_m(&self) -> f64 {
        let r = match self.kind {
            ShapeKind::Radius(r) => r,
            ShapeKind::Box { width, height } => {
                ((width / 2.0) * (width / 2.0) + (height / 2.0) * (height / 2.0)).sqrt()
            }
        };
        r * self.conversion
    }
}

/// The geohash precision whose boxes suit a search of `range_m` meters.
pub fn estimate_steps(range_m: f64, lat: f64) -> u8 {
    if range_m == 0.0 {
        return 26;
    }
    let mut range = range_m;
    let mut step: i32 = 1;
    while range < MERCATOR_MAX {
        range *= 2.0;
        step += 1;
    }
    step -= 2;
    // Boxes narrow towards the poles.
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, 26) as u8
}

/// The boxes to scan for `shape`, in Redis's order (centre, N, S, E, W, NE, NW,
/// SE, SW), pruned ones as zero hashes.
pub fn search_boxes(shape: &Shape) -> [Bits; 9] {
    let [min_lon, min_lat, max_lon, max_lat] = shape.bounding_box();
    let mut steps = estimate_steps(shape.radius_m(), shape.lat);
    let at = |steps: u8| {
        let h = hash::encode(LON_RANGE, LAT_RANGE, shape.lon, shape.lat, steps).unwrap_or(Bits {
            bits: 0,
            step: steps,
        });
        (h, hash::neighbors(h), hash::decode(LON_RANGE, LAT_RANGE, h))
    };
    let (mut h, mut n, mut area) = at(steps);
    // Near a box edge the estimate can be too fine for the neighbours to cover the
    // shape: one step coarser then.
    let decrease = {
        let d = |b: Bits| hash::decode(LON_RANGE, LAT_RANGE, b);
        d(n.north).lat.max < max_lat
            || d(n.south).lat.min > min_lat
            || d(n.east).lon.max < max_lon
            || d(n.west).lon.min > min_lon
    };
    if steps > 1 && decrease {
        steps -= 1;
        (h, n, area) = at(steps);
    }
    if steps >= 2 {
        let zero = Bits::default();
        if area.lat.min < min_lat {
            n.south = zero;
            n.south_west = zero;
            n.south_east = zero;
        }
        if area.lat.max > max_lat {
            n.north = zero;
            n.north_east = zero;
            n.north_west = zero;
        }
        if area.lon.min < min_lon {
            n.west = zero;
            n.south_west = zero;
            n.north_west = zero;
        }
        if area.lon.max > max_lon {
            n.east = zero;
            n.south_east = zero;
            n.north_east = zero;
        }
    }
    let Neighbors {
        north,
        east,
        west,
        south,
        north_east,
        south_east,
        north_west,
        south_west,
    } = n;
    [
        h, north, south, east, west, north_east, north_west, south_east, south_west,
    ]
}

/// The score range `[min, max)` a box covers.
pub fn box_scores(b: Bits) -> (u64, u64) {
    let min = b.align52();
    let max = Bits {
        bits: b.bits + 1,
        step: b.step,
    }
    .align52();
    (min, max)
}

/// One search result.
#[derive(Debug, Clone)]
pub struct Found {
    /// The member.
    pub member: Vec<u8>,
    /// Distance from the centre in meters.
    pub dist: f64,
    /// The stored score.
    pub score: f64,
    /// Decoded longitude.
    pub lon: f64,
    /// Decoded latitude.
    pub lat: f64,
}

/// Runs a search. `range(min, max, visit)` must call `visit(member, score)` for the
/// members with `min <= score < max` in ascending order and stop when `visit`
/// returns false. `limit` (COUNT ANY) stops early; 0 means none.
pub fn search(
    shape: &Shape,
    limit: usize,
    mut range: impl FnMut(f64, f64, &mut dyn FnMut(&[u8], f64) -> bool),
) -> Vec<Found> {
    let boxes = search_boxes(shape);
    let mut found: Vec<Found> = Vec::new();
    let mut last: usize = 0;
    for (i, b) in boxes.iter().enumerate() {
        if b.is_zero() {
            continue;
        }
        // With huge radii neighbours can repeat; Redis skips a box equal to the
        // previously scanned one (never comparing against the centre box).
        if last != 0 && b.bits == boxes[last].bits && b.step == boxes[last].step {
            continue;
        }
        if !found.is_empty() && limit != 0 && found.len() >= limit {
            break;
        }
        let (min, max) = box_scores(*b);
        range(min as f64, max as f64, &mut |member, score| {
            let (lon, lat) = hash::decode_score(score);
            if let Some(dist) = shape.contains(lon, lat) {
                found.push(Found {
                    member: member.to_vec(),
                    dist,
                    score,
                    lon,
                    lat,
                });
            }
            !(limit != 0 && found.len() >= limit)
        });
        last = i;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn palermo_catania_distance() {
        // GEODIST Sicily Palermo Catania -> "166274.1516" (Redis docs), computed on
        // the decoded (not the typed) coordinates.
        let (lon1, lat1) = hash::decode_score(3479099956230698.0);
        let (lon2, lat2) = hash::decode_score(3479447370796909.0);
        assert_eq!(
            format!("{:.4}", distance(lon1, lat1, lon2, lat2)),
            "166274.1516"
        );
    }

    #[test]
    fn steps_by_radius() {
        assert_eq!(estimate_steps(0.0, 0.0), 26);
        assert!(estimate_steps(100.0, 0.0) > estimate_steps(100_000.0, 0.0));
        assert!(estimate_steps(1000.0, 85.0) < estimate_steps(1000.0, 0.0));
    }
}
