//! Safe code outside the executor crate cannot turn bytes into a called function: it can neither
//! conjure a value of an arbitrary zero-sized type, nor make the proof that resolves a code reference,
//! nor resolve one. Each case must fail to compile, for the reason its `.stderr` file records.

#[test]
fn safe_code_cannot_conjure_or_resolve() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/compile-fail/*.rs");
}
