//! `/mcp`: the routes' auth (401 with `WWW-Authenticate`, the role per tool), every tool's answer
//! against the REST route it stands for, the schemas against the OpenAPI document as served,
//! the resources, the byte bounds.

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::support::*;

fn app(f: &Fixture) -> axum::Router {
    mcp::router(mcp::McpApp::new(f.query.clone(), None))
}

#[tokio::test]
async fn without_a_valid_token_mcp_is_a_401_with_www_authenticate_and_a_role_less_token_a_403() {
    let f = fixture(false).await;
    let r = app(&f);
    let init = json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}});
    for token in [None, Some("forged")] {
        let reply = rpc(&r, token, "initialize", init.clone()).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{token:?}");
        assert_eq!(reply.headers["www-authenticate"], "Bearer");
        assert_eq!(reply.body["error"]["code"], "unauthorized");
    }
    let reply = rpc(&r, Some("nobody"), "initialize", init.clone()).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let reply = rpc(&r, Some("reader"), "initialize", init).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["result"]["serverInfo"]["name"], "auditlake");
    assert!(reply.body["result"]["capabilities"]["tools"].is_object());
    assert!(reply.body["result"]["capabilities"]["resources"].is_object());
}

#[tokio::test]
async fn the_tool_schemas_are_the_routes_parameters_as_the_served_openapi_document_has_them() {
    let f = fixture(false).await;
    let r = app(&f);
    let doc = call(&r, "GET", "/openapi.json", None, None).await.body;
    let listed = rpc(&r, Some("reader"), "tools/list", json!({})).await.body;
    let tools = listed["result"]["tools"].as_array().unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "search_events",
            "get_event",
            "get_summary",
            "list_sources",
            "list_alerts",
            "get_alert",
            "run_hunting_query",
            "ask"
        ]
    );
    for (name, method, path) in [
        ("search_events", "get", "/events"),
        ("get_event", "get", "/events/{id}"),
        ("get_summary", "get", "/summary"),
        ("list_sources", "get", "/sources"),
        ("list_alerts", "get", "/alerts"),
        ("get_alert", "get", "/alerts/{id}"),
    ] {
        let schema = &tools.iter().find(|t| t["name"] == name).unwrap()["inputSchema"];
        let params: Vec<&Value> = doc["paths"][path][method]["parameters"]
            .as_array()
            .map(|a| a.iter().collect())
            .unwrap_or_default();
        let props = schema["properties"].as_object().unwrap();
        assert_eq!(props.len(), params.len(), "{name}: {props:?}");
        for p in params {
            let pname = p["name"].as_str().unwrap();
            let mut expected = p["schema"].clone();
            expected["description"] = p["description"].clone();
            assert_eq!(props[pname], expected, "{name}.{pname}");
            let required = schema["required"]
                .as_array()
                .is_some_and(|r| r.iter().any(|x| x == pname));
            assert_eq!(required, p["required"] == true, "{name}.{pname} required");
        }
        assert_eq!(schema["additionalProperties"], false);
    }
    // The bounds the REST route enforces are the schema's: page_size 1 to 500.
    let search = &tools[0]["inputSchema"]["properties"]["page_size"];
    assert_eq!(
        (search["minimum"].clone(), search["maximum"].clone()),
        (json!(1), json!(500))
    );
    // The hunting query's name is limited to the catalog, its parameters typed from it.
    let hunt = &tools[6]["inputSchema"]["properties"];
    let catalog: Vec<String> = domain::analytics::catalog()
        .iter()
        .map(|q| q.name.to_string())
        .collect();
    assert_eq!(hunt["query"]["enum"], json!(catalog));
    assert_eq!(hunt["params"]["properties"]["start_date"]["format"], "date");
    assert_eq!(
        tools[7]["inputSchema"]["properties"]["question"]["maxLength"],
        2000
    );
}

