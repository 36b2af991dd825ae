//! Integration tests of the `auditlake` binary, run as a process the way an operator runs it.

mod serve;
