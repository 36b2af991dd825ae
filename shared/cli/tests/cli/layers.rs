//! The crate layering of ARCHITECTURE.md ("Code map", "Invariants") as facts checked against
//! Cargo: `cargo metadata` for every workspace package's declared dependencies, `cargo tree -p`
//! for what each one really builds (features resolved for that package alone, as `sam build`
//! builds one function at a time). The rules are a pure function over those graphs, so a planted
//! violation of each rule is checked to be caught too.
//!
//! Also the TLS stack: no package of the workspace, for any target, with dev and build
//! dependencies, builds the AWS SDK's legacy one (rustls 0.21, rustls-webpki 0.101, hyper 0.14,
//! h2 0.3; RustSec advisories on h2 0.3 and rustls-webpki 0.101). It came in through the SDK
//! clients' `rustls` default feature while every call went through the new stack; the workspace
//! `Cargo.toml` turns it off, and this fails if a feature or a new dependency brings it back.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

/// What Cargo says about the workspace.
struct Graph {
    /// Package -> the packages it declares as normal (non-dev, non-build) dependencies.
    direct: BTreeMap<String, BTreeSet<String>>,
    /// Package -> every package it builds as a normal dependency, transitively.
    closure: BTreeMap<String, BTreeSet<String>>,
}

/// Crates that only tests, the demo and benchmarks build; never deployed.
const TEST_ONLY: &[&str] = &["testkit", "e2e", "m365-sim"];

fn is_aws_sdk(name: &str) -> bool {
    name.starts_with("aws-sdk-")
}

/// Every rule the layering holds to; each violation is one sentence naming the crates.
fn violations(g: &Graph) -> Vec<String> {
    let mut out = Vec::new();
    let closure = |p: &str| g.closure.get(p).cloned().unwrap_or_default();
    for core in ["domain", "detect"] {
        for dep in closure(core) {
            if dep == "tokio" || dep == "reqwest" || is_aws_sdk(&dep) {
                out.push(format!("the core crate `{core}` depends on `{dep}`"));
            }
        }
    }
    for (pkg, deps) in &g.direct {
        for dep in deps {
            if is_aws_sdk(dep) && pkg != "aws" && !TEST_ONLY.contains(&pkg.as_str()) {
                out.push(format!(
                    "`{pkg}` depends on `{dep}`: only the `aws` crate may"
                ));
            }
            if dep == "testkit" && !TEST_ONLY.contains(&pkg.as_str()) {
                out.push(format!(
                    "`{pkg}` depends on `testkit` outside [dev-dependencies]"
                ));
            }
        }
    }
    for pkg in g.closure.keys().filter(|p| p.starts_with("pull-")) {
        for dep in closure(pkg) {
            // Collection never waits on detection, so a puller does not carry the Sigma engine.
            if dep == "axum" || dep == "utoipa" || dep == "aws-sdk-athena" || dep == "detect" {
                out.push(format!("the puller `{pkg}` builds `{dep}`"));
            }
        }
    }
    // What leaves the stack carries neither the Sigma engine nor a web server; only the notifier
    // builds the SNS client.
    for pkg in ["notify-alerts", "forward-events"] {
        for dep in closure(pkg) {
            if dep == "detect" || dep == "axum" || dep == "utoipa" || dep == "aws-sdk-athena" {
                out.push(format!("the delivery function `{pkg}` builds `{dep}`"));
            }
        }
    }
    if closure("forward-events").contains("aws-sdk-sns") {
        out.push("the forwarder builds `aws-sdk-sns`".to_string());
    }
    if closure("query-api").contains("parquet") {
        out.push("the query API builds `parquet`".to_string());
    }
    // The console's assets are data: no dependency, and only the query API carries them.
    for dep in g.direct.get("console").into_iter().flatten() {
        out.push(format!("the console's assets depend on `{dep}`"));
    }
    for (pkg, deps) in &g.closure {
        let serves = ["console", "query", "mcp", "query-api", "cli"].contains(&pkg.as_str())
            || TEST_ONLY.contains(&pkg.as_str());
        if deps.contains("console") && !serves {
            out.push(format!("`{pkg}` builds the console's assets"));
        }
    }
    // The MCP server layers on the query API (`shared/mcp` over `query::router`), never under
    // it; collection and delivery carry no MCP SDK.
    if closure("query").contains("rmcp") || closure("query").contains("mcp") {
        out.push("the `query` crate builds the MCP server".to_string());
    }
    for (pkg, deps) in &g.closure {
        if deps.contains("rmcp")
            && (pkg.starts_with("pull-") || pkg.ends_with("-alerts") || pkg.ends_with("-events"))
        {
            out.push(format!("the function `{pkg}` builds `rmcp`"));
        }
    }
    out
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root());
    c
}

