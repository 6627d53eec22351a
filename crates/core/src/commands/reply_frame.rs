//! Writing a stored [`Frame`] (command metadata) in the client's protocol.

use ferrokv_resp::{Frame, ReplyBuf};

/// Writes `f` to `out`, turning RESP3-only types into their RESP2 forms when the
/// client speaks RESP2 (maps flatten, sets become arrays, ...).
pub fn write_frame(out: &mut ReplyBuf, f: &Frame) {
    match f {
        Frame::Simple(s) => out.simple(s),
        Frame::Error(e) => out.error(&String::from_utf8_lossy(e)),
        Frame::BlobError(e) => out.error(&String::from_utf8_lossy(e)),
        Frame::Integer(i) => out.int(*i),
        Frame::Bulk(b) => out.bulk(b),
        Frame::Null | Frame::NullBulk => out.null(),
        Frame::NullArray => out.null_array(),
        Frame::Array(items) => {
            out.array(items.len());
            items.iter().for_each(|i| write_frame(out, i));
        }
        Frame::Push(items) => {
            out.push(items.len());
            items.iter().for_each(|i| write_frame(out, i));
        }
        Frame::Set(items) => {
            out.set(items.len());
            items.iter().for_each(|i| write_frame(out, i));
        }
        Frame::Map(pairs) => {
            out.map(pairs.len());
            for (k, v) in pairs {
                write_frame(out, k);
                write_frame(out, v);
            }
        }
        Frame::Attribute { data, .. } => write_frame(out, data),
        Frame::Double(d) => out.double(*d),
        Frame::Boolean(b) => out.boolean(*b),
        Frame::BigNumber(n) => out.big_number(n),
        Frame::Verbatim { format, data } => out.verbatim(format, data),
    }
}
