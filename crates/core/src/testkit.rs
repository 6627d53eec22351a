//! The in-process test helper: an engine without a server, and a command line run
//! through `Engine::execute` exactly as a connection would, its raw reply as text.

use ferrokv_resp::{Protocol, ReplyBuf};

use crate::client::Client;
use crate::config::Config;
use crate::engine::Engine;
use crate::hooks::{NoHooks, ServerHooks};

/// A fresh engine with the default configuration and a client of it.
pub(crate) fn setup() -> (Engine, Client) {
    (Engine::new(Config::default(), &[]), Client::new(1, true))
}

/// Runs `line` (arguments separated by single spaces) with `hooks`, replying in
/// `proto`; the reply as written to the connection (empty when it blocked).
pub(crate) fn run_with(
    e: &Engine,
    c: &mut Client,
    hooks: &dyn ServerHooks,
    proto: Protocol,
    line: &str,
) -> String {
    let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
    let mut out = ReplyBuf::new(proto);
    e.execute(c, &args, &mut out, hooks);
    String::from_utf8_lossy(out.as_bytes()).into_owned()
}

/// [`run_with`] without hooks, in the client's protocol.
pub(crate) fn run(e: &Engine, c: &mut Client, line: &str) -> String {
    let proto = c.proto;
    run_with(e, c, &NoHooks, proto, line)
}
