//! Differential tests: geospatial commands against a real redis-server 7.0. Search
//! results without ASC/DESC come back in Redis's box-scan order, so they are compared
//! as they are, not sorted.

use ferrokv_tests::Diff;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

#[test]
fn add_pos_dist_hash() {
    let mut d = Diff::new();
    d.script(
        "
        GEOADD Sicily 13.361389 38.115556 Palermo 15.087269 37.502669 Catania
        GEOADD Sicily 13.361389 38.115556 Palermo
        GEOADD Sicily CH 13.361390 38.115556 Palermo
        GEOADD Sicily NX 1 1 Palermo 2 2 new
        GEOADD Sicily XX 3 3 new 4 4 never
        GEOADD Sicily NX XX 1 1 x
        GEOADD Sicily CH NX XX 1 1 x
        GEOADD Sicily 1 1
        GEOADD Sicily 1 1 a 2
        GEOADD Sicily 181 1 bad
        GEOADD Sicily 1 86 bad
        GEOADD Sicily -180 -85.05112878 corner 180 85.05112878 corner2
        GEOADD Sicily abc 1 bad
        GEOADD Sicily 1 nan bad
        GEOADD Sicily 1 inf bad
        GEOADD Sicily CH CH CH
        ZRANGE Sicily 0 -1 WITHSCORES
        GEOPOS Sicily Palermo Catania missing corner corner2 new
        GEOPOS nokey a b
        GEOPOS Sicily
        GEODIST Sicily Palermo Catania
        GEODIST Sicily Palermo Catania km
        GEODIST Sicily Palermo Catania MI
        GEODIST Sicily Palermo Catania ft
        GEODIST Sicily Palermo Catania m
        GEODIST Sicily Palermo Catania parsec
        GEODIST Sicily Palermo Catania km extra
        GEODIST Sicily Palermo missing
        GEODIST nokey a b
        GEODIST Sicily Palermo Palermo
        GEODIST Sicily corner corner2
        GEOHASH Sicily Palermo Catania missing corner corner2
        GEOHASH nokey a
        SET str x
        GEOADD str 1 1 a
        GEOPOS str a
        GEODIST str a b
        GEOHASH str a
        GEOSEARCH str FROMLONLAT 0 0 BYRADIUS 1 km
        ",
    );
    // RESP3: coordinates are doubles.
    d.ours.run("HELLO 3");
    d.theirs.run("HELLO 3");
    d.script(
        "
        GEOPOS Sicily Palermo missing
        GEODIST Sicily Palermo Catania
        GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 200 km WITHCOORD WITHDIST WITHHASH ASC
        GEOHASH Sicily Palermo missing
        ",
    );
}

