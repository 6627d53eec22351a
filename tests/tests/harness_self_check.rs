//! The differential harness must notice a difference (INFO differs by design).

#[test]
#[should_panic(expected = "reply differs")]
fn harness_detects_differences() {
    let mut d = ferrokv_tests::Diff::new();
    d.line("INFO server");
}
