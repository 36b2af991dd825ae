//! A page that names somewhere else as its next page: Graph's `@odata.nextLink` and the
//! Management API's `NextPageUri` pointing at another port on loopback over plain http (the
//! simulator's `/_sim/paging-base`). The bearer token must not go there: the listener behind that
//! port sees no connection at all, the run ends with a protocol error naming the refusal, health
//! records it, and the watermark does not pass the window.

use super::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::io::AsyncReadExt;

/// A listener that counts connections and keeps the first bytes of each (a request line and
/// headers, should any token ever arrive).
struct Thief {
    url: String,
    connections: Arc<AtomicUsize>,
    seen: Arc<std::sync::Mutex<Vec<String>>>,
}

async fn thief() -> Thief {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let connections = Arc::new(AtomicUsize::new(0));
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (c, s) = (connections.clone(), seen.clone());
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            c.fetch_add(1, Ordering::SeqCst);
            let mut buf = vec![0u8; 4096];
            let n = sock.read(&mut buf).await.unwrap_or(0);
            s.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    });
    Thief {
        url,
        connections,
        seen,
    }
}

fn sim_config() -> SimConfig {
    SimConfig {
        seed: 12,
        days: 1,
        events_per_hour: 40,
        mgmt_page_size: 2,
        ..SimConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graph_next_link_to_another_origin_gets_no_token_and_fails_the_run() {
    let env = env(
        sim_config(),
        &[
            ("AUDITLAKE_PAGE_SIZE", "5"),
            ("AUDITLAKE_INITIAL_LOOKBACK_DAYS", "1"),
        ],
        None,
    )
    .await;
    let thief = thief().await;
    env.ctl.set_paging_base(Some(&thief.url)).await.unwrap();
    let s = env
        .app()
        .handle(&json!({}), Deadline::none())
        .await
        .unwrap();
    let err = s[0].error.as_ref().expect("the run fails");
    assert!(
        err.message.contains("refusing to follow @odata.nextLink")
            && err.message.contains(&thief.url),
        "{err:?}"
    );
    assert_eq!(
        thief.connections.load(Ordering::SeqCst),
        0,
        "the other origin was contacted: {:?}",
        thief.seen.lock().unwrap()
    );
    // The first page is stored (raw first), but the window is not done: the watermark stays.
    assert!(s[0].pulled > 0, "{:?}", s[0]);
    let origin = env.clock.now() - TimeDelta::days(1);
    assert_eq!(
        env.ports.state.watermark(&env.key).await.unwrap(),
        Some(origin)
    );
    let health = env
        .ports
        .state
        .health(&env.key)
        .await
        .unwrap()
        .expect("health");
    let last = health.last_error.expect("health keeps the error");
    assert!(last.message.contains("refusing to follow"), "{last:?}");

    // Pointed back at Graph itself, the next run collects the window.
    env.ctl.set_paging_base(None).await.unwrap();
    let s = env
        .app()
        .handle(&json!({}), Deadline::none())
        .await
        .unwrap();
    assert!(s[0].error.is_none(), "{:?}", s[0].error);
    assert!(env.ports.state.watermark(&env.key).await.unwrap() > Some(origin));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_management_api_next_page_to_another_origin_gets_no_token_and_fails_the_run() {
    let env = env(
        sim_config(),
        &[("AUDITLAKE_INITIAL_LOOKBACK_DAYS", "1")],
        None,
    )
    .await;
    let thief = thief().await;
    env.ctl.set_paging_base(Some(&thief.url)).await.unwrap();
    let app = PullerApp::new(Source::M365Activity, &env.config, env.ports.clone()).expect("puller");
    let summaries = app.handle(&json!({}), Deadline::none()).await.unwrap();
    let refused: Vec<_> = summaries
        .iter()
        .filter_map(|s| s.error.as_ref())
        .filter(|e| {
            e.message
                .contains("refusing to follow a Management API URL on another host")
        })
        .collect();
    assert!(!refused.is_empty(), "{summaries:?}");
    assert_eq!(
        thief.connections.load(Ordering::SeqCst),
        0,
        "the other origin was contacted: {:?}",
        thief.seen.lock().unwrap()
    );
}
