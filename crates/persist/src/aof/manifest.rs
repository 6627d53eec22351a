//! The AOF manifest: which files make up the AOF, in what order.
//!
//! Redis 7.0 writes one line per file, `file <name> seq <n> type <b|h|i>`: the
//! base first, then history files (old files of a finished rewrite, about to be
//! deleted), then the incr files in order. Names that need it are quoted as
//! Redis's sdscatrepr does. Lines starting with `#` are comments.

/// The role of a file in the manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// `b`: the base (RDB or commands).
    Base,
    /// `h`: left over from before the last rewrite, to be deleted.
    History,
    /// `i`: commands since the base.
    Incr,
}

impl FileKind {
    fn letter(self) -> char {
        match self {
            FileKind::Base => 'b',
            FileKind::History => 'h',
            FileKind::Incr => 'i',
        }
    }
}

/// One file of the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AofFile {
    /// File name, relative to the AOF folder.
    pub name: String,
    /// Sequence number.
    pub seq: u64,
    /// Role.
    pub kind: FileKind,
}

/// The parsed manifest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    /// The base file, if any.
    pub base: Option<AofFile>,
    /// Incr files, in load order.
    pub incrs: Vec<AofFile>,
    /// History files (not loaded; deleted when convenient).
    pub history: Vec<AofFile>,
    /// Highest base sequence number used.
    pub base_seq: u64,
    /// Highest incr sequence number used.
    pub incr_seq: u64,
}

/// Why a manifest could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ManifestError(pub String);

/// Redis's limit on a manifest line.
const MAX_LINE: usize = 1024;

impl Manifest {
    /// Parses manifest text as Redis 7.0's aofLoadManifestFromFile: line by line
    /// (a line is what ends with a newline: a last line without one is "too
    /// long"), `#` comments skipped, blank lines refused, at least `file`, `seq`
    /// and `type` in key/value pairs (unknown keys skipped, keys in any case), the
    /// type by its first letter, with Redis's error texts.
    pub fn parse(text: &str) -> Result<Manifest, ManifestError> {
        let err = |m: &str| Err(ManifestError(m.to_string()));
        if text.is_empty() {
            return err("Found an empty AOF manifest");
        }
        let mut m = Manifest::default();
        let mut rest = text;
        while !rest.is_empty() {
            let (line, ended) = match rest.find('\n') {
                Some(i) => {
                    let line = &rest[..i];
                    rest = &rest[i + 1..];
                    (line, true)
                }
                None => {
                    let line = rest;
                    rest = "";
                    (line, false)
                }
            };
            if line.starts_with('#') {
                continue;
            }
            if !ended || line.len() + 1 > MAX_LINE {
                return err("The AOF manifest file contains too long line");
            }
            let line = line.trim_matches([' ', '\t', '\r']);
            if line.is_empty() {
                return err("Invalid AOF manifest file format");
            }
            let Some(words) = split_args(line) else {
                return err("Invalid AOF manifest file format");
            };
            // At least the three pairs, in pairs ('argc < 6' in Redis).
            if words.len() < 6 || words.len() % 2 != 0 {
                return err("Invalid AOF manifest file format");
            }
            let (mut name, mut seq, mut kind) = (None, 0u64, None);
            for pair in words.chunks(2) {
                let key = pair[0].to_ascii_lowercase();
                match key.as_str() {
                    "file" => {
                        if pair[1].contains('/') {
                            return err("File can't be a path, just a filename");
                        }
                        name = Some(pair[1].clone());
                    }
                    // atoll: leading digits, 0 when there are none.
                    "seq" => seq = atoll(&pair[1]),
                    "type" => kind = pair[1].bytes().next(),
                    // Unknown keys are skipped, as Redis does.
                    _ => {}
                }
            }
            let (Some(name), true, Some(kind)) = (name, seq != 0, kind) else {
                return err("Invalid AOF manifest file format");
            };
            let kind = match kind {
                b'b' => FileKind::Base,
                b'h' => FileKind::History,
                b'i' => FileKind::Incr,
                _ => return err("Unknown AOF file type"),
            };
            let f = AofFile { name, seq, kind };
            match kind {
                FileKind::Base => {
                    if m.base.is_some() {
                        return err("Found duplicate base file information");
                    }
                    m.base_seq = seq;
                    m.base = Some(f);
                }
                FileKind::History => m.history.push(f),
                FileKind::Incr => {
                    if seq <= m.incr_seq {
                        return err("Found a non-monotonic sequence number");
                    }
                    m.incr_seq = seq;
                    m.incrs.push(f);
                }
            }
        }
        Ok(m)
    }

