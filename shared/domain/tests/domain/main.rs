//! Integration tests of the `domain` crate: checks that need nothing but the pure core.

mod documentation;
mod lenient;
mod typed_identity;
mod typed_scanner;
