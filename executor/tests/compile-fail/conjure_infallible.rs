//! Conjuring an uninhabited type would be undefined behaviour: `conjure` is `unsafe`.
fn main() {
    let _never: std::convert::Infallible = weft_executor::conjure();
}
