//! `--eval file keys , args`: builds the EVAL command from the script file.

use crate::session::Fatal;

/// `EVAL <script> <numkeys> keys... args...`; a lone `,` separates keys from args.
pub fn command(file: &str, rest: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, Fatal> {
    let script = std::fs::read(file).map_err(|e| {
        Fatal::Message(format!(
            "Can't open file '{file}': {}",
            crate::connection::strerror(&e)
        ))
    })?;
    let (keys, args): (Vec<_>, Vec<_>) = match rest.iter().position(|a| a == b",") {
        Some(p) => (rest[..p].to_vec(), rest[p + 1..].to_vec()),
        None => (rest.to_vec(), Vec::new()),
    };
    let mut cmd = vec![
        b"EVAL".to_vec(),
        script,
        keys.len().to_string().into_bytes(),
    ];
    cmd.extend(keys);
    cmd.extend(args);
    Ok(cmd)
}
