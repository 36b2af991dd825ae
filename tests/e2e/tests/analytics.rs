//! Analytics end to end: the Athena adapter against moto's Athena API with seeded results (start,
//! poll, page, header row, parameters validated before anything is sent), and the curated layer
//! written by real pulls of the simulator into moto's S3, counted by the local engine: pulling
//! the same windows again (a second scheduled run over the overlap, then a backfill of the whole
//! range) writes more Parquet rows but changes no count, and the count is the simulator's truth.

use std::time::Duration;

use aws::AthenaEngine;
use collector::app::{Ports, PullerApp};
use domain::config::PullerConfig;
use domain::model::{Source, fmt_time};
use e2e::{Moto, SimClock, SimControl, StackNames, local_sdk_config, provision, puller_vars};
use m365_sim::SimConfig;
use query::analytics;
use runtime::clock::{Clock, Deadline};
use serde_json::json;
use testkit::local_engine::LocalEngine;

/// Queues a result for moto's Athena to answer the next query with.
async fn seed_results(endpoint: &str, seeded: &serde_json::Value) {
    let resp = reqwest::Client::new()
        .post(format!("{endpoint}/moto-api/static/athena/query-results"))
        .json(seeded)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_athena_adapter_starts_polls_and_pages_against_moto() {
    let moto = Moto::start().await.expect("moto_server");
    let sdk = local_sdk_config(&moto.endpoint).await;
    let col = |name: &str, ty: &str| {
        json!({"CatalogName": "hive", "SchemaName": "", "TableName": "", "Name": name, "Label": name,
               "Type": ty, "Precision": 0, "Scale": 0, "Nullable": "UNKNOWN", "CaseSensitive": true})
    };
    let row = |cells: &[&str]| json!({"Data": cells.iter().map(|c| json!({"VarCharValue": c})).collect::<Vec<_>>()});
    let seeded = json!({
        "account_id": "123456789012",
        "region": "us-east-1",
        "results": [{
            "column_info": [col("user_upn", "varchar"), col("country", "varchar"), col("failures", "bigint")],
            "rows": [
                row(&["user_upn", "country", "failures"]),
                row(&["carol@contoso.com", "RU", "4"]),
                row(&["dave@contoso.com", "CN", "3"]),
            ],
        }],
    });
    seed_results(&moto.endpoint, &seeded).await;

    let engine =
        AthenaEngine::new(&sdk, "primary", "auditlake").with_poll(Duration::from_millis(50));
    let params = json!({"start_date": "2024-05-01", "end_date": "2024-05-07", "min_failures": 3});
    let table = analytics::run_hunting_query(
        &engine,
        "failed_sign_ins_by_user_country",
        params.as_object().unwrap(),
        Duration::from_secs(30),
    )
    .await
    .expect("query through moto");
    let names: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["user_upn", "country", "failures"]);
    assert_eq!(table.columns[2].ty, "bigint");
    assert_eq!(
        table.rows,
        vec![
            vec![
                Some("carol@contoso.com".into()),
                Some("RU".into()),
                Some("4".into())
            ],
            vec![
                Some("dave@contoso.com".into()),
                Some("CN".into()),
                Some("3".into())
            ],
        ],
        "the header row is dropped"
    );

    // Validation happens before anything reaches Athena: unknown query 404, bad parameter 400.
    let err = analytics::run_hunting_query(
        &engine,
        "drop_table",
        params.as_object().unwrap(),
        Duration::from_secs(5),
    )
    .await
    .unwrap_err();
    assert_eq!(err.status(), 404);
    let bad = json!({"start_date": "2024-05-01'; DROP TABLE x; --", "end_date": "2024-05-07", "min_failures": 3});
    let err = analytics::run_hunting_query(
        &engine,
        "failed_sign_ins_by_user_country",
        bad.as_object().unwrap(),
        Duration::from_secs(5),
    )
    .await
    .unwrap_err();
    assert_eq!(err.status(), 400);
    assert!(err.to_string().contains("start_date"), "{err}");

    // The same through the query API as the Lambda wires it (`query_app` with the stack's
    // AUDITLAKE_ATHENA_* variables), over HTTP: the next seeded result comes back as JSON.
    let seeded = json!({
        "account_id": "123456789012",
        "region": "us-east-1",
        "results": [{
            "column_info": [col("time", "timestamp"), col("actor", "varchar"), col("app", "varchar")],
            "rows": [
                row(&["time", "actor", "app"]),
                row(&["2024-05-03 10:00:00.000", "erin@contoso.com", "Mail Sync Pro"]),
            ],
        }],
    });
    seed_results(&moto.endpoint, &seeded).await;
    let vars = [
        (
            "AUDITLAKE_TENANT_ID",
            "8f3c5a2e-6b1d-4c9e-a7f0-2d4b6e8a1c35",
        ),
        ("AUDITLAKE_EVENTS_TABLE", "events"),
        ("AUDITLAKE_STATE_TABLE", "state"),
        ("AUDITLAKE_AUTH_DISABLED", "true"),
        ("AUDITLAKE_ATHENA_WORKGROUP", "primary"),
        ("AUDITLAKE_ATHENA_DATABASE", "auditlake"),
        ("AUDITLAKE_ANALYTICS_TIMEOUT_SECS", "20"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect::<Vec<_>>();
    let config = domain::config::QueryConfig::from_vars(vars).expect("query config");
    let app = query::query_app(&sdk, &config).await.expect("query app");
    let (addr, _task) = query::spawn(app, "127.0.0.1:0").await.unwrap();
    let http = reqwest::Client::new();
    let catalog: serde_json::Value = http
        .get(format!("http://{addr}/analytics"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(catalog["enabled"], true, "{catalog}");
    assert_eq!(catalog["time_limit_secs"], 20, "{catalog}");
    let resp = http
        .post(format!("http://{addr}/analytics/consent_grants"))
        .json(&json!({"start_date": "2024-05-01", "end_date": "2024-05-07"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["query"], "consent_grants");
    assert_eq!(
        body["rows"],
        json!([[
            "2024-05-03 10:00:00.000",
            "erin@contoso.com",
            "Mail Sync Pro"
        ]]),
        "{body}"
    );
    assert_eq!(
        body["columns"][0],
        json!({"name": "time", "type": "timestamp"})
    );
    let resp = http
        .post(format!("http://{addr}/analytics/consent_grants"))
        .json(&json!({"start_date": "May 1st"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pulling_the_same_windows_twice_changes_no_count_in_the_curated_layer() {
    let moto = Moto::start().await.expect("moto_server");
    let sdk = local_sdk_config(&moto.endpoint).await;
    let names = StackNames::default();
    let sim_config = SimConfig {
        seed: 11,
        days: 1,
        events_per_hour: 20,
        ..SimConfig::default()
    };
    provision(&sdk, &names, &sim_config.client_secret)
        .await
        .expect("provision");
    let (tenant, client_id) = (sim_config.tenant.clone(), sim_config.client_id.clone());
    let sim = m365_sim::start(sim_config).await.expect("simulator");
    let ctl = SimControl::new(sim.base_url());
    let clock = std::sync::Arc::new(SimClock::new(ctl.clone()).await.expect("sim clock"));
    let vars = puller_vars(
        &sim.base_url(),
        &tenant,
        &client_id,
        &names,
        &[
            ("AUDITLAKE_INITIAL_LOOKBACK_DAYS", "1"),
            ("AUDITLAKE_OVERLAP_SECS", "3600"),
            ("AUDITLAKE_LAG_SECS", "120"),
        ],
    );
    let config = PullerConfig::from_vars(vars).expect("config");
    let ports = Ports::aws(&sdk, &config).with_clock(clock.clone());
    let source = Source::EntraDirectoryAudits;
    let app = PullerApp::new(source, &config, ports.clone()).expect("puller");

    let first = clock.now();
    let mut new = 0;
    for s in app.handle(&json!({}), Deadline::none()).await.unwrap() {
        new += s.new;
    }
    clock.advance(1800).await.unwrap();
    // The second tick re-reads an hour of overlap; the backfill pulls the whole day again.
    for s in app.handle(&json!({}), Deadline::none()).await.unwrap() {
        new += s.new;
    }
    let backfill = json!({
        "start": fmt_time(first - chrono::TimeDelta::days(1)),
        "end": fmt_time(clock.now() - chrono::TimeDelta::seconds(120)),
    });
    let s = app.handle(&backfill, Deadline::none()).await.unwrap();
    assert!(
        s[0].duplicates > 0,
        "the backfill re-pulled events: {:?}",
        s[0]
    );

    let until = clock.now() - chrono::TimeDelta::seconds(120);
    let truth = ctl.truth(source.name(), until).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let objects = e2e::analytics::mirror_curated(ports.raw.as_ref(), dir.path())
        .await
        .unwrap();
    assert!(objects > 0);

    let engine = LocalEngine::from_repo(dir.path());
    let count = |sql: &'static str| {
        let engine = engine.clone();
        async move {
            let file = engine.data.join("count.sql");
            std::fs::write(&file, sql).unwrap();
            let out = std::process::Command::new(&engine.python)
                .arg(&engine.runner)
                .arg("--data")
                .arg(&engine.data)
                .arg("--sql")
                .arg(&file)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let t: domain::analytics::Table = serde_json::from_slice(&out.stdout).unwrap();
            t.rows[0][0].clone().unwrap().parse::<usize>().unwrap()
        }
    };
    let rows = count("SELECT count(*) FROM curated_events").await;
    let events = count("SELECT count(*) FROM events").await;
    let distinct = count("SELECT count(DISTINCT record_id) FROM events").await;
    eprintln!(
        "truth {} ids, curated rows {rows}, events {events}",
        truth.ids.len()
    );
    assert!(
        rows > events,
        "the re-pulls wrote duplicate rows ({rows} rows)"
    );
    assert_eq!(events, distinct);
    // Exactly the events DynamoDB's conditional puts admitted, once each, and every one of them
    // is a record the simulator served (truth may also hold a record made visible at the last
    // instant, after the last window's end).
    assert_eq!(events as u64, new, "each event counted exactly once");
    let ids: std::collections::HashSet<&str> = truth.ids.iter().map(String::as_str).collect();
    assert!(
        events <= ids.len() && ids.len() - events <= 2,
        "{events} vs truth {}",
        ids.len()
    );
}
