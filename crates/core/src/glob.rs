//! Glob-style matching with Redis's `stringmatchlen` rules, byte for byte: `*`, `?`,
//! `[...]` classes with `^` negation, ranges (reversed ranges swap) and `\` escapes,
//! a trailing `\` matching itself, optional case folding. Used by KEYS, SCAN MATCH,
//! CONFIG GET, PSUBSCRIBE and CLIENT KILL filters.

/// Whether `string` matches `pattern`.
pub fn glob_match(pattern: &[u8], string: &[u8], nocase: bool) -> bool {
    let mut skip_longer = false;
    match_impl(pattern, string, nocase, &mut skip_longer, 0)
}

fn eq(a: u8, b: u8, nocase: bool) -> bool {
    if nocase {
        a.eq_ignore_ascii_case(&b)
    } else {
        a == b
    }
}

fn match_impl(
    mut p: &[u8],
    mut s: &[u8],
    nocase: bool,
    skip_longer: &mut bool,
    nesting: usize,
) -> bool {
    // Deeply nested stars cannot match anything useful; refuse instead of recursing
    // without bound (a pattern can be hundreds of megabytes).
    if nesting > 1000 {
        return false;
    }
    while !p.is_empty() && !s.is_empty() {
        match p[0] {
            b'*' => {
                while p.len() > 1 && p[1] == b'*' {
                    p = &p[1..];
                }
                if p.len() == 1 {
                    return true;
                }
                while !s.is_empty() {
                    if match_impl(&p[1..], s, nocase, skip_longer, nesting + 1) {
                        return true;
                    }
                    if *skip_longer {
                        return false;
                    }
                    s = &s[1..];
                }
                // The rest of the pattern did not match any suffix: a longer match
                // for an earlier star cannot help either.
                *skip_longer = true;
                return false;
            }
            b'?' => s = &s[1..],
            b'[' => {
                p = &p[1..];
                let not = p.first() == Some(&b'^');
                if not {
                    p = &p[1..];
                }
                let mut matched = false;
                loop {
                    if p.first() == Some(&b'\\') && p.len() >= 2 {
                        p = &p[1..];
                        if p[0] == s[0] {
                            matched = true;
                        }
                    } else if p.first() == Some(&b']') {
                        break;
                    } else if p.is_empty() {
                        // Unterminated class: Redis steps back so the outer loop
                        // consumes the last byte as the class end.
                        break;
                    } else if p.len() >= 3 && p[1] == b'-' {
                        let (mut start, mut end) = (p[0], p[2]);
                        let mut c = s[0];
                        if start > end {
                            std::mem::swap(&mut start, &mut end);
                        }
                        if nocase {
                            start = start.to_ascii_lowercase();
                            end = end.to_ascii_lowercase();
                            c = c.to_ascii_lowercase();
                        }
                        p = &p[2..];
                        if c >= start && c <= end {
                            matched = true;
                        }
                    } else if eq(p[0], s[0], nocase) {
                        matched = true;
                    }
                    p = &p[1..];
                }
                let matched = if not { !matched } else { matched };
                if !matched {
                    return false;
                }
                s = &s[1..];
                if p.is_empty() {
                    // Pattern ended inside the class: nothing left to consume.
                    return s.is_empty() && trailing_stars_done(p);
                }
            }
            b'\\' if p.len() >= 2 => {
                p = &p[1..];
                if !eq(p[0], s[0], nocase) {
                    return false;
                }
                s = &s[1..];
            }
            c => {
                if !eq(c, s[0], nocase) {
                    return false;
                }
                s = &s[1..];
            }
        }
        p = &p[1..];
        if s.is_empty() {
            while p.first() == Some(&b'*') {
                p = &p[1..];
            }
            break;
        }
    }
    p.is_empty() && s.is_empty()
}

fn trailing_stars_done(p: &[u8]) -> bool {
    p.iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::glob_match as m;

    #[test]
    fn basics() {
        assert!(m(b"*", b"anything", false));
        assert!(!m(b"*", b"", false));
        assert!(m(b"h?llo", b"hello", false));
        assert!(m(b"h*llo", b"heeeello", false));
        assert!(m(b"h[ae]llo", b"hallo", false));
        assert!(!m(b"h[^e]llo", b"hello", false));
        assert!(m(b"h[a-b]llo", b"hbllo", false));
        assert!(m(b"h[b-a]llo", b"hbllo", false));
        assert!(m(b"h\\*llo", b"h*llo", false));
        assert!(!m(b"h\\*llo", b"hallo", false));
        assert!(m(b"a\\", b"a\\", false));
        assert!(m(b"HELLO", b"hello", true));
        assert!(m(b"*a*b*c*", b"xaybzc", false));
        assert!(!m(b"*a*b*c*d", b"xaybzc", false));
        assert!(m(b"a*", b"a", false));
        assert!(m(b"a**", b"a", false));
    }

    #[test]
    fn pathological_patterns_are_fast() {
        let p = b"a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b";
        let s = vec![b'a'; 60];
        assert!(!m(p, &s, false));
    }
}
