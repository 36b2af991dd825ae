//! The security hardening of `template.yaml` (ARCHITECTURE.md, "Security"), as facts about the
//! parsed template: the audit store keeps and locks every version and logs every request to a
//! bucket of its own; the API throttles each route, the unauthenticated ones far below the data
//! routes, and lets browsers in over https only, with exactly the methods the router serves; the
//! alarm topic and Athena's results are encrypted with the customer key when there is one. Each
//! check is a function over the template, so a broken copy of it is shown to be caught too.

use serde_json::{Value, json};

use crate::cfn::parse;
use crate::support::{broken, real_template};

/// The methods the query router serves (`query::ROUTES`, which `shared/query/tests/api` holds the
/// template to); API Gateway answers the preflight `OPTIONS` itself.
const SERVED_METHODS: &[&str] = &["DELETE", "GET", "PATCH", "POST", "PUT"];

fn resource<'a>(doc: &'a Value, logical: &str) -> &'a Value {
    &doc["Resources"][logical]
}

fn props<'a>(doc: &'a Value, logical: &str) -> &'a Value {
    &resource(doc, logical)["Properties"]
}

fn default_of(doc: &Value, parameter: &str) -> Value {
    doc["Parameters"][parameter]["Default"].clone()
}

fn number(v: &Value) -> f64 {
    match v {
        Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
        Value::String(s) => s.parse().unwrap_or(f64::NAN),
        _ => f64::NAN,
    }
}

fn reference(name: &str) -> Value {
    json!({ "Ref": name })
}

/// Problems of the lake bucket and its access logs, one sentence each.
fn storage_problems(doc: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if default_of(doc, "ObjectLockMode") != json!("GOVERNANCE") {
        out.push("ObjectLockMode does not default to GOVERNANCE".to_string());
    }
    if number(&default_of(doc, "ObjectLockDays")) != number(&default_of(doc, "RawRetentionDays")) {
        out.push("ObjectLockDays does not default to RawRetentionDays' default".to_string());
    }
    let lake = props(doc, "LakeBucket");
    let rules = lake
        .pointer("/LifecycleConfiguration/Rules")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for id in ["raw-retention", "quarantine-retention", "curated-retention"] {
        let Some(rule) = rules.iter().find(|r| r["Id"] == json!(id)) else {
            out.push(format!("LakeBucket has no lifecycle rule {id}"));
            continue;
        };
        if rule.pointer("/NoncurrentVersionExpiration/NoncurrentDays")
            != Some(&reference("RawRetentionDays"))
        {
            out.push(format!(
                "LakeBucket rule {id} drops noncurrent versions before RawRetentionDays"
            ));
        }
    }
    if lake.pointer("/LoggingConfiguration/DestinationBucketName")
        != Some(&reference("AccessLogBucket"))
    {
        out.push("LakeBucket does not log its requests to AccessLogBucket".to_string());
    }

    let logs = props(doc, "AccessLogBucket");
    if resource(doc, "AccessLogBucket")["Type"] != json!("AWS::S3::Bucket") {
        out.push("there is no AccessLogBucket".to_string());
        return out;
    }
    if logs.pointer("/BucketEncryption/ServerSideEncryptionConfiguration/0/ServerSideEncryptionByDefault/SSEAlgorithm")
        != Some(&json!("AES256"))
    {
        // S3 delivers server access logs only to SSE-S3 buckets.
        out.push("AccessLogBucket is not encrypted with SSE-S3".to_string());
    }
    for flag in [
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    ] {
        if logs.pointer(&format!("/PublicAccessBlockConfiguration/{flag}")) != Some(&json!(true)) {
            out.push(format!("AccessLogBucket lacks {flag}"));
        }
    }
    if logs.get("ObjectLockEnabled").is_some() || logs.get("ObjectLockConfiguration").is_some() {
        out.push("AccessLogBucket has Object Lock, which S3 refuses for a log target".to_string());
    }
    let expires = logs
        .pointer("/LifecycleConfiguration/Rules")
        .and_then(Value::as_array)
        .is_some_and(|rules| {
            rules
                .iter()
                .any(|r| r["ExpirationInDays"] == reference("AccessLogRetentionDays"))
        });
    if !expires {
        out.push("AccessLogBucket does not expire logs after AccessLogRetentionDays".to_string());
    }
    let policy = doc["Resources"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(_, r)| r)
        .find(|r| {
            r["Type"] == json!("AWS::S3::BucketPolicy")
                && r["Properties"]["Bucket"] == reference("AccessLogBucket")
        });
    let lets_logging_write = policy.is_some_and(|p| {
        p.pointer("/Properties/PolicyDocument/Statement")
            .and_then(Value::as_array)
            .is_some_and(|stmts| {
                stmts.iter().any(|s| {
                    s["Effect"] == json!("Allow")
                        && s.pointer("/Principal/Service")
                            == Some(&json!("logging.s3.amazonaws.com"))
                        && s["Action"] == json!("s3:PutObject")
                        && s.pointer("/Condition/StringEquals/aws:SourceAccount")
                            == Some(&reference("AWS::AccountId"))
                })
            })
    });
    if !lets_logging_write {
        out.push(
            "no bucket policy lets logging.s3.amazonaws.com (of this account) write the access logs"
                .to_string(),
        );
    }
    out
}

