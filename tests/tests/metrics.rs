//! The Prometheus endpoint: scraped over HTTP, parsed with an independent
//! text-format parser (prometheus-parse), values checked against INFO.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use ferrokv_resp::Frame;
use ferrokv_tests::{free_port, Conn, Server};
use prometheus_parse::{Scrape, Value};

/// `GET path` on `port`: (status line, body).
fn http_get(port: u16, path: &str) -> std::io::Result<(String, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(20)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/plain\r\n\r\n"
    )?;
    let mut all = String::new();
    s.read_to_string(&mut all)?;
    let (head, body) = all.split_once("\r\n\r\n").unwrap_or((&all, ""));
    let status = head.lines().next().unwrap_or("").to_string();
    Ok((status, body.to_string()))
}

fn scrape(port: u16) -> Scrape {
    let (status, body) = http_get(port, "/metrics").expect("scrape");
    assert_eq!(status, "HTTP/1.1 200 OK");
    Scrape::parse(body.lines().map(|l| Ok(l.to_string()))).expect("valid exposition text")
}

fn number(v: &Value) -> f64 {
    match v {
        Value::Counter(x) | Value::Gauge(x) | Value::Untyped(x) => *x,
        other => panic!("not a number: {other:?}"),
    }
}

/// The value of `metric` with the given labels (all of them must match).
fn find(s: &Scrape, metric: &str, labels: &[(&str, &str)]) -> Option<f64> {
    s.samples
        .iter()
        .find(|x| x.metric == metric && labels.iter().all(|(k, v)| x.labels.get(k) == Some(*v)))
        .map(|x| number(&x.value))
}

