//! The proof that resolves code references is made only inside the executor, from a task frame.
fn main() {
    let _proof = weft_executor::Verified::check(weft_executor::build_id());
}