/// The route keys the query API's HttpApi events create, with whether each needs no token.
fn routes(doc: &Value) -> Vec<(String, bool)> {
    let events = props(doc, "QueryApiFunction")["Events"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    events
        .values()
        .filter(|e| e["Type"] == json!("HttpApi"))
        .map(|e| {
            let p = &e["Properties"];
            let method = p["Method"].as_str().unwrap_or("?").to_ascii_uppercase();
            let key = format!("{method} {}", p["Path"].as_str().unwrap_or("?"));
            (key, p.pointer("/Auth/Authorizer") == Some(&json!("NONE")))
        })
        .collect()
}

/// Problems of the API's throttling and CORS.
fn api_problems(doc: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let api = props(doc, "QueryHttpApi");
    let routes = routes(doc);
    if !routes.iter().any(|(_, open)| *open) {
        out.push("no route without a token (GET /health) was found".to_string());
    }
    for (key, open) in &routes {
        let Some(settings) = api.pointer("/RouteSettings").and_then(|r| r.get(key)) else {
            out.push(format!("route {key} has no RouteSettings entry of its own"));
            continue;
        };
        let (rate, burst) = if *open {
            ("ApiHealthThrottleRateLimit", "ApiHealthThrottleBurstLimit")
        } else {
            ("ApiThrottleRateLimit", "ApiThrottleBurstLimit")
        };
        if settings["ThrottlingRateLimit"] != reference(rate)
            || settings["ThrottlingBurstLimit"] != reference(burst)
        {
            out.push(format!(
                "route {key} is not throttled by {rate} and {burst}"
            ));
        }
    }
    // The unauthenticated limits are much lower than the data routes': a tenth at most.
    for (open, data) in [
        ("ApiHealthThrottleRateLimit", "ApiThrottleRateLimit"),
        ("ApiHealthThrottleBurstLimit", "ApiThrottleBurstLimit"),
    ] {
        let (o, d) = (
            number(&default_of(doc, open)),
            number(&default_of(doc, data)),
        );
        // A default that is missing or not a number (NaN) fails too.
        if o.is_nan() || d.is_nan() || o * 10.0 > d {
            out.push(format!(
                "{open} defaults to {o}, not a tenth or less of {data} ({d})"
            ));
        }
    }

    let cors = api["CorsConfiguration"]["Fn::If"][1].clone();
    let methods: Vec<String> = cors["AllowMethods"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m.as_str().map(str::to_ascii_uppercase))
        .collect();
    let mut sorted = methods.clone();
    sorted.sort();
    if sorted != SERVED_METHODS {
        out.push(format!(
            "CORS allows the methods {methods:?}, not the served {SERVED_METHODS:?}"
        ));
    }
    let pattern = doc["Parameters"]["CorsAllowedOrigins"]["AllowedPattern"]
        .as_str()
        .unwrap_or("");
    match regex_lite::Regex::new(pattern) {
        Err(e) => out.push(format!(
            "CorsAllowedOrigins' AllowedPattern does not parse: {e}"
        )),
        Ok(re) => {
            for ok in [
                "",
                "https://soc.example.com",
                "https://soc.example.com,https://localhost:8443",
            ] {
                if !re.is_match(ok) {
                    out.push(format!("CorsAllowedOrigins refuses {ok:?}"));
                }
            }
            for bad in [
                "http://soc.example.com",
                "https://soc.example.com,http://evil.example",
                "*",
                "https://*.example.com",
                "https://soc.example.com/app",
                "soc.example.com",
            ] {
                if re.is_match(bad) {
                    out.push(format!("CorsAllowedOrigins admits {bad:?}"));
                }
            }
        }
    }
    out
}

/// Problems of the alarm topic's and the Athena results' encryption.
fn encryption_problems(doc: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let topic_key = &props(doc, "AlarmTopic")["KmsMasterKeyId"];
    let want =
        json!({ "Fn::If": ["UseKmsKey", reference("KmsKeyArn"), reference("AlarmTopicKey")] });
    if *topic_key != want {
        out.push(format!(
            "AlarmTopic is not encrypted with the customer key, else the stack's key: {topic_key}"
        ));
    }
    // alias/aws/sns would silently stop every alarm: CloudWatch may not use that key.
    if topic_key.to_string().contains("alias/aws/sns") {
        out.push(
            "AlarmTopic uses alias/aws/sns, which CloudWatch alarms cannot publish with".into(),
        );
    }
    let key = resource(doc, "AlarmTopicKey");
    let cloudwatch_may_use = key
        .pointer("/Properties/KeyPolicy/Statement")
        .and_then(Value::as_array)
        .is_some_and(|stmts| {
            stmts.iter().any(|s| {
                s.pointer("/Principal/Service") == Some(&json!("cloudwatch.amazonaws.com"))
                    && s["Action"]
                        .as_array()
                        .is_some_and(|a| a.contains(&json!("kms:GenerateDataKey*")))
            })
        });
    if key["Condition"] != json!("NoKmsKey") || !cloudwatch_may_use {
        out.push(
            "AlarmTopicKey is not a key of the stack's own (NoKmsKey) that CloudWatch may use"
                .into(),
        );
    }
    let athena = props(doc, "AnalyticsWorkGroup")
        .pointer("/WorkGroupConfiguration/ResultConfiguration/EncryptionConfiguration")
        .cloned()
        .unwrap_or(Value::Null);
    if athena["EncryptionOption"] != json!({ "Fn::If": ["UseKmsKey", "SSE_KMS", "SSE_S3"] })
        || athena["KmsKey"]
            != json!({ "Fn::If": ["UseKmsKey", reference("KmsKeyArn"), reference("AWS::NoValue")] })
    {
        out.push(format!(
            "Athena results are not SSE_KMS under KmsKeyArn when it is set: {athena}"
        ));
    }
    out
}

fn all_problems(template: &str) -> Vec<String> {
    let doc = parse(template).expect("template.yaml parses");
    let mut out = storage_problems(&doc);
    out.extend(api_problems(&doc));
    out.extend(encryption_problems(&doc));
    out
}

#[test]
fn the_template_is_hardened() {
    let problems = all_problems(&real_template());
    assert!(
        problems.is_empty(),
        "template.yaml:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn a_weakened_copy_of_each_hardening_is_named() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "    Default: GOVERNANCE\n",
            "    Default: NONE\n",
            "ObjectLockMode does not default to GOVERNANCE",
        ),
        (
            "              NoncurrentDays: !Ref RawRetentionDays\n",
            "              NoncurrentDays: 7\n",
            "LakeBucket rule raw-retention drops noncurrent versions",
        ),
        (
            "        DestinationBucketName: !Ref AccessLogBucket\n",
            "        DestinationBucketName: somewhere-else\n",
            "LakeBucket does not log its requests to AccessLogBucket",
        ),
        (
            "            Principal: { Service: logging.s3.amazonaws.com }\n",
            "            Principal: { Service: s3.amazonaws.com }\n",
            "no bucket policy lets logging.s3.amazonaws.com",
        ),
        (
            "        \"GET /health\":\n",
            "        \"GET /healthz\":\n",
            "route GET /health has no RouteSettings entry of its own",
        ),
        (
            "    Default: 4\n",
            "    Default: 40\n",
            "ApiHealthThrottleBurstLimit defaults to 40",
        ),
        (
            "          AllowMethods: [DELETE, GET, PATCH, POST, PUT]\n",
            "          AllowMethods: [DELETE, GET, PATCH, POST, PUT, OPTIONS]\n",
            "CORS allows the methods",
        ),
        (
            "    AllowedPattern: \"^(https://",
            "    AllowedPattern: \"^(https?://",
            "CorsAllowedOrigins admits \"http://soc.example.com\"",
        ),
        (
            "      KmsMasterKeyId: !If [UseKmsKey, !Ref KmsKeyArn, !Ref AlarmTopicKey]\n",
            "      KmsMasterKeyId: !If [UseKmsKey, !Ref KmsKeyArn, alias/aws/sns]\n",
            "AlarmTopic uses alias/aws/sns",
        ),
        (
            "            EncryptionOption: !If [UseKmsKey, SSE_KMS, SSE_S3]\n",
            "            EncryptionOption: SSE_S3\n",
            "Athena results are not SSE_KMS",
        ),
    ];
    for (from, to, named) in cases {
        let problems = all_problems(&broken(from, to));
        assert!(
            problems.iter().any(|p| p.contains(named)),
            "replacing {from:?} by {to:?} should be named ({named}); found {problems:?}"
        );
    }
}