#[tokio::test]
async fn each_tool_answers_what_its_rest_route_answers() {
    let f = fixture(false).await;
    let r = app(&f);
    // search_events: the same page as GET /events, paged by the same cursor.
    let first = tool(&r, "reader", "search_events", json!({"page_size": 3})).await;
    assert_ne!(first["isError"], true, "{first}");
    let rest = call(&r, "GET", "/events?page_size=3", Some("reader"), None)
        .await
        .body;
    let ids = |v: &Value| -> Vec<String> {
        v["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(&first["structuredContent"]), ids(&rest));
    assert_eq!(ids(&rest), f.ids[..3]);
    let cursor = first["structuredContent"]["next_cursor"].as_str().unwrap();
    let second = tool(
        &r,
        "reader",
        "search_events",
        json!({"page_size": 3, "cursor": cursor}),
    )
    .await;
    assert_eq!(ids(&second["structuredContent"]), f.ids[3..]);
    // The text content carries the same JSON.
    let text: Value = serde_json::from_str(first["content"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(text, first["structuredContent"]);
    // Without page_size the tool asks for 20, not the route's 50.
    let filtered = tool(
        &r,
        "reader",
        "search_events",
        json!({"operation": "Update user"}),
    )
    .await;
    assert_eq!(
        ids(&filtered["structuredContent"]),
        [f.ids[1].clone(), f.ids[4].clone()]
    );

    let got = tool(&r, "reader", "get_event", json!({"id": f.ids[2]})).await;
    let rest = call(
        &r,
        "GET",
        &format!("/events/{}", f.ids[2]),
        Some("reader"),
        None,
    )
    .await
    .body;
    assert_eq!(got["structuredContent"], rest);
    assert!(
        got["structuredContent"]["event"]["raw"].is_object(),
        "normalized and raw"
    );

    for (name, args, uri) in [
        ("get_summary", json!({"days": 2}), "/summary?days=2"),
        ("list_sources", json!({}), "/sources"),
        (
            "list_alerts",
            json!({"page_size": 5}),
            "/alerts?page_size=5",
        ),
    ] {
        let got = tool(&r, "reader", name, args).await;
        let rest = call(&r, "GET", uri, Some("reader"), None).await.body;
        assert_eq!(got["structuredContent"], rest, "{name}");
    }
    let alert_id = f.alerts.all()[0].alert.id.clone();
    let got = tool(&r, "reader", "get_alert", json!({"id": alert_id})).await;
    assert_eq!(got["structuredContent"]["alert"]["id"], alert_id);
    assert_eq!(got["structuredContent"]["events"][0]["id"], f.ids[1]);

    // The route's own checks answer bad input, as an error result naming the problem.
    let bad = tool(&r, "reader", "search_events", json!({"page_size": 501})).await;
    assert_eq!(bad["isError"], true);
    assert!(
        bad["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("page_size")
    );
    let missing = tool(
        &r,
        "reader",
        "get_event",
        json!({"id": "entra-sign-ins:20240101T000000Z-nope"}),
    )
    .await;
    assert_eq!(missing["isError"], true);
    assert!(
        missing["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("not_found")
    );
    let unknown = tool(
        &r,
        "reader",
        "get_event",
        json!({"id": f.ids[0], "extra": 1}),
    )
    .await;
    assert_eq!(unknown["isError"], true);
}

#[tokio::test]
async fn run_hunting_query_is_for_admins_only() {
    let f = fixture(false).await;
    let r = app(&f);
    let args = json!({"query": "consent_grants", "params": {"start_date": "2024-05-01", "end_date": "2024-05-10"}});
    let refused = tool(&r, "reader", "run_hunting_query", args.clone()).await;
    assert_eq!(refused["isError"], true);
    let text = refused["content"][0]["text"].as_str().unwrap();
    assert!(
        text.contains("forbidden") && text.contains("auditlake.admin"),
        "{text}"
    );
    let ran = tool(&r, "admin", "run_hunting_query", args).await;
    assert_ne!(ran["isError"], true, "{ran}");
    assert_eq!(ran["structuredContent"]["query"], "consent_grants");
    assert_eq!(ran["structuredContent"]["rows"][0][0], "alice@contoso.com");
    // The reader's other tools still answer: the refusal is per tool.
    let ok = tool(&r, "reader", "list_sources", json!({})).await;
    assert_ne!(ok["isError"], true);
    // `ask` without a configured model says questions are off.
    let off = tool(&r, "reader", "ask", json!({"question": "who?"})).await;
    assert_eq!(off["isError"], true);
    assert!(
        off["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("questions are off")
    );
}

#[tokio::test]
async fn the_resources_are_the_event_schema_and_the_hunting_catalog() {
    let f = fixture(false).await;
    let r = app(&f);
    let listed = rpc(&r, Some("reader"), "resources/list", json!({}))
        .await
        .body;
    let uris: Vec<&str> = listed["result"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["uri"].as_str().unwrap())
        .collect();
    assert_eq!(
        uris,
        ["auditlake://schema/event", "auditlake://hunting/catalog"]
    );
    let schema = rpc(
        &r,
        Some("reader"),
        "resources/read",
        json!({"uri": "auditlake://schema/event"}),
    )
    .await
    .body;
    let schema: Value =
        serde_json::from_str(schema["result"]["contents"][0]["text"].as_str().unwrap()).unwrap();
    // The schema names exactly the fields a stored event has (raw and raw_ref optional).
    let event = call(
        &r,
        "GET",
        &format!("/events/{}", f.ids[0]),
        Some("reader"),
        None,
    )
    .await
    .body["event"]
        .clone();
    let mut fields: Vec<&String> = event
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| *k != "raw")
        .collect();
    fields.sort();
    let mut required: Vec<&str> = schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    required.sort();
    assert_eq!(fields, required);
    let props = schema["properties"].as_object().unwrap();
    assert_eq!(props.len(), required.len() + 2);
    assert!(props.contains_key("raw") && props.contains_key("raw_ref"));
    let catalog = rpc(
        &r,
        Some("reader"),
        "resources/read",
        json!({"uri": "auditlake://hunting/catalog"}),
    )
    .await
    .body;
    let catalog: Value =
        serde_json::from_str(catalog["result"]["contents"][0]["text"].as_str().unwrap()).unwrap();
    let rest = call(&r, "GET", "/analytics", Some("reader"), None)
        .await
        .body;
    assert_eq!(catalog, rest);
}
