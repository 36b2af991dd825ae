//! What a process of auditlake needs from its host, shared by the pullers, the query API and the
//! CLI: the system clock and the real-time deadline of a run ([`clock`]), the tracing setup and the
//! EMF metrics line ([`telemetry`]). Nothing here knows a Microsoft API or an AWS service.

pub mod clock;
pub mod telemetry;
