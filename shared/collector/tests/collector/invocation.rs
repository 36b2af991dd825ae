//! Reading Lambda payloads: EventBridge ticks and empty payloads are scheduled runs, `start` and
//! `end` make a backfill, and every malformed backfill is refused with its own error.

use collector::pipeline::{Invocation, InvocationError};
use domain::model::Window;
use serde_json::json;

use crate::support::t;

#[test]
fn payloads_without_start_and_end_are_scheduled_ticks() {
    let eventbridge = json!({
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2024-05-10T12:05:00Z",
        "region": "eu-west-1",
        "resources": ["arn:aws:events:eu-west-1:123456789012:rule/auditlake-pull"],
        "detail": {}
    });
    for payload in [
        eventbridge,
        json!({}),
        json!(null),
        json!({"start": null, "end": null}),
    ] {
        assert_eq!(
            Invocation::from_payload(&payload),
            Ok(Invocation::Scheduled),
            "{payload}"
        );
    }
}

#[test]
fn start_and_end_make_a_backfill() {
    let p = json!({"start": "2024-05-01T00:00:00Z", "end": "2024-05-02T06:30:00+02:00"});
    assert_eq!(
        Invocation::from_payload(&p),
        Ok(Invocation::Backfill(Window::new(
            t("2024-05-01T00:00:00Z"),
            t("2024-05-02T04:30:00Z")
        )))
    );
}

#[test]
fn bad_backfill_payloads_are_refused_with_the_matching_error() {
    assert_eq!(
        Invocation::from_payload(&json!({"start": "2024-05-01T00:00:00Z"})),
        Err(InvocationError::Incomplete)
    );
    assert_eq!(
        Invocation::from_payload(&json!({"end": "2024-05-01T00:00:00Z"})),
        Err(InvocationError::Incomplete)
    );
    match Invocation::from_payload(&json!({"start": "yesterday", "end": "2024-05-01T00:00:00Z"})) {
        Err(InvocationError::BadTime { field, value }) => {
            assert_eq!(field, "start");
            assert!(value.contains("yesterday"), "{value}");
        }
        other => panic!("expected BadTime, got {other:?}"),
    }
    match Invocation::from_payload(&json!({"start": "2024-05-01T00:00:00Z", "end": 1714521600})) {
        Err(InvocationError::BadTime { field, value }) => {
            assert_eq!(field, "end");
            assert_eq!(value, "1714521600");
        }
        other => panic!("expected BadTime, got {other:?}"),
    }
    assert_eq!(
        Invocation::from_payload(
            &json!({"start": "2024-05-01T00:00:00Z", "end": "2024-05-01T00:00:00Z"})
        ),
        Err(InvocationError::Empty)
    );
    assert_eq!(
        Invocation::from_payload(
            &json!({"start": "2024-05-02T00:00:00Z", "end": "2024-05-01T00:00:00Z"})
        ),
        Err(InvocationError::Empty)
    );
}
