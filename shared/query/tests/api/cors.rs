//! The stack's CORS configuration (`template.yaml`, `QueryHttpApi.CorsConfiguration`) allows
//! exactly the methods the router serves ([`query::ROUTES`]): a method the API does not serve
//! would be offered to browsers for nothing, and one it serves but CORS omits (PATCH, the tags)
//! cannot be called from a browser at all. The template is read as text here (this crate parses
//! no YAML); `shared/aws/tests/aws/hardening.rs` checks the rest of the configuration. The routes
//! the gateway lets through without a token are exactly those the router answers without one
//! (the API's and the web console's, [`query::console::CONSOLE_ROUTES`]).

use std::collections::BTreeSet;
use std::path::Path;

use query::ROUTES;

/// The methods of the template's one `AllowMethods: [..]` line, upper case.
fn template_methods(template: &str) -> BTreeSet<String> {
    let lines: Vec<&str> = template
        .lines()
        .filter(|l| l.trim_start().starts_with("AllowMethods:"))
        .collect();
    assert_eq!(
        lines.len(),
        1,
        "one AllowMethods line in template.yaml: {lines:?}"
    );
    let list = lines[0]
        .split_once('[')
        .and_then(|(_, rest)| rest.split_once(']'))
        .map(|(inside, _)| inside)
        .expect("AllowMethods is a flow list [A, B]");
    list.split(',')
        .map(|m| m.trim().to_ascii_uppercase())
        .filter(|m| !m.is_empty())
        .collect()
}

#[test]
fn cors_allows_exactly_the_methods_the_router_serves() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../template.yaml");
    let template = std::fs::read_to_string(path).expect("template.yaml");
    let served: BTreeSet<String> = ROUTES
        .iter()
        .map(|(method, _)| method.to_ascii_uppercase())
        .collect();
    assert_eq!(template_methods(&template), served);
}

#[test]
fn the_methods_line_is_read_as_written() {
    let t = "      CorsConfiguration:\n          AllowMethods: [GET, post, PUT]\n";
    let want: BTreeSet<String> = ["GET", "POST", "PUT"].map(String::from).into();
    assert_eq!(template_methods(t), want);
}

/// The paths of the template's HTTP API events with `Authorizer: NONE` (read as text: a `Path:`
/// line followed, within the event, by `Authorizer: NONE`).
fn template_public_paths(template: &str) -> BTreeSet<String> {
    let lines: Vec<&str> = template.lines().collect();
    let mut out = BTreeSet::new();
    for (i, l) in lines.iter().enumerate() {
        let Some(path) = l.trim_start().strip_prefix("Path: ") else {
            continue;
        };
        let event_end = lines[i + 1..]
            .iter()
            .position(|n| n.trim_start().starts_with("Type:") || n.trim().is_empty())
            .map_or(lines.len(), |k| i + 1 + k);
        if lines[i + 1..event_end]
            .iter()
            .any(|n| n.trim() == "Authorizer: NONE")
        {
            out.insert(path.trim().to_string());
        }
    }
    out
}

#[tokio::test]
async fn the_gateway_lets_through_without_a_token_exactly_what_the_router_serves_without_one() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../template.yaml");
    let template = std::fs::read_to_string(path).expect("template.yaml");
    let f = crate::support::fixture();
    let mut public = BTreeSet::new();
    for (method, route) in ROUTES.iter().chain(query::console::CONSOLE_ROUTES) {
        let uri = route
            .replace("{id}", "intune-audit:k1")
            .replace("{query}", "x")
            .replace("{name}", "x");
        let r =
            crate::support::call(&f.router, &method.to_ascii_uppercase(), &uri, None, None).await;
        if r.status != axum::http::StatusCode::UNAUTHORIZED {
            public.insert(route.to_string());
        }
    }
    assert_eq!(
        template_public_paths(&template),
        public,
        "routes without the JWT authorizer in template.yaml vs routes the router answers without a token"
    );
}