    /// The manifest text, as Redis writes it.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        for f in self.base.iter().chain(&self.history).chain(&self.incrs) {
            s.push_str(&format!(
                "file {} seq {} type {}\n",
                quote(&f.name),
                f.seq,
                f.kind.letter()
            ));
        }
        s
    }

    /// Files to load, in order: the base, then the incrs.
    pub fn load_order(&self) -> impl Iterator<Item = &AofFile> {
        self.base.iter().chain(&self.incrs)
    }

    /// Adds a new incr file (named from `filename`) and returns its name.
    pub fn add_incr(&mut self, filename: &str) -> String {
        self.incr_seq += 1;
        let name = format!("{filename}.{}.incr.aof", self.incr_seq);
        self.incrs.push(AofFile {
            name: name.clone(),
            seq: self.incr_seq,
            kind: FileKind::Incr,
        });
        name
    }

    /// The name the next base file will have.
    pub fn next_base_name(&self, filename: &str, rdb: bool) -> (String, u64) {
        let seq = self.base_seq + 1;
        let ext = if rdb { "rdb" } else { "aof" };
        (format!("{filename}.{seq}.base.{ext}"), seq)
    }

    /// After a rewrite: `base` replaces the old base, and every incr file before
    /// `first_kept_incr` (those the base covers) becomes history.
    pub fn install_base(&mut self, name: String, seq: u64, first_kept_incr: &str) {
        if let Some(mut old) = self.base.take() {
            old.kind = FileKind::History;
            self.history.push(old);
        }
        self.base = Some(AofFile {
            name,
            seq,
            kind: FileKind::Base,
        });
        self.base_seq = seq;
        if let Some(pos) = self.incrs.iter().position(|f| f.name == first_kept_incr) {
            for mut f in self.incrs.drain(..pos) {
                f.kind = FileKind::History;
                self.history.push(f);
            }
        }
    }
}

/// A name quoted as sdscatrepr does, when it has characters that need it.
fn quote(name: &str) -> String {
    let needs = name
        .bytes()
        .any(|b| b <= b' ' || b >= 0x7f || b == b'"' || b == b'\'' || b == b'\\');
    if !needs {
        return name.to_string();
    }
    String::from_utf8_lossy(&ferrokv_resp::repr(name.as_bytes())).into_owned()
}

/// Splits a line into words as sdssplitargs: spaces separate, double quotes allow
/// escapes, single quotes are literal. `None` for unbalanced quotes.
/// C's atoll over the leading digits (with an optional sign); negative values and
/// none count as 0, which the manifest refuses.
fn atoll(s: &str) -> u64 {
    let s = s.trim_start();
    let digits = s.strip_prefix('+').unwrap_or(s);
    let end = digits
        .bytes()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(digits.len());
    digits[..end].parse::<u64>().unwrap_or(0)
}

