//! Audit of the auditor: one structured line per MCP tool call and per question, with who asked
//! (the token's subject and sign-in name), through which transport, which tool, its arguments
//! (the caller's own input, cut to 512 characters) and how large the answer was, never the
//! answer itself (audit records are attacker-written and may be sensitive). The lines go to the
//! function's log (CloudWatch in the stack) under the target `auditlake::audit`, so an admin can
//! list every question with one filter (README, "MCP and questions").

use domain::access::Principal;

/// The tracing target of every audit line.
pub const TARGET: &str = "auditlake::audit";

/// Who called: the subject, and the sign-in name when the token carries one.
pub fn caller(p: Option<&Principal>) -> String {
    match p {
        Some(p) => match &p.upn {
            Some(upn) => format!("{} ({upn})", p.subject),
            None => p.subject.clone(),
        },
        None => "unauthenticated".into(),
    }
}

/// The arguments as the line shows them: compact JSON, at most 512 characters.
pub fn shown(args: &serde_json::Value) -> String {
    let text = args.to_string();
    match text.char_indices().nth(512) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text,
    }
}

/// What became of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Answered (the route's status was 2xx).
    Ok,
    /// The route answered an error (bad input, not found, a store failure).
    Failed,
    /// The caller's role does not allow the tool, or (inside a question) the tool is not
    /// read-only.
    Refused,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Failed => "failed",
            Outcome::Refused => "refused",
        }
    }
}

/// One tool call: `via` is `http`, `stdio` or `ask` (a call the model made inside a question).
#[allow(clippy::too_many_arguments)]
pub fn tool_call(
    caller: &str,
    via: &str,
    tool: &str,
    args: &serde_json::Value,
    outcome: Outcome,
    status: u16,
    result_bytes: usize,
    elapsed_ms: u128,
) {
    tracing::info!(
        target: TARGET,
        audit = "tool_call",
        caller,
        via,
        tool,
        arguments = %shown(args),
        outcome = outcome.as_str(),
        status,
        result_bytes,
        elapsed_ms = elapsed_ms as u64,
        "MCP tool call."
    );
}

/// One question (`POST /ask`, `POST /events/{id}/explain`, the `ask` tool): the question
/// itself is the caller's input and is logged (cut); the answer is not, only its size, the
/// steps, the tokens spent and the event ids it cites.
#[allow(clippy::too_many_arguments)]
pub fn question(
    caller: &str,
    via: &str,
    question: &str,
    outcome: &str,
    steps: u32,
    tokens: u64,
    answer_bytes: usize,
    citations: usize,
    elapsed_ms: u128,
) {
    tracing::info!(
        target: TARGET,
        audit = "question",
        caller,
        via,
        question = %shown(&serde_json::Value::String(question.to_string())),
        outcome,
        steps,
        tokens,
        answer_bytes,
        citations,
        elapsed_ms = elapsed_ms as u64,
        "Question."
    );
}
