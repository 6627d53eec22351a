//! Script flags: the `#!lua flags=no-writes,allow-oom` first line of an EVAL
//! script, and the flags of `redis.register_function`.

use crate::commands::meta::Flags;

/// Redis's SCRIPT_FLAG_* bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ScriptFlags(pub u8);

impl ScriptFlags {
    pub const NO_WRITES: ScriptFlags = ScriptFlags(1);
    pub const ALLOW_OOM: ScriptFlags = ScriptFlags(2);
    pub const ALLOW_STALE: ScriptFlags = ScriptFlags(4);
    pub const NO_CLUSTER: ScriptFlags = ScriptFlags(8);
    /// A script without a shebang: Redis 6 semantics (flags come from what it does).
    pub const EVAL_COMPAT: ScriptFlags = ScriptFlags(16);
    pub const ALLOW_CROSS_SLOT: ScriptFlags = ScriptFlags(32);

    /// The flag names, in Redis's order (FUNCTION LIST shows them so).
    pub const NAMES: [(&'static str, ScriptFlags); 5] = [
        ("no-writes", ScriptFlags::NO_WRITES),
        ("allow-oom", ScriptFlags::ALLOW_OOM),
        ("allow-stale", ScriptFlags::ALLOW_STALE),
        ("no-cluster", ScriptFlags::NO_CLUSTER),
        ("allow-cross-slot-keys", ScriptFlags::ALLOW_CROSS_SLOT),
    ];

    pub fn has(self, f: ScriptFlags) -> bool {
        self.0 & f.0 != 0
    }

    pub fn with(self, f: ScriptFlags) -> ScriptFlags {
        ScriptFlags(self.0 | f.0)
    }

    /// The flag called `name` (exact, as the shebang wants it).
    pub fn named(name: &str) -> Option<ScriptFlags> {
        Self::NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, f)| *f)
    }

    /// How the script's flags change its command's flags at admission (Redis's
    /// scriptFlagsToCmdFlags); a script without a shebang keeps the command's.
    pub fn command_flags(self, cmd: Flags) -> Flags {
        if self.has(Self::EVAL_COMPAT) {
            return cmd;
        }
        let mut f = cmd.0 & !(Flags::STALE.0 | Flags::DENYOOM.0 | Flags::WRITE.0);
        if !self.has(Self::ALLOW_OOM) && !self.has(Self::NO_WRITES) {
            f |= Flags::DENYOOM.0;
        }
        if !self.has(Self::NO_WRITES) {
            f |= Flags::WRITE.0;
        }
        if self.has(Self::ALLOW_STALE) {
            f |= Flags::STALE.0;
        }
        Flags(f & !Flags::MAY_REPLICATE.0)
    }
}

/// Reads the shebang of `body`: its flags and the length of the line (kept out of
/// the compiled code, its newline kept so line numbers stay right).
pub fn parse(body: &[u8]) -> Result<(ScriptFlags, usize), String> {
    if !body.starts_with(b"#!") {
        return Ok((ScriptFlags::EVAL_COMPAT, 0));
    }
    let Some(end) = body.iter().position(|&b| b == b'\n') else {
        return Err("Invalid script shebang".into());
    };
    let line = String::from_utf8_lossy(&body[..end]);
    let parts = crate::config::file::split_line(&line).unwrap_or_default();
    let Some(engine) = parts.first() else {
        return Err("Invalid engine in script shebang".into());
    };
    if *engine != "#!lua" {
        return Err(format!("Unexpected engine in script shebang: {engine}"));
    }
    let mut flags = ScriptFlags(0);
    for part in &parts[1..] {
        let Some(list) = part.strip_prefix("flags=") else {
            return Err(format!("Unknown lua shebang option: {part}"));
        };
        if list.is_empty() {
            continue;
        }
        for name in list.split(',') {
            match ScriptFlags::named(name) {
                Some(f) => flags = flags.with(f),
                None => return Err(format!("Unexpected flag in script shebang: {name}")),
            }
        }
    }
    Ok((flags, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shebang_lines() {
        assert_eq!(parse(b"return 1").unwrap(), (ScriptFlags::EVAL_COMPAT, 0));
        assert_eq!(parse(b"#!lua\nreturn 1").unwrap(), (ScriptFlags(0), 5));
        assert_eq!(
            parse(b"#!lua flags=no-writes,allow-oom\n").unwrap().0,
            ScriptFlags(3)
        );
        assert_eq!(parse(b"#!lua").unwrap_err(), "Invalid script shebang");
        assert_eq!(
            parse(b"#!luajit\n").unwrap_err(),
            "Unexpected engine in script shebang: #!luajit"
        );
        assert_eq!(
            parse(b"#!lua flags=bad\n").unwrap_err(),
            "Unexpected flag in script shebang: bad"
        );
        assert_eq!(
            parse(b"#!lua foo=bar\n").unwrap_err(),
            "Unknown lua shebang option: foo=bar"
        );
        // "flags=" alone declares no flag.
        assert_eq!(parse(b"#!lua flags=\n").unwrap().0, ScriptFlags(0));
    }
}
