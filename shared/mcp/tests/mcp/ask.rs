//! Questions against the chat-completions stand-in (`testkit::llm_sim`, HTTPS on loopback with
//! the test-only CA): a multi-step tool loop to a cited answer, a base URL off the allow-list
//! refused before any request, the time and token budgets, a planted record asking for a write
//! that changes nothing, explain, the `ask` tool, and questions switched off.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use domain::config::AskConfig;
use serde_json::{Value, json};
use testkit::llm_sim::{LlmSim, PLANTED_TEXT, WRITE_TOOL};

use super::support::*;

fn config(sim: &LlmSim, extra: &[(&str, &str)]) -> AskConfig {
    let ca = testkit::receiver::ca_file();
    let mut vars: Vec<(String, String)> = [
        ("AUDITLAKE_LLM_BASE_URL", sim.base_url()),
        ("AUDITLAKE_LLM_MODEL", "sim-model".to_string()),
        ("AUDITLAKE_LLM_ALLOWLIST", sim.allow_entry()),
        ("AUDITLAKE_DESTINATIONS_ALLOW_LOOPBACK", "1".to_string()),
        ("AUDITLAKE_DESTINATIONS_CA_FILE", ca.display().to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    AskConfig::from_vars(vars).unwrap().expect("questions on")
}

fn app_with(f: &Fixture, config: AskConfig) -> axum::Router {
    let asker = mcp::ask::Asker::new(config, Some(secrecy::SecretString::from("sk-test"))).unwrap();
    mcp::router(mcp::McpApp::new(f.query.clone(), Some(asker)))
}

async fn ask(r: &axum::Router, token: &str, question: &str) -> Reply {
    call(
        r,
        "POST",
        "/ask",
        Some(token),
        Some(json!({"question": question})),
    )
    .await
}

/// Every message of every request the stand-in saw, as (role, content).
fn messages(sim: &LlmSim) -> Vec<(String, String)> {
    sim.requests()
        .iter()
        .flat_map(|r| r.body["messages"].as_array().cloned().unwrap_or_default())
        .map(|m| {
            (
                m["role"].as_str().unwrap_or_default().to_string(),
                m["content"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn tools_called(answer: &Value) -> Vec<(String, String)> {
    answer["tool_calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["tool"].as_str().unwrap().to_string(),
                c["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_question_searches_reads_and_answers_citing_the_events_it_rests_on() {
    let sim = LlmSim::start().await;
    let f = fixture(false).await;
    let r = app_with(&f, config(&sim, &[]));
    let reply = ask(&r, "reader", "What happened to \"user-2@contoso.com\"?").await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let a = &reply.body;
    assert_eq!(a["citations"], json!([f.ids[2]]));
    assert_eq!(a["unverified_citations"], json!([]));
    assert_eq!(a["steps"], 3);
    assert!(a["answer"].as_str().unwrap().contains(&f.ids[2]));
    assert_eq!(
        tools_called(a),
        [
            ("search_events".into(), "ok".into()),
            ("get_event".into(), "ok".into())
        ]
    );
    let seen = sim.requests();
    assert_eq!(seen.len(), 3);
    assert!(seen.iter().all(|s| s.path == "/v1/chat/completions"));
    assert!(
        seen.iter()
            .all(|s| s.authorization.as_deref() == Some("Bearer sk-test"))
    );
    let offered: Vec<&str> = seen[0].body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(offered, ["search_events", "get_event", "get_summary"]);
    let roles: Vec<&str> = seen[2].body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(
        roles,
        ["system", "user", "assistant", "tool", "assistant", "tool"]
    );
    // The search the model asked for carried the question's phrase; its result (the route's
    // page) held only the matching event.
    let asked: Value = serde_json::from_str(
        seen[1].body["messages"][2]["tool_calls"][0]["function"]["arguments"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(asked["q"], "user-2@contoso.com");
    let page: Value =
        serde_json::from_str(seen[1].body["messages"][3]["content"].as_str().unwrap()).unwrap();
    let listed: Vec<&str> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [f.ids[2].as_str()]);
    // Record content (the client address of every event) reached the model only in tool results.
    for (role, content) in messages(&sim) {
        if content.contains("203.0.113.7") {
            assert_eq!(role, "tool", "record content in a {role} message");
        }
    }
    assert!(
        messages(&sim)
            .iter()
            .any(|(role, c)| role == "tool" && c.contains("203.0.113.7"))
    );
    assert!(a["usage"]["total_tokens"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn a_base_url_off_the_allow_list_is_refused_before_any_request() {
    let sim = LlmSim::start().await;
    // At start: a configuration error naming the variable.
    let err = AskConfig::from_vars([
        ("AUDITLAKE_LLM_BASE_URL".to_string(), sim.base_url()),
        ("AUDITLAKE_LLM_MODEL".to_string(), "m".to_string()),
        (
            "AUDITLAKE_LLM_ALLOWLIST".to_string(),
            "api.openai.com".to_string(),
        ),
    ])
    .unwrap_err();
    assert!(
        err.problems
            .iter()
            .any(|p| p.var == "AUDITLAKE_LLM_BASE_URL" && p.problem.contains("allow-list")),
        "{err}"
    );
    let err = AskConfig::from_vars([
        (
            "AUDITLAKE_LLM_BASE_URL".to_string(),
            "http://api.openai.com/v1".to_string(),
        ),
        ("AUDITLAKE_LLM_MODEL".to_string(), "m".to_string()),
        (
            "AUDITLAKE_LLM_ALLOWLIST".to_string(),
            "api.openai.com".to_string(),
        ),
    ])
    .unwrap_err();
    assert!(err.to_string().contains("https"), "{err}");
    // At request time too, whatever the configuration says: off the list, or listed but
    // resolving to loopback without the local-only switch.
    let f = fixture(false).await;
    let mut off_list = config(&sim, &[]);
    off_list.outbound.allowlist = domain::destination::Allowlist::parse("api.openai.com").unwrap();
    let mut no_loopback = config(&sim, &[]);
    no_loopback.outbound.allow_loopback = false;
    for (c, why) in [
        (off_list, "not on the allow-list"),
        (no_loopback, "not a public address"),
    ] {
        let reply = ask(&app_with(&f, c), "reader", "anything?").await;
        assert_eq!(reply.status, StatusCode::BAD_GATEWAY, "{:?}", reply.body);
        assert_eq!(reply.body["error"]["code"], "destination_refused");
        let message = reply.body["error"]["message"].as_str().unwrap();
        assert!(message.contains(why), "{message}");
    }
    assert_eq!(sim.requests().len(), 0, "the stand-in saw a request");
}

#[tokio::test]
async fn a_question_past_its_time_budget_ends_with_a_clear_error() {
    let sim = LlmSim::start().await;
    sim.set_delay(Duration::from_secs(5));
    let f = fixture(false).await;
    let r = app_with(&f, config(&sim, &[("AUDITLAKE_LLM_TIME_BUDGET_SECS", "1")]));
    let started = Instant::now();
    let reply = ask(&r, "reader", "anything?").await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(reply.status, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(reply.body["error"]["code"], "time_budget_exceeded");
    assert!(
        reply.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("time budget of 1 s")
    );
    assert_eq!(sim.requests().len(), 1);
}

#[tokio::test]
async fn a_question_past_its_token_budget_ends_with_a_clear_error() {
    let sim = LlmSim::start().await;
    let f = fixture(false).await;
    let r = app_with(&f, config(&sim, &[("AUDITLAKE_LLM_TOKEN_BUDGET", "100")]));
    let reply = ask(&r, "reader", "anything?").await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{:?}",
        reply.body
    );
    assert_eq!(reply.body["error"]["code"], "token_budget_exceeded");
    assert!(
        reply.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("budget of 100")
    );
}

#[tokio::test]
async fn a_planted_record_telling_the_model_to_write_changes_nothing() {
    let sim = LlmSim::start().await;
    let f = fixture(true).await;
    let r = app_with(&f, config(&sim, &[]));
    let before_alerts = format!("{:?}", f.alerts.all());
    let event_view = |id: String| {
        let r = r.clone();
        async move {
            let v = call(&r, "GET", &format!("/events/{id}"), Some("admin"), None)
                .await
                .body;
            (v["tags"].clone(), v["comments"].clone())
        }
    };
    let mut before_events = Vec::new();
    for id in &f.ids {
        before_events.push(event_view(id.clone()).await);
    }
    // An admin asks: the caller's role does not widen what the model may call.
    let reply = ask(&r, "admin", "What happened most recently?").await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let a = &reply.body;
    assert_eq!(
        tools_called(a),
        [
            ("search_events".into(), "ok".into()),
            (WRITE_TOOL.into(), "refused".into()),
            ("get_event".into(), "ok".into()),
        ]
    );
    assert_eq!(a["citations"], json!([f.ids[0]]));
    // The stand-in asked for the write and was told it is not available.
    let seen = sim.requests();
    let refusal = seen.last().unwrap().body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["tool_call_id"] == "call_1")
        .unwrap()["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(refusal.contains("not available"), "{refusal}");
    // Nothing changed: alerts, tags, comments.
    assert_eq!(format!("{:?}", f.alerts.all()), before_alerts);
    for (id, before) in f.ids.iter().zip(before_events) {
        assert_eq!(event_view(id.clone()).await, before, "{id}");
    }
    // The planted text reached the model only as a tool result.
    let planted: Vec<String> = messages(&sim)
        .into_iter()
        .filter(|(_, c)| c.to_lowercase().contains(PLANTED_TEXT))
        .map(|(role, _)| role)
        .collect();
    assert!(!planted.is_empty());
    assert!(planted.iter().all(|role| role == "tool"), "{planted:?}");
}

#[tokio::test]
async fn explain_reads_the_event_first_and_cites_it() {
    let sim = LlmSim::start().await;
    let f = fixture(false).await;
    let r = app_with(&f, config(&sim, &[]));
    let reply = call(
        &r,
        "POST",
        &format!("/events/{}/explain", f.ids[3]),
        Some("reader"),
        None,
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["citations"], json!([f.ids[3]]));
    assert_eq!(reply.body["steps"], 1);
    let first = &sim.requests()[0].body["messages"];
    assert_eq!(first[2]["tool_calls"][0]["function"]["name"], "get_event");
    assert_eq!(first[3]["role"], "tool");
    let missing = call(
        &r,
        "POST",
        "/events/entra-sign-ins:20240101T000000Z-none/explain",
        Some("reader"),
        None,
    )
    .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let bad = call(&r, "POST", "/events/nope/explain", Some("reader"), None).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_ask_tool_answers_as_post_ask_does() {
    let sim = LlmSim::start().await;
    let f = fixture(false).await;
    let r = app_with(&f, config(&sim, &[]));
    let result = tool(
        &r,
        "reader",
        "ask",
        json!({"question": "What happened to \"user-4@contoso.com\"?"}),
    )
    .await;
    assert_ne!(result["isError"], true, "{result}");
    assert_eq!(result["structuredContent"]["citations"], json!([f.ids[4]]));
}

#[tokio::test]
async fn questions_need_a_token_and_a_configured_model() {
    let f = fixture(false).await;
    let off = mcp::router(mcp::McpApp::new(f.query.clone(), None));
    let reply = call(&off, "POST", "/ask", None, Some(json!({"question": "q"}))).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.headers["www-authenticate"], "Bearer");
    let reply = ask(&off, "reader", "q").await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        reply.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("questions are off")
    );
    let sim = LlmSim::start().await;
    let on = app_with(&f, config(&sim, &[]));
    let reply = call(
        &on,
        "POST",
        "/ask",
        Some("reader"),
        Some(json!({"question": "q", "role": "system"})),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let long = "x".repeat(2001);
    assert_eq!(
        ask(&on, "reader", &long).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(sim.requests().len(), 0);
}