fn run(mut c: Command) -> String {
    let out = c.output().expect("cargo runs");
    assert!(
        out.status.success(),
        "{c:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// The graphs of the real workspace.
fn workspace() -> Graph {
    let mut c = cargo();
    c.args(["metadata", "--format-version", "1", "--no-deps"]);
    let meta: Value = serde_json::from_str(&run(c)).expect("cargo metadata is JSON");
    let mut direct = BTreeMap::new();
    for p in meta["packages"].as_array().expect("packages") {
        let name = p["name"].as_str().expect("name").to_string();
        let deps = p["dependencies"]
            .as_array()
            .expect("dependencies")
            .iter()
            .filter(|d| d["kind"].is_null())
            .map(|d| d["name"].as_str().expect("dependency name").to_string())
            .collect();
        direct.insert(name, deps);
    }
    let mut closure = BTreeMap::new();
    for name in direct.keys() {
        let mut c = cargo();
        c.args(["tree", "-e", "normal", "--prefix", "none"]);
        c.args(["--format", "{p}", "-p", name]);
        let deps = run(c)
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .filter(|d| d != name)
            .map(str::to_string)
            .collect();
        closure.insert(name.clone(), deps);
    }
    Graph { direct, closure }
}

/// Versions of the legacy TLS stack, as `(crate, version prefix)`.
const LEGACY_TLS: &[(&str, &str)] = &[
    ("h2", "0.3."),
    ("hyper", "0.14."),
    ("hyper-rustls", "0.24."),
    ("rustls", "0.21."),
    ("rustls-webpki", "0.101."),
];

/// Each package of `packages` (`(name, version)`) that belongs to the legacy TLS stack.
fn legacy_tls(packages: &BTreeSet<(String, String)>) -> Vec<String> {
    packages
        .iter()
        .filter(|(name, version)| {
            LEGACY_TLS
                .iter()
                .any(|(n, prefix)| name == n && version.starts_with(prefix))
        })
        .map(|(name, version)| format!("the workspace builds `{name} {version}`"))
        .collect()
}

/// Every `(name, version)` the workspace builds: all packages, all targets, normal, build and dev
/// dependencies (what Cargo.lock and cargo-audit see).
fn built_packages() -> BTreeSet<(String, String)> {
    let mut c = cargo();
    c.args([
        "tree",
        "--workspace",
        "--target",
        "all",
        "-e",
        "normal,build,dev",
    ]);
    c.args(["--prefix", "none", "--format", "{p}"]);
    run(c)
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let name = words.next()?;
            let version = words.next()?.strip_prefix('v')?;
            Some((name.to_string(), version.to_string()))
        })
        .collect()
}

#[test]
fn no_package_builds_the_legacy_tls_stack() {
    let packages = built_packages();
    assert!(
        packages
            .iter()
            .any(|(n, v)| n == "rustls" && v.starts_with("0.23.")),
        "cargo tree read nothing: {} packages",
        packages.len()
    );
    let found = legacy_tls(&packages);
    assert!(
        found.is_empty(),
        "legacy TLS stack is back:\n{}",
        found.join("\n")
    );
}