#[test]
fn search_options_and_errors() {
    let mut d = Diff::new();
    d.script(
        "
        GEOADD Sicily 13.361389 38.115556 Palermo 15.087269 37.502669 Catania
        GEOADD Sicily 12.758489 38.788135 edge1 17.241510 38.788135 edge2
        GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 200 km ASC
        GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 200 km DESC
        GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 200 km
        GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 200 km WITHCOORD WITHDIST WITHHASH
        GEOSEARCH Sicily FROMMEMBER Palermo BYBOX 400 400 km ASC WITHDIST
        GEOSEARCH Sicily FROMMEMBER Palermo BYBOX 400 400 km DESC COUNT 2
        GEOSEARCH Sicily FROMMEMBER Palermo BYBOX 400 400 km COUNT 2 ANY
        GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 200 km COUNT 1
        GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 200 km COUNT 0
        GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 200 km COUNT -1
        GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 200 km COUNT x
        GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 200 km ANY
        GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS -1 km
        GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS x km
        GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 1 parsec
        GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX -1 1 km
        GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX x 1 km
        GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX 1 y km
        GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX 1 1 furlong
        GEOSEARCH Sicily FROMLONLAT 15 37
        GEOSEARCH Sicily BYRADIUS 1 km
        GEOSEARCH Sicily FROMLONLAT 15 37 FROMMEMBER Palermo BYRADIUS 1 km
        GEOSEARCH Sicily FROMMEMBER Palermo FROMLONLAT 15 37 BYRADIUS 1 km
        GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 1 km BYBOX 1 1 km
        GEOSEARCH Sicily FROMMEMBER nobody BYRADIUS 1 km
        GEOSEARCH Sicily FROMLONLAT 200 37 BYRADIUS 1 km
        GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 1 km STORE x
        GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 1 km WITHFOO
        GEOSEARCH nokey FROMLONLAT 15 37 BYRADIUS 1 km
        GEOSEARCH nokey FROMMEMBER x BYRADIUS 1 km
        GEOSEARCH nokey FROMMEMBER x
        GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 0 km
        GEOSEARCH Sicily FROMMEMBER Palermo BYRADIUS 0 m WITHDIST
        GEOSEARCHSTORE dst Sicily FROMLONLAT 15 37 BYRADIUS 200 km ASC COUNT 3
        ZRANGE dst 0 -1 WITHSCORES
        GEOSEARCHSTORE dst Sicily FROMLONLAT 15 37 BYRADIUS 200 km STOREDIST
        ZRANGE dst 0 -1 WITHSCORES
        OBJECT ENCODING dst
        GEOSEARCHSTORE dst Sicily FROMLONLAT 15 37 BYRADIUS 200 km WITHDIST
        GEOSEARCHSTORE dst Sicily FROMLONLAT 0 0 BYRADIUS 1 km
        EXISTS dst
        GEOSEARCHSTORE dst nokey FROMLONLAT 0 0 BYRADIUS 1 km
        GEORADIUS Sicily 15 37 200 km
        GEORADIUS Sicily 15 37 200 km WITHDIST WITHCOORD ASC
        GEORADIUS Sicily 15 37 200 km COUNT 2 DESC WITHHASH
        GEORADIUS Sicily 15 37 200 km STORE out
        ZRANGE out 0 -1 WITHSCORES
        GEORADIUS Sicily 15 37 200 km STOREDIST out
        ZRANGE out 0 -1 WITHSCORES
        GEORADIUS Sicily 15 37 200 km STORE out WITHDIST
        GEORADIUS Sicily 15 37 -200 km
        GEORADIUS Sicily 15 37 200 parsec
        GEORADIUS Sicily 15 37 200 km FROMMEMBER x
        GEORADIUS nokey 15 37 200 km
        GEORADIUS nokey 15 37 200 km STORE out
        EXISTS out
        GEORADIUS_RO Sicily 15 37 200 km WITHDIST ASC
        GEORADIUS_RO Sicily 15 37 200 km STORE out
        GEORADIUSBYMEMBER Sicily Palermo 200 km WITHDIST ASC
        GEORADIUSBYMEMBER Sicily Palermo 200 km
        GEORADIUSBYMEMBER Sicily nobody 200 km
        GEORADIUSBYMEMBER nokey nobody 200 km
        GEORADIUSBYMEMBER nokey nobody 200 km STORE out
        GEORADIUSBYMEMBER Sicily Palermo 200 km STORE out2
        ZRANGE out2 0 -1
        GEORADIUSBYMEMBER_RO Sicily Palermo 200 mi DESC WITHCOORD
        GEORADIUSBYMEMBER_RO Sicily Palermo 200 km STORE out
        ",
    );
}

#[test]
fn poles_antimeridian_and_dense_points() {
    let mut d = Diff::new();
    let mut script = String::new();
    for (i, (lon, lat)) in [
        (179.9, 0.0),
        (-179.9, 0.0),
        (179.99, 10.0),
        (-179.99, 10.0),
        (0.0, 85.0),
        (90.0, 85.0),
        (-90.0, 85.0),
        (180.0, 85.0),
        (0.0, -85.0),
        (120.0, -84.9),
        (0.0, 0.0),
        (0.0001, 0.0001),
        (-0.0001, -0.0001),
    ]
    .iter()
    .enumerate()
    {
        script.push_str(&format!("GEOADD g {lon} {lat} p{i}\n"));
    }
    for q in [
        "GEOSEARCH g FROMLONLAT 180 0 BYRADIUS 50 km",
        "GEOSEARCH g FROMLONLAT 180 0 BYRADIUS 50 km ASC WITHDIST",
        "GEOSEARCH g FROMLONLAT -180 5 BYBOX 3000 3000 km WITHDIST",
        "GEOSEARCH g FROMLONLAT 0 85 BYRADIUS 2000 km WITHDIST",
        "GEOSEARCH g FROMLONLAT 0 85 BYBOX 5000 500 km",
        "GEOSEARCH g FROMLONLAT 0 -85 BYRADIUS 3000 km DESC WITHCOORD",
        "GEOSEARCH g FROMLONLAT 0 0 BYRADIUS 20 m WITHDIST WITHHASH",
        "GEOSEARCH g FROMLONLAT 0 0 BYRADIUS 20000 km",
        "GEOSEARCH g FROMLONLAT 0 0 BYRADIUS 6000 km COUNT 3 ANY",
        "GEOSEARCH g FROMMEMBER p0 BYRADIUS 40 km WITHDIST",
        "GEOPOS g p0 p1 p4 p7 p8 p9",
        "GEOHASH g p0 p1 p4 p7 p8 p9 p10",
        "GEODIST g p0 p1 km",
        "GEODIST g p4 p5",
        "GEODIST g p10 p11 m",
    ] {
        script.push_str(q);
        script.push('\n');
    }
    d.script(&script);
}

