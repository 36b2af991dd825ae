//! The hot store's TTL as written (issue 13: template-only features get behaviour tests): after
//! a real pull into moto with `AUDITLAKE_HOT_RETENTION_DAYS=30`, every item the pipeline wrote to
//! the events table (events, presence markers, per-day counters) carries `expires_at` 30 days
//! after it was written, in epoch seconds as DynamoDB's TTL reads it; TTL is on for that attribute
//! (as `provision` and `template.yaml` set it); and the template names the same attribute.

use super::*;
use aws_sdk_dynamodb::types::AttributeValue;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_item_a_pull_writes_expires_after_the_hot_retention() {
    let env = env(
        SimConfig {
            seed: 5,
            days: 1,
            events_per_hour: 20,
            ..SimConfig::default()
        },
        &[
            ("AUDITLAKE_HOT_RETENTION_DAYS", "30"),
            ("AUDITLAKE_INITIAL_LOOKBACK_DAYS", "1"),
        ],
        None,
    )
    .await;
    // The pipeline writes on the simulator's clock.
    let before = env.clock.now().timestamp();
    let s = env
        .app()
        .handle(&json!({}), Deadline::none())
        .await
        .unwrap();
    assert!(s[0].error.is_none() && s[0].new > 0, "{:?}", s[0]);
    let after = env.clock.now().timestamp();

    let sdk = e2e::local_sdk_config(&env._moto.endpoint).await;
    let db = aws_sdk_dynamodb::Client::new(&sdk);
    let table = StackNames::default().events_table;
    let items = e2e::scan_table(&db, &table).await;
    let thirty_days = 30 * 86_400;
    let (mut events, mut markers, mut counters) = (0, 0, 0);
    for item in &items {
        let pk = item["pk"].as_s().unwrap();
        let sk = item["sk"].as_s().unwrap();
        match pk.as_str() {
            "presence" => markers += 1,
            _ if pk.starts_with("agg#") => counters += 1,
            // Event items carry the document; nothing else a pull writes does.
            _ if item.contains_key(aws::items::DOC) => events += 1,
            _ => panic!(
                "{pk}/{sk}: a pull wrote an item that is neither an event, a marker nor a counter"
            ),
        }
        let Some(AttributeValue::N(n)) = item.get("expires_at") else {
            panic!("{pk}/{sk} has no numeric expires_at: {item:?}");
        };
        let at: i64 = n.parse().unwrap();
        assert!(
            (before + thirty_days..=after + thirty_days).contains(&at),
            "{pk}/{sk}: expires_at {at} is not 30 days after the write ({before}..{after})"
        );
    }
    assert_eq!(events as u64, s[0].new, "every new event stored once");
    assert!(
        markers > 0 && counters > 0,
        "{markers} markers, {counters} counters"
    );

    let ttl = db
        .describe_time_to_live()
        .table_name(&table)
        .send()
        .await
        .unwrap();
    let ttl = ttl.time_to_live_description().expect("TTL description");
    assert_eq!(ttl.attribute_name(), Some("expires_at"));
    let template = std::fs::read_to_string(e2e::repo_root().join("template.yaml")).unwrap();
    assert!(
        template.contains(
            "TimeToLiveSpecification:\n        AttributeName: expires_at\n        Enabled: true"
        ),
        "template.yaml's table TTL is not on `expires_at`"
    );
}
