//! Core of auditlake.
