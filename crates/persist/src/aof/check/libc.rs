//! The few C library behaviours redis-check-aof's output depends on: `strtol`,
//! `atoll`, C strings ending at the first NUL, `%02x` of a signed `char`,
//! `dirname`, and the server log line format.

/// `strtol(s, &end, 10)`: the value, the index where parsing stopped (0 when no
/// digits were found), and whether it overflowed (`errno == ERANGE`). `s` is a C
/// string: callers cut it at its first NUL.
pub(crate) fn strtol(s: &[u8]) -> (i64, usize, bool) {
    let mut i = 0;
    while s.get(i).is_some_and(|&b| is_c_space(b)) {
        i += 1;
    }
    let negative = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let digits_start = i;
    // Accumulated as a negative number so that i64::MIN fits.
    let mut acc: i64 = 0;
    let mut overflow = false;
    while let Some(d) = s.get(i).filter(|b| b.is_ascii_digit()) {
        let d = i64::from(d - b'0');
        match acc.checked_mul(10).and_then(|v| v.checked_sub(d)) {
            Some(v) if !overflow => acc = v,
            _ => overflow = true,
        }
        i += 1;
    }
    if i == digits_start {
        return (0, 0, false);
    }
    let value = if overflow {
        if negative {
            i64::MIN
        } else {
            i64::MAX
        }
    } else if negative {
        acc
    } else {
        match acc.checked_neg() {
            Some(v) => v,
            None => {
                overflow = true;
                i64::MAX
            }
        }
    };
    (value, i, overflow)
}

/// `atoll`: strtol without the error reporting.
pub(crate) fn atoll(s: &[u8]) -> i64 {
    strtol(cstr(s)).0
}

/// C's `isspace` in the C locale.
pub(crate) fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// The C string a buffer holds: up to its first NUL.
pub(crate) fn cstr(b: &[u8]) -> &[u8] {
    match b.iter().position(|&c| c == 0) {
        Some(n) => &b[..n],
        None => b,
    }
}

/// `%02x` of a `char` (signed on x86): bytes from 0x80 print as `ffffff80`.
pub(crate) fn hex_char(b: u8) -> String {
    format!("{:02x}", b as i8 as i32 as u32)
}

/// glibc's `dirname`: the path without its last component, `.` when there is none.
pub(crate) fn dirname(path: &[u8]) -> Vec<u8> {
    let trimmed = trim_end_slashes(path);
    if trimmed.is_empty() {
        return if path.is_empty() {
            b".".to_vec()
        } else {
            b"/".to_vec()
        };
    }
    match trimmed.iter().rposition(|&b| b == b'/') {
        None => b".".to_vec(),
        Some(slash) => {
            let dir = trim_end_slashes(&trimmed[..slash]);
            if dir.is_empty() {
                b"/".to_vec()
            } else {
                dir.to_vec()
            }
        }
    }
}

fn trim_end_slashes(p: &[u8]) -> &[u8] {
    let end = p.iter().rposition(|&b| b != b'/').map_or(0, |i| i + 1);
    &p[..end]
}

/// strerror's text for an I/O error (Rust adds " (os error N)").
pub(crate) fn strerror(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.rfind(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// A warning as serverLog writes it to stdout from redis-check-aof:
/// `pid:C dd Mon yyyy hh:mm:ss.mmm # message` (Redis uses local time; this is
/// UTC), the message cut at Redis's 1024-byte log buffer.
pub(crate) fn log_line(pid: u32, unix_ms: i64, msg: &[u8]) -> Vec<u8> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = unix_ms.div_euclid(1000);
    let ms = unix_ms.rem_euclid(1000);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let t = secs.rem_euclid(86_400);
    let month = MONTHS.get(m.saturating_sub(1) as usize).unwrap_or(&"Jan");
    let mut line = format!(
        "{pid}:C {d:02} {month} {y} {:02}:{:02}:{:02}.{ms:03} # ",
        t / 3600,
        t / 60 % 60,
        t % 60
    )
    .into_bytes();
    line.extend_from_slice(&msg[..msg.len().min(1023)]);
    line.push(b'\n');
    line
}

/// Days since 1970-01-01 to (year, month, day) (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtol_like_glibc() {
        assert_eq!(strtol(b"12\r\n"), (12, 2, false));
        assert_eq!(strtol(b" \t-7x"), (-7, 4, false));
        assert_eq!(strtol(b"+"), (0, 0, false));
        assert_eq!(strtol(b"\r\n"), (0, 0, false));
        assert_eq!(strtol(b"99999999999999999999z"), (i64::MAX, 20, true));
        assert_eq!(strtol(b"-9223372036854775808"), (i64::MIN, 20, false));
        assert_eq!(strtol(b"9223372036854775808"), (i64::MAX, 19, true));
        assert_eq!(atoll(b"3\0 4"), 3);
    }

    #[test]
    fn dirname_like_glibc() {
        for (p, d) in [
            ("a/b/c", "a/b"),
            ("c", "."),
            ("/c", "/"),
            ("a/b/", "a"),
            ("", "."),
            ("/", "/"),
            ("a//b", "a"),
        ] {
            assert_eq!(dirname(p.as_bytes()), d.as_bytes(), "{p}");
        }
    }

    #[test]
    fn formats_like_printf_and_serverlog() {
        assert_eq!(hex_char(0x0d), "0d");
        assert_eq!(hex_char(0x80), "ffffff80");
        assert_eq!(
            log_line(7, 1_795_604_453_439, b"x"),
            b"7:C 25 Nov 2026 11:00:53.439 # x\n"
        );
    }
}
