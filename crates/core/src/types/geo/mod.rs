//! Geospatial indexes: points stored in a sorted set under 52-bit geohash scores,
//! exactly as Redis encodes them, so data moved between ferrokv and Redis answers
//! the same. [`hash`] is the encoding, [`search`] the distance and area search.

pub mod commands;
pub mod hash;
pub mod search;

/// Redis's human-friendly long double format (`%.17Lf`, trailing zeros trimmed) of
/// a double: coordinates in GEOPOS and WITHCOORD replies.
pub fn format_coord(v: f64) -> String {
    if v.is_infinite() {
        return if v < 0.0 { "-inf".into() } else { "inf".into() };
    }
    let mut s = format!("{v:.17}");
    if s.contains('.') {
        let t = s.trim_end_matches('0').trim_end_matches('.').len();
        s.truncate(t);
    }
    if s == "-0" {
        s = "0".into();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::format_coord;

    #[test]
    fn coordinates_print_like_redis() {
        // GEOPOS Sicily Palermo -> 13.36138933897018433, 38.11555639549629859
        let (lon, lat) = super::hash::decode_score(3479099956230698.0);
        assert_eq!(format_coord(lon), "13.36138933897018433");
        assert_eq!(format_coord(lat), "38.11555639549629859");
        assert_eq!(format_coord(1.0), "1");
        assert_eq!(format_coord(-0.0), "0");
    }
}
