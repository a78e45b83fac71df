//! A code reference (which deserializes from any integer) cannot be resolved by user code.
use weft_executor::code::CodePointer;
use weft_executor::{FnRef, Verified};

fn call<S: CodePointer>(reference: FnRef<S>, proof: &Verified) -> S {
    reference.resolve(proof)
}

fn main() {}
