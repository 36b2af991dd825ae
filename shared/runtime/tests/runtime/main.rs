//! Integration tests of the `runtime` crate: the EMF metrics line a puller prints after each run,
//! and the template's alarms against it ([`emf`]).

mod emf;
