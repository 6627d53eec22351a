//! The ACL rule parser on arbitrary text, three ways:
//!
//! - the whole input as an ACL file (`acl::file::parse`, ACL LOAD and the
//!   aclfile at startup); a file that loads must load again, unchanged, from
//!   what ACL SAVE would write for it;
//! - every line split as redis-cli would (`split_args`) and given to
//!   ACL SETUSER of one user (rules, `(...)` selectors spread over arguments);
//!   the same words are then checked as a command against that user
//!   (`acl::check::check`: key patterns, channels, first-arg rules);
//! - the user's description (ACL GETUSER / ACL LIST) must be accepted again by
//!   ACL SETUSER on a fresh user and describe the same user.
//!
//! Errors are fine; panics and a description that does not round-trip are bugs,
//! except where Redis's own does not: a selector whose rule (a key pattern, a
//! channel, a first argument) ends with `)` before its last is cut there when
//! read back, by Redis as by ferrokv (`ACL SETUSER u "(~a) ~b)"` then ACL LIST
//! shows `(~a) ~b) ...`, which ACL SETUSER and ACL LOAD refuse in redis-server
//! 7.0.15 too), so users holding such a selector are left out of both checks.
//!
//! `cargo xtask fuzz` runs it (`cargo fuzz run acl_rules` from crates/core).
#![no_main]

use ferrokv_core::acl::{check, file, user, Acl};
use ferrokv_core::commands::meta;
use ferrokv_core::config::Config;
use libfuzzer_sys::fuzz_target;

fn describe_all(acl: &Acl) -> Vec<u8> {
    file::render(acl)
}

/// Whether a selector of `u` (not its root) has a rule ending with `)` before
/// its last: its description does not read back as the same selector, in Redis
/// either (see above).
fn ambiguous(u: &user::User) -> bool {
    u.selectors.iter().skip(1).any(|s| {
        let d = s.describe();
        let words: Vec<&[u8]> = d.split(|&b| b == b' ').filter(|w| !w.is_empty()).collect();
        words.iter().rev().skip(1).any(|w| w.ends_with(b")"))
    })
}

fuzz_target!(|data: &[u8]| {
    let pubsub_all = data.first().is_some_and(|b| b & 1 == 1);

    // The input as an ACL file.
    let parsed = file::parse(data, "fuzz.acl", pubsub_all).ok();
    if let Some(users) = parsed.filter(|users| !users.values().any(|u| ambiguous(u))) {
        let acl = Acl::new(&Config::default());
        acl.replace_all(users);
        let saved = describe_all(&acl);
        match file::parse(&saved, "fuzz.acl", pubsub_all) {
            Ok(again) => {
                let acl2 = Acl::new(&Config::default());
                acl2.replace_all(again);
                assert_eq!(
                    String::from_utf8_lossy(&describe_all(&acl2)),
                    String::from_utf8_lossy(&saved),
                    "ACL SAVE then ACL LOAD changed the users"
                );
            }
            Err(e) => panic!(
                "ACL SAVE wrote a file ACL LOAD refuses: {e}\n{}",
                String::from_utf8_lossy(&saved)
            ),
        }
    }

    // Each line as ACL SETUSER rules, then as a command to check.
    let acl = Acl::new(&Config::default());
    for line in data.split(|&b| b == b'\n') {
        let Some(words) = user::split_args(line) else {
            continue;
        };
        let rules: Vec<&[u8]> = words.iter().map(Vec::as_slice).collect();
        let _ = acl.set_user(b"fuzz", &rules, pubsub_all);
        if let (Some(u), Some(cmd)) = (acl.get(b"fuzz"), meta::lookup(&rules)) {
            let _ = check::check(&u, cmd, &rules);
            if let Some(ch) = rules.get(1) {
                let _ = check::channel_allowed(&u, ch, false);
                let _ = check::channel_allowed(&u, ch, true);
            }
        }
    }
    if let Some(u) = acl.get(b"fuzz").filter(|u| !ambiguous(u)) {
        let _ = u.flag_names().count();
        let desc = u.describe();
        let words = user::split_args(&desc).expect("a description splits");
        let rules: Vec<&[u8]> = words.iter().map(Vec::as_slice).collect();
        let fresh = Acl::new(&Config::default());
        if let Err(e) = fresh.set_user(b"fuzz", &rules, pubsub_all) {
            panic!(
                "ACL SETUSER refuses the user's own description {:?}: {e}",
                String::from_utf8_lossy(&desc)
            );
        }
        let again = fresh.get(b"fuzz").expect("just set").describe();
        assert_eq!(
            String::from_utf8_lossy(&again),
            String::from_utf8_lossy(&desc),
            "a user's description describes another user"
        );
    }
});
