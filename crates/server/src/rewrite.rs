//! CONFIG REWRITE and DEBUG CONFIG-REWRITE-FORCE-ALL: the config file given at
//! start rewritten with the live values (`ferrokv_core::config::rewrite`),
//! replaced atomically (temporary file, fsync, rename, fsync of the folder).

use std::io::Write;

use ferrokv_core::commands::CommandDef;
use ferrokv_core::ctx::Ctx;
use ferrokv_core::{CmdError, CmdResult};

use crate::cmds::state;

/// The table.
pub static COMMANDS: &[CommandDef] = &[CommandDef::new("config|rewrite", config_rewrite)];

fn config_rewrite(ctx: &mut Ctx<'_, '_>, _args: &[&[u8]]) -> CmdResult {
    let st = state(ctx)?;
    let Some(path) = st.config_file.clone() else {
        return Err(CmdError::Other(
            "The server is running without a config file".into(),
        ));
    };
    match rewrite_file(&st.engine.config, &path, false) {
        Ok(()) => {
            tracing::info!("CONFIG REWRITE executed with success.");
            ctx.out.ok();
            Ok(())
        }
        Err(e) => {
            tracing::warn!("CONFIG REWRITE failed: {e}");
            Err(CmdError::Other(format!("Rewriting config file: {e}")))
        }
    }
}

/// Rewrites the file at `path` (`force_all`: every parameter written).
pub fn rewrite_file(
    cfg: &ferrokv_core::config::Config,
    path: &str,
    force_all: bool,
) -> std::io::Result<()> {
    let old = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e),
    };
    let cwd = std::env::current_dir()?.to_string_lossy().into_owned();
    let new = ferrokv_core::config::rewrite::rewrite(cfg, &old, force_all, &cwd);
    let target = std::path::Path::new(path);
    let dir = target
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let tmp = dir.join(format!("tmp-{}.conf", std::process::id()));
    let written = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(new.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, target)?;
        std::fs::File::open(dir)?.sync_all()
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}
