//! Command help for the REPL: `help <command>`, `help @group` and typing hints,
//! taken from the server's COMMAND DOCS, with a small built-in table for servers
//! that do not have it.

use std::collections::BTreeMap;

use ferrokv_resp::Frame;

/// What help shows for one command or subcommand.
#[derive(Debug, Clone, Default)]
pub struct Doc {
    /// Upper case, with the container for subcommands: `CLIENT LIST`.
    pub name: String,
    pub params: String,
    pub summary: String,
    pub since: String,
    pub group: String,
}

/// All the docs, keyed by the lower-case full name (`client list`).
#[derive(Debug, Default)]
pub struct Docs {
    pub commands: BTreeMap<String, Doc>,
}

/// Key/value pairs of a RESP3 map, or of a RESP2 flat array of alternating items.
fn pairs(f: &Frame) -> Vec<(&Frame, &Frame)> {
    match f {
        Frame::Map(p) => p.iter().map(|(k, v)| (k, v)).collect(),
        Frame::Array(items) => items
            .chunks(2)
            .filter(|c| c.len() == 2)
            .map(|c| (&c[0], &c[1]))
            .collect(),
        _ => Vec::new(),
    }
}

fn text(f: &Frame) -> String {
    f.as_bytes()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default()
}

fn field<'a>(f: &'a Frame, name: &str) -> Option<&'a Frame> {
    pairs(f)
        .into_iter()
        .find(|(k, _)| text(k) == name)
        .map(|(_, v)| v)
}

fn has_flag(arg: &Frame, flag: &str) -> bool {
    match field(arg, "flags") {
        Some(Frame::Array(fl)) | Some(Frame::Set(fl)) => fl.iter().any(|x| text(x) == flag),
        _ => false,
    }
}

/// One argument in the syntax line, the way the Redis docs write it.
fn render_arg(arg: &Frame) -> String {
    let kind = field(arg, "type").map(text).unwrap_or_default();
    let token = field(arg, "token").map(text);
    let subs = || match field(arg, "arguments") {
        Some(Frame::Array(a)) => a.iter().map(render_arg).collect::<Vec<_>>(),
        _ => Vec::new(),
    };
    let body = match kind.as_str() {
        "pure-token" => return wrap(arg, token.unwrap_or_default(), None),
        "oneof" => subs().join("|"),
        "block" => subs().join(" "),
        _ => field(arg, "name").map(text).unwrap_or_default(),
    };
    wrap(arg, body, token)
}

fn wrap(arg: &Frame, body: String, token: Option<String>) -> String {
    let one = match &token {
        Some(t) => format!("{t} {body}"),
        None => body.clone(),
    };
    let s = if has_flag(arg, "multiple_token") {
        format!("{one} [{one} ...]")
    } else if has_flag(arg, "multiple") {
        format!("{one} [{body} ...]")
    } else {
        one
    };
    if has_flag(arg, "optional") {
        format!("[{s}]")
    } else {
        s
    }
}

impl Docs {
    /// Docs from a COMMAND DOCS reply.
    pub fn from_reply(reply: &Frame) -> Docs {
        let mut docs = Docs::default();
        for (name, body) in pairs(reply) {
            docs.add(&text(name), body);
        }
        docs
    }

    fn add(&mut self, name: &str, body: &Frame) {
        let params = match field(body, "arguments") {
            Some(Frame::Array(args)) => args.iter().map(render_arg).collect::<Vec<_>>().join(" "),
            _ => String::new(),
        };
        // Subcommands are named `container|sub`.
        let full = name.replace('|', " ");
        let doc = Doc {
            name: full.to_uppercase(),
            params,
            summary: field(body, "summary").map(text).unwrap_or_default(),
            since: field(body, "since").map(text).unwrap_or_default(),
            group: field(body, "group").map(text).unwrap_or_default(),
        };
        self.commands.insert(full.to_lowercase(), doc);
        if let Some(subs) = field(body, "subcommands") {
            for (sub, sub_body) in pairs(subs) {
                self.add(&text(sub), sub_body);
            }
        }
    }

