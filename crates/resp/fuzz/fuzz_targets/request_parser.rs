//! Arbitrary bytes into the server's request parser: whole, and revealed in chunks
//! (sized by the first input byte) as a server reading a socket would. Both must give
//! the same requests and the same error, and never panic.
#![no_main]

use ferrokv_resp::{ProtocolError, RequestParser};
use libfuzzer_sys::fuzz_target;

type Outcome = (Vec<Vec<Vec<u8>>>, Option<ProtocolError>);

fn run(input: &[u8], chunk: usize) -> Outcome {
    let mut p = RequestParser::default();
    let mut reqs = Vec::new();
    let mut off = 0;
    let mut avail = 0;
    while avail < input.len() {
        avail = (avail + chunk).min(input.len());
        while off < avail {
            match p.parse(&input[off..avail]) {
                Ok(Some(n)) => {
                    assert!(n > 0 && off + n <= avail);
                    assert_eq!(p.argc(), p.args(&input[off..avail]).len());
                    reqs.push(p.args(&input[off..avail]).map(<[u8]>::to_vec).collect());
                    off += n;
                }
                Ok(None) => break,
                Err(e) => return (reqs, Some(e)),
            }
        }
    }
    (reqs, None)
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, input)) = data.split_first() else {
        return;
    };
    let whole = run(input, input.len().max(1));
    let chunked = run(input, usize::from(first % 16) + 1);
    assert_eq!(whole, chunked);
});
