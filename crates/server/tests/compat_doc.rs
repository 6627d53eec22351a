//! docs/compatibility.md must match the command table. Regenerate with
//! `cargo xtask gen-docs` (or FERROKV_BLESS=1 on this test).

#[test]
fn compatibility_doc_is_current() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/compatibility.md");
    let want = ferrokv_server::compat::markdown();
    if std::env::var("FERROKV_BLESS").is_ok() {
        std::fs::write(&path, &want).expect("write docs/compatibility.md");
        return;
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "docs/compatibility.md is stale: run `cargo xtask gen-docs`"
    );
}