    /// A small table for servers without COMMAND DOCS.
    pub fn builtin() -> Docs {
        const TABLE: &[(&str, &str, &str, &str, &str)] = &[
            ("GET", "key", "Get the value of a key", "1.0.0", "string"),
            ("SET", "key value [NX|XX] [GET] [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|KEEPTTL]", "Set the string value of a key", "1.0.0", "string"),
            ("DEL", "key [key ...]", "Delete a key", "1.0.0", "generic"),
            ("EXISTS", "key [key ...]", "Determine if a key exists", "1.0.0", "generic"),
            ("EXPIRE", "key seconds [NX|XX|GT|LT]", "Set a key's time to live in seconds", "1.0.0", "generic"),
            ("TTL", "key", "Get the time to live for a key in seconds", "1.0.0", "generic"),
            ("INCR", "key", "Increment the integer value of a key by one", "1.0.0", "string"),
            ("LPUSH", "key element [element ...]", "Prepend one or multiple elements to a list", "1.0.0", "list"),
            ("RPUSH", "key element [element ...]", "Append one or multiple elements to a list", "1.0.0", "list"),
            ("LRANGE", "key start stop", "Get a range of elements from a list", "1.0.0", "list"),
            ("HSET", "key field value [field value ...]", "Set the string value of a hash field", "2.0.0", "hash"),
            ("HGET", "key field", "Get the value of a hash field", "2.0.0", "hash"),
            ("HGETALL", "key", "Get all the fields and values in a hash", "2.0.0", "hash"),
            ("SADD", "key member [member ...]", "Add one or more members to a set", "1.0.0", "set"),
            ("SMEMBERS", "key", "Get all the members in a set", "1.0.0", "set"),
            ("ZADD", "key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]", "Add one or more members to a sorted set, or update its score if it already exists", "1.2.0", "sorted-set"),
            ("ZRANGE", "key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES]", "Return a range of members in a sorted set", "1.2.0", "sorted-set"),
            ("PING", "[message]", "Ping the server", "1.0.0", "connection"),
            ("SELECT", "index", "Change the selected database for the current connection", "1.0.0", "connection"),
            ("INFO", "[section [section ...]]", "Get information and statistics about the server", "1.0.0", "server"),
            ("SUBSCRIBE", "channel [channel ...]", "Listen for messages published to the given channels", "2.0.0", "pubsub"),
            ("PUBLISH", "channel message", "Post a message to a channel", "2.0.0", "pubsub"),
        ];
        let mut docs = Docs::default();
        for (name, params, summary, since, group) in TABLE {
            docs.commands.insert(
                name.to_lowercase(),
                Doc {
                    name: name.to_string(),
                    params: params.to_string(),
                    summary: summary.to_string(),
                    since: since.to_string(),
                    group: group.to_string(),
                },
            );
        }
        docs
    }

    /// The text `help <words>` prints; empty when nothing matches.
    pub fn help(&self, words: &[String]) -> String {
        let mut out = String::new();
        let Some(first) = words.first() else {
            return out;
        };
        if let Some(group) = first.strip_prefix('@') {
            let group = group.to_lowercase();
            for doc in self.commands.values().filter(|d| d.group == group) {
                out.push_str(&format!(
                    "\n  {} {}\n  summary: {}\n  since: {}\n",
                    doc.name, doc.params, doc.summary, doc.since
                ));
            }
            if !out.is_empty() {
                out.push('\n');
            }
            return out;
        }
        let full = words.join(" ").to_lowercase();
        let doc = self
            .commands
            .get(&full)
            .or_else(|| self.commands.get(&first.to_lowercase()));
        if let Some(doc) = doc {
            out.push_str(&format!(
                "\n  {} {}\n  summary: {}\n  since: {}\n  group: {}\n\n",
                doc.name, doc.params, doc.summary, doc.since, doc.group
            ));
        }
        out
    }

    /// The greyed-out rest of the syntax after what has been typed.
    pub fn hint(&self, line: &str) -> Option<String> {
        let words: Vec<&str> = line.split_whitespace().collect();
        let first = words.first()?.to_lowercase();
        let (doc, used) = match words
            .get(1)
            .and_then(|w| self.commands.get(&format!("{first} {}", w.to_lowercase())))
        {
            Some(d) => (d, 2),
            None => (self.commands.get(&first)?, 1),
        };
        // A word being typed takes its parameter's place too.
        let typed = words.len().saturating_sub(used);
        let rest: Vec<&str> = doc
            .params
            .split(' ')
            .filter(|s| !s.is_empty())
            .skip(typed)
            .collect();
        if rest.is_empty() {
            return None;
        }
        let sep = if line.ends_with(' ') { "" } else { " " };
        Some(format!("{sep}{}", rest.join(" ")))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn arg(name: &str, kind: &str, token: Option<&str>, flags: &[&str], subs: Vec<Frame>) -> Frame {
        let mut m = vec![
            (Frame::bulk("name"), Frame::bulk(name)),
            (Frame::bulk("type"), Frame::bulk(kind)),
        ];
        if let Some(t) = token {
            m.push((Frame::bulk("token"), Frame::bulk(t)));
        }
        if !flags.is_empty() {
            m.push((
                Frame::bulk("flags"),
                Frame::Set(flags.iter().map(Frame::simple).collect()),
            ));
        }
        if !subs.is_empty() {
            m.push((Frame::bulk("arguments"), Frame::Array(subs)));
        }
        Frame::Map(m)
    }

    #[test]
    fn syntax_line() {
        let opts = arg(
            "options",
            "block",
            None,
            &["optional"],
            vec![
                arg("count", "integer", None, &[], vec![]),
                arg(
                    "withvalues",
                    "pure-token",
                    Some("WITHVALUES"),
                    &["optional"],
                    vec![],
                ),
            ],
        );
        assert_eq!(render_arg(&opts), "[count [WITHVALUES]]");
        assert_eq!(
            render_arg(&arg("field", "string", None, &["multiple"], vec![])),
            "field [field ...]"
        );
        let cond = arg(
            "condition",
            "oneof",
            None,
            &["optional"],
            vec![
                arg("nx", "pure-token", Some("NX"), &[], vec![]),
                arg("xx", "pure-token", Some("XX"), &[], vec![]),
            ],
        );
        assert_eq!(render_arg(&cond), "[NX|XX]");
    }

    #[test]
    fn hints() {
        let d = Docs::builtin();
        assert_eq!(d.hint("get").as_deref(), Some(" key"));
        assert_eq!(
            d.hint("hset k ").as_deref(),
            Some("field value [field value ...]")
        );
        assert_eq!(d.hint("get k"), None);
        assert_eq!(
            d.hint("hset k").as_deref(),
            Some(" field value [field value ...]")
        );
    }
}
