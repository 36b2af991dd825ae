//! The DynamoDB state store in moto: leases and checkpoints are conditional writes, so a second
//! run is locked out and an expired lease's old holder cannot advance the watermark.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_leases_and_checkpoints_are_conditional() {
    let env = env(SimConfig::default(), &[], None).await;
    let state = env.ports.state.clone();
    let key = &env.key;
    let t0 = env.clock.now();
    let a = state
        .acquire(key, "run-a", t0, t0 + TimeDelta::minutes(5))
        .await
        .unwrap();
    assert_eq!(a.watermark, None);
    match state
        .acquire(key, "run-b", t0, t0 + TimeDelta::minutes(5))
        .await
    {
        Err(StateError::Locked { owner, .. }) => assert_eq!(owner, "run-a"),
        other => panic!("expected Locked, got {other:?}"),
    }
    let a = state.advance(key, &a, t0).await.unwrap();
    assert_eq!(a.watermark, Some(t0));
    // An expired lease can be taken over; the old holder's writes are then refused.
    let later = t0 + TimeDelta::minutes(6);
    let b = state
        .acquire(key, "run-b", later, later + TimeDelta::minutes(5))
        .await
        .unwrap();
    assert_eq!(b.watermark, Some(t0));
    assert!(matches!(
        state.advance(key, &a, later).await,
        Err(StateError::LeaseLost { .. })
    ));
    let b = state.advance(key, &b, later).await.unwrap();
    state.release(key, &b).await.unwrap();
    let c = state
        .acquire(key, "run-c", later, later + TimeDelta::minutes(5))
        .await
        .unwrap();
    assert_eq!(c.watermark, Some(later));
}

/// Many runs asking for one lease at the same moment: exactly one gets it, every round. DynamoDB
/// guarantees this; moto's threaded server alone does not (its condition check and write are not
/// atomic), which is why the harness runs moto through `tests/e2e/moto_server_atomic.py`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_acquires_grant_one_lease_per_round() {
    let env = env(SimConfig::default(), &[], None).await;
    let t0 = env.clock.now();
    for round in 0..30 {
        let key = StreamKey::new(format!("tenant-{round}"), env.key.source, None);
        let attempts: Vec<_> = (0..16)
            .map(|i| {
                let state = env.ports.state.clone();
                let key = key.clone();
                tokio::spawn(async move {
                    state
                        .acquire(&key, &format!("run-{i}"), t0, t0 + TimeDelta::minutes(5))
                        .await
                        .is_ok()
                })
            })
            .collect();
        let mut granted = 0;
        for attempt in attempts {
            granted += usize::from(attempt.await.expect("task"));
        }
        assert_eq!(granted, 1, "round {round}: {granted} runs got the lease");
    }
}