fn split_args(line: &str) -> Option<Vec<String>> {
    let b = line.as_bytes();
    let mut words = Vec::new();
    let mut i = 0;
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() {
            return Some(words);
        }
        let mut w: Vec<u8> = Vec::new();
        match b[i] {
            b'"' => {
                i += 1;
                loop {
                    let c = *b.get(i)?;
                    i += 1;
                    match c {
                        b'"' => break,
                        b'\\' => {
                            let e = *b.get(i)?;
                            i += 1;
                            match e {
                                b'n' => w.push(b'\n'),
                                b'r' => w.push(b'\r'),
                                b't' => w.push(b'\t'),
                                b'a' => w.push(0x07),
                                b'b' => w.push(0x08),
                                b'x' => {
                                    let hex = line.get(i..i + 2)?;
                                    w.push(u8::from_str_radix(hex, 16).ok()?);
                                    i += 2;
                                }
                                other => w.push(other),
                            }
                        }
                        c => w.push(c),
                    }
                }
                if i < b.len() && !b[i].is_ascii_whitespace() {
                    return None;
                }
            }
            b'\'' => {
                i += 1;
                loop {
                    let c = *b.get(i)?;
                    i += 1;
                    if c == b'\'' {
                        break;
                    }
                    w.push(c);
                }
                if i < b.len() && !b[i].is_ascii_whitespace() {
                    return None;
                }
            }
            _ => {
                while i < b.len() && !b[i].is_ascii_whitespace() {
                    w.push(b[i]);
                    i += 1;
                }
            }
        }
        words.push(String::from_utf8_lossy(&w).into_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What redis-server 7.0.15 writes after one BGREWRITEAOF.
    const REDIS: &str = "file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n";

    #[test]
    fn parses_and_writes_redis_manifests() {
        let m = Manifest::parse(REDIS).unwrap();
        assert_eq!(m.base.as_ref().unwrap().name, "appendonly.aof.2.base.rdb");
        assert_eq!(m.incrs.len(), 1);
        assert_eq!((m.base_seq, m.incr_seq), (2, 2));
        assert_eq!(m.to_text(), REDIS);
    }

    #[test]
    fn rewrite_bookkeeping() {
        let mut m = Manifest::parse(REDIS).unwrap();
        let incr = m.add_incr("appendonly.aof");
        assert_eq!(incr, "appendonly.aof.3.incr.aof");
        let (base, seq) = m.next_base_name("appendonly.aof", false);
        m.install_base(base, seq, &incr);
        assert_eq!(
            m.to_text(),
            "file appendonly.aof.3.base.aof seq 3 type b\n\
             file appendonly.aof.2.base.rdb seq 2 type h\n\
             file appendonly.aof.2.incr.aof seq 2 type h\n\
             file appendonly.aof.3.incr.aof seq 3 type i\n"
        );
        let names: Vec<&str> = m.load_order().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            ["appendonly.aof.3.base.aof", "appendonly.aof.3.incr.aof"]
        );
    }

    #[test]
    fn quoted_names_round_trip() {
        let mut m = Manifest::default();
        m.add_incr("my file\".aof");
        let text = m.to_text();
        assert_eq!(text, "file \"my file\\\".aof.1.incr.aof\" seq 1 type i\n");
        assert_eq!(Manifest::parse(&text).unwrap(), m);
    }

    #[test]
    fn refuses_bad_manifests() {
        for bad in [
            "file a seq 1\n",
            "file a seq x type b\n",
            "file \"a seq 1 type b\n",
            "file a seq 1 type b\nfile c seq 2 type b\n",
            "file a seq 2 type i\nfile c seq 1 type i\n",
            "",
            "file a seq 1 type b\n\nfile b seq 1 type i\n",
            "file a seq 1 type b",
            "file a seq 1 type x\n",
            "file a seq 0 type b\n",
            "file dir/a seq 1 type b\n",
        ] {
            assert!(Manifest::parse(bad).is_err(), "{bad:?}");
        }
        // As Redis: comments alone are a manifest with no files.
        assert_eq!(
            Manifest::parse("# only a comment\n"),
            Ok(Manifest::default())
        );
        // Found by the aof_reader fuzz target: such a manifest writes as empty
        // text, which does not load back (as in Redis; neither writes one).
        let m = Manifest::parse("#\0\0\0t\n").expect("comments only");
        assert_eq!(m.to_text(), "");
        assert_eq!(
            Manifest::parse(&m.to_text()),
            Err(ManifestError("Found an empty AOF manifest".into()))
        );
        assert_eq!(
            Manifest::parse("file a seq 1 type x\n"),
            Err(ManifestError("Unknown AOF file type".into()))
        );
    }
}