#[test]
fn a_planted_legacy_tls_crate_is_caught() {
    let mut packages = built_packages();
    for (name, version) in [
        ("h2", "0.3.27"),
        ("rustls-webpki", "0.101.7"),
        ("h2", "0.4.20"),
    ] {
        packages.insert((name.to_string(), version.to_string()));
    }
    assert_eq!(
        legacy_tls(&packages),
        vec![
            "the workspace builds `h2 0.3.27`".to_string(),
            "the workspace builds `rustls-webpki 0.101.7`".to_string(),
        ]
    );
}

#[test]
fn the_workspace_has_one_crate_per_layer() {
    let g = workspace();
    for krate in [
        "domain",
        "runtime",
        "aws",
        "collector",
        "query",
        "console",
        "cli",
        "detect",
        "delivery",
        "mcp",
        "testkit",
    ] {
        assert!(g.direct.contains_key(krate), "no `{krate}` crate");
    }
    for f in std::fs::read_dir(root().join("functions")).expect("functions/") {
        let name = f.expect("entry").file_name().into_string().expect("name");
        assert!(
            g.direct.contains_key(&name),
            "functions/{name} is not a package"
        );
    }
}

#[test]
fn the_layers_hold() {
    let g = workspace();
    assert!(
        g.closure["domain"].contains("serde"),
        "cargo tree read nothing"
    );
    assert!(g.closure["pull-entra-sign-ins"].contains("aws-sdk-dynamodb"));
    assert!(g.closure["query-api"].contains("aws-sdk-athena"));
    assert!(g.closure["query-api"].contains("rmcp"));
    let found = violations(&g);
    assert!(found.is_empty(), "layering broken:\n{}", found.join("\n"));
}

#[test]
fn a_planted_violation_of_each_rule_is_caught() {
    let mut g = workspace();
    let add = |map: &mut BTreeMap<String, BTreeSet<String>>, pkg: &str, dep: &str| {
        map.get_mut(pkg).expect(pkg).insert(dep.to_string());
    };
    add(&mut g.closure, "domain", "tokio");
    add(&mut g.closure, "domain", "aws-sdk-s3");
    add(&mut g.closure, "detect", "tokio");
    add(&mut g.closure, "pull-entra-sign-ins", "detect");
    add(&mut g.direct, "query", "aws-sdk-dynamodb");
    add(&mut g.direct, "collector", "testkit");
    add(&mut g.closure, "pull-m365-activity", "axum");
    add(&mut g.closure, "pull-intune-audit", "aws-sdk-athena");
    add(&mut g.closure, "query-api", "parquet");
    add(&mut g.closure, "notify-alerts", "detect");
    add(&mut g.closure, "forward-events", "aws-sdk-sns");
    add(&mut g.direct, "console", "serde");
    add(&mut g.closure, "pull-intune-audit", "console");
    add(&mut g.closure, "query", "rmcp");
    add(&mut g.closure, "pull-entra-directory-audits", "rmcp");
    let found: BTreeSet<String> = violations(&g).into_iter().collect();
    let want: BTreeSet<String> = [
        "the core crate `domain` depends on `tokio`",
        "the core crate `domain` depends on `aws-sdk-s3`",
        "the core crate `detect` depends on `tokio`",
        "the puller `pull-entra-sign-ins` builds `detect`",
        "`query` depends on `aws-sdk-dynamodb`: only the `aws` crate may",
        "`collector` depends on `testkit` outside [dev-dependencies]",
        "the puller `pull-m365-activity` builds `axum`",
        "the puller `pull-intune-audit` builds `aws-sdk-athena`",
        "the query API builds `parquet`",
        "the delivery function `notify-alerts` builds `detect`",
        "the forwarder builds `aws-sdk-sns`",
        "the console's assets depend on `serde`",
        "`pull-intune-audit` builds the console's assets",
        "the `query` crate builds the MCP server",
        "the function `pull-entra-directory-audits` builds `rmcp`",
    ]
    .into_iter()
    .map(str::to_string)
    .collect();
    assert_eq!(found, want);
}