fn info(c: &mut Conn) -> BTreeMap<String, String> {
    let Frame::Bulk(text) = c.run("INFO everything") else {
        panic!("INFO did not reply a bulk string");
    };
    String::from_utf8_lossy(&text)
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn field(v: &str, name: &str) -> f64 {
    v.split(',')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .and_then(|(_, x)| x.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {v}"))
}

#[test]
fn scrape_parses_and_agrees_with_info() {
    let mport = free_port();
    let s = Server::ferrokv(&["--metrics-port", &mport.to_string(), "--maxmemory", "100mb"]);
    let mut c = s.conn();
    for i in 0..5 {
        c.run(&format!("SET k{i} v"));
    }
    c.run("EXPIRE k0 1000");
    c.run("GET k1");
    c.run("GET nosuchkey");
    c.run("INCR k1"); // an error reply: errorstats and failed_calls
    c.run("SELECT 3");
    c.run("SET other 1");
    let i = info(&mut c);
    let m = scrape(mport);

    assert_eq!(find(&m, "redis_up", &[]), Some(1.0));
    // Fields INFO itself does not move.
    for (metric, info_field) in [
        ("redis_keyspace_hits_total", "keyspace_hits"),
        ("redis_keyspace_misses_total", "keyspace_misses"),
        (
            "redis_connections_received_total",
            "total_connections_received",
        ),
        ("redis_memory_max_bytes", "maxmemory"),
        ("redis_connected_clients", "connected_clients"),
        ("redis_blocked_clients", "blocked_clients"),
        ("redis_expired_keys_total", "expired_keys"),
        ("redis_evicted_keys_total", "evicted_keys"),
        ("redis_connected_slaves", "connected_slaves"),
        ("redis_master_repl_offset", "master_repl_offset"),
        (
            "redis_rdb_last_save_timestamp_seconds",
            "rdb_last_save_time",
        ),
    ] {
        let want: f64 = i[info_field].parse().expect(info_field);
        assert_eq!(
            find(&m, metric, &[]),
            Some(want),
            "{metric} vs INFO {info_field}"
        );
    }
    assert_eq!(
        find(&m, "redis_memory_max_bytes", &[]),
        Some(100.0 * 1024.0 * 1024.0)
    );
    // Counters that only grow: at least what INFO showed just before.
    for (metric, info_field) in [
        ("redis_commands_processed_total", "total_commands_processed"),
        ("redis_net_input_bytes_total", "total_net_input_bytes"),
        ("redis_net_output_bytes_total", "total_net_output_bytes"),
        ("redis_cpu_user_seconds_total", "used_cpu_user"),
        ("redis_cpu_sys_seconds_total", "used_cpu_sys"),
        ("redis_uptime_in_seconds", "uptime_in_seconds"),
    ] {
        let want: f64 = i[info_field].parse().expect(info_field);
        let got = find(&m, metric, &[]).unwrap_or_else(|| panic!("no {metric}"));
        assert!(got >= want, "{metric} {got} < INFO {info_field} {want}");
    }
    assert!(find(&m, "redis_memory_used_bytes", &[]).is_some_and(|v| v > 0.0));
    // Keyspace, every db present.
    for db in 0..16 {
        let name = format!("db{db}");
        let (keys, expires) = match i.get(&name) {
            Some(v) => (field(v, "keys"), field(v, "expires")),
            None => (0.0, 0.0),
        };
        assert_eq!(
            find(&m, "redis_db_keys", &[("db", &name)]),
            Some(keys),
            "{name}"
        );
        assert_eq!(
            find(&m, "redis_db_keys_expiring", &[("db", &name)]),
            Some(expires),
            "{name}"
        );
    }
    assert_eq!(find(&m, "redis_db_keys", &[("db", "db0")]), Some(5.0));
    assert_eq!(
        find(&m, "redis_db_keys_expiring", &[("db", "db0")]),
        Some(1.0)
    );
    assert_eq!(find(&m, "redis_db_keys", &[("db", "db3")]), Some(1.0));
    // Per command, as commandstats.
    for cmd in ["get", "set", "incr", "expire", "select"] {
        let v = &i[&format!("cmdstat_{cmd}")];
        let l = [("cmd", cmd)];
        assert_eq!(
            find(&m, "redis_commands_total", &l),
            Some(field(v, "calls"))
        );
        assert_eq!(
            find(&m, "redis_commands_failed_calls_total", &l),
            Some(field(v, "failed_calls"))
        );
        assert_eq!(
            find(&m, "redis_commands_rejected_calls_total", &l),
            Some(field(v, "rejected_calls"))
        );
        let secs = find(&m, "redis_commands_duration_seconds_total", &l).expect(cmd);
        assert!((secs - field(v, "usec") / 1e6).abs() < 1e-9, "{cmd}");
    }
    assert_eq!(
        find(&m, "redis_commands_total", &[("cmd", "get")]),
        Some(2.0)
    );
    assert_eq!(
        find(&m, "redis_commands_failed_calls_total", &[("cmd", "incr")]),
        Some(1.0)
    );
    assert_eq!(find(&m, "redis_errors_total", &[("err", "ERR")]), Some(1.0));
    // latencystats as redis_exporter's per-quantile series.
    let p50: f64 = i["latency_percentiles_usec_get"]
        .split(',')
        .find_map(|kv| kv.strip_prefix("p50="))
        .and_then(|x| x.parse().ok())
        .expect("p50");
    assert_eq!(
        find(
            &m,
            "redis_latency_percentiles_usec",
            &[("cmd", "get"), ("quantile", "50")]
        ),
        Some(p50)
    );
    // The instance labels.
    let inst = m
        .samples
        .iter()
        .find(|x| x.metric == "redis_instance_info")
        .expect("redis_instance_info");
    assert_eq!(inst.labels.get("run_id"), Some(i["run_id"].as_str()));
    assert_eq!(
        inst.labels.get("tcp_port"),
        Some(s.port.to_string().as_str())
    );
    assert_eq!(inst.labels.get("role"), Some("master"));
    assert_eq!(inst.labels.get("redis_version"), Some("7.0.15"));
    assert_eq!(inst.labels.get("maxmemory_policy"), Some("noeviction"));
    // ferrokv's own.
    let per_thread: f64 = m
        .samples
        .iter()
        .filter(|x| x.metric == "ferrokv_thread_commands_total")
        .map(|x| number(&x.value))
        .sum();
    let calls: f64 = i
        .iter()
        .filter(|(k, _)| k.starts_with("cmdstat_"))
        .map(|(_, v)| field(v, "calls"))
        .sum();
    assert!(per_thread >= calls, "{per_thread} < {calls}");
    assert!(find(&m, "ferrokv_shard_lock_contended_total", &[]).is_some());
    let histo = m
        .samples
        .iter()
        .find(|x| x.metric == "redis_commands_latencies_usec" && x.labels.get("cmd") == Some("get"))
        .expect("latency histogram of GET");
    let Value::Histogram(buckets) = &histo.value else {
        panic!("not a histogram: {:?}", histo.value);
    };
    let top = buckets.iter().map(|b| b.count).fold(0.0f64, f64::max);
    assert_eq!(top, 2.0, "{buckets:?}");
}

#[test]
fn config_set_turns_the_endpoint_on_and_off() {
    let s = Server::ferrokv(&[]);
    let mut c = s.conn();
    // Off by default.
    let Frame::Array(kv) = c.run("CONFIG GET metrics-port") else {
        panic!("CONFIG GET");
    };
    assert_eq!(kv.get(1), Some(&Frame::Bulk("0".into())));
    let port = free_port();
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "metrics-port", &port.to_string()]),
        Frame::Simple("OK".into())
    );
    let m = scrape(port);
    assert_eq!(find(&m, "redis_up", &[]), Some(1.0));
    let (status, _) = http_get(port, "/nothing-here").expect("404");
    assert_eq!(status, "HTTP/1.1 404 Not Found");
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "metrics-port", "0"]),
        Frame::Simple("OK".into())
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_ok() {
        assert!(Instant::now() < deadline, "the endpoint still listens");
        std::thread::sleep(Duration::from_millis(20));
    }
}