/// Random points, radii and boxes: every reply compared with Redis (without sorting:
/// the scan order must match too).
#[test]
fn random_searches_match_redis() {
    let mut d = Diff::new();
    let mut runner = TestRunner::new(Config {
        cases: 60,
        ..Config::default()
    });
    let point = (-180.0f64..180.0, -85.0f64..85.0);
    let clustered = (-1.0f64..1.0, -1.0f64..1.0).prop_map(|(x, y)| (10.0 + x, 45.0 + y));
    let points = prop::collection::vec(prop_oneof![point.clone(), clustered], 1..60);
    let query = (
        prop_oneof![
            (-180.0f64..180.0, -85.0f64..85.0),
            (9.0f64..11.0, 44.0f64..46.0)
        ],
        prop_oneof![Just(1.0), 0.1f64..50.0, 50.0f64..5000.0],
        0.1f64..3000.0,
        prop::sample::select(vec!["m", "km", "mi", "ft"]),
        prop::sample::select(vec![
            "",
            "ASC",
            "DESC",
            "COUNT 3",
            "COUNT 2 ANY",
            "ASC COUNT 5",
        ]),
    );
    let counter = std::cell::Cell::new(0u32);
    let d = std::cell::RefCell::new(&mut d);
    runner
        .run(&(points, query), |(points, (center, radius, height, unit, opt))| {
            let n = counter.get();
            counter.set(n + 1);
            let key = format!("g{n}");
            let mut d = d.borrow_mut();
            for (i, (lon, lat)) in points.iter().enumerate() {
                d.line(&format!("GEOADD {key} {lon} {lat} m{i}"));
            }
            let (lon, lat) = center;
            let unit_r = if unit == "m" || unit == "ft" { radius * 1000.0 } else { radius };
            d.line(&format!(
                "GEOSEARCH {key} FROMLONLAT {lon} {lat} BYRADIUS {unit_r} {unit} WITHDIST WITHHASH WITHCOORD {opt}"
            ));
            d.line(&format!(
                "GEOSEARCH {key} FROMLONLAT {lon} {lat} BYBOX {radius} {height} {unit} WITHDIST {opt}"
            ));
            d.line(&format!("GEOSEARCH {key} FROMMEMBER m0 BYRADIUS {unit_r} {unit} {opt}"));
            d.line(&format!("GEORADIUSBYMEMBER {key} m0 {radius} km WITHDIST"));
            d.line(&format!("GEOPOS {key} m0 m1 m2"));
            d.line(&format!("GEOHASH {key} m0 m1 m2"));
            d.line(&format!("GEODIST {key} m0 m1 km"));
            Ok(())
        })
        .unwrap();
    assert!(counter.get() >= 40, "ran {} cases", counter.get());
}

/// GEORADIUS with STORE twice stores into the last key, the one that COMMAND
/// GETKEYS does not name (it names the first, as Redis): that key's shard must be
/// locked too (it panicked the connection).
#[test]
fn radius_store_given_twice() {
    let mut d = Diff::new();
    d.script(
        "
        GEOADD Sicily 13.361389 38.115556 Palermo 15.087269 37.502669 Catania
        GEORADIUS Sicily 15 37 200 km COUNT 1 STORE out1 STORE out2
        GEORADIUS Sicily 15 37 200 km STORE out3 COUNT 1 STOREDIST out4
        GEORADIUSBYMEMBER Sicily Palermo 200 km STOREDIST out5 STORE out6
        EXISTS out1 out3 out5
        ZRANGE out2 0 -1 WITHSCORES
        ZRANGE out4 0 -1 WITHSCORES
        ZRANGE out6 0 -1 WITHSCORES
        COMMAND GETKEYS GEORADIUS Sicily 15 37 200 km STORE out1 STORE out2
        ",
    );
}
