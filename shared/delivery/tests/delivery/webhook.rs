//! The sender: only listed hosts, only vetted addresses, no redirects, retries on transient
//! failures, never on refusals.

use delivery::webhook::SendError;
use domain::config::Outbound;
use domain::destination::{Allowlist, Refused};
use testkit::receiver::Receiver;

use crate::support::{local, sender};

#[tokio::test]
async fn a_listed_receiver_gets_the_body_and_headers() {
    let rx = Receiver::start().await;
    let s = sender(local(&rx));
    let status = s
        .post(
            &rx.url("/hook"),
            "application/json",
            &[("auditlake-delivery", "dl-1".into())],
            b"{\"a\":1}".to_vec(),
        )
        .await
        .unwrap();
    assert_eq!(status, 200);
    let got = rx.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].path, "/hook");
    assert_eq!(got[0].delivery.as_deref(), Some("dl-1"));
    assert_eq!(got[0].body, b"{\"a\":1}");
}

#[tokio::test]
async fn a_host_not_on_the_list_is_refused_before_any_request() {
    let rx = Receiver::start().await;
    let mut out = local(&rx);
    out.allowlist = Allowlist::parse("hooks.example.com").unwrap();
    let e = sender(out)
        .post(&rx.url("/hook"), "application/json", &[], b"{}".to_vec())
        .await
        .unwrap_err();
    assert!(
        matches!(e, SendError::Refused(Refused::NotAllowed(_))),
        "{e}"
    );
    assert_eq!(rx.attempts(), 0);
}

#[tokio::test]
async fn a_listed_name_that_resolves_to_loopback_is_refused_in_a_deployed_stack() {
    // `localhost` is on the list, but resolves (through the hosts file) to loopback only: with
    // the local-only switch off, as in Lambda, no request is made.
    let rx = Receiver::start().await;
    let out = Outbound {
        allow_loopback: false,
        ..local(&rx)
    };
    let e = sender(out)
        .post(&rx.url("/hook"), "application/json", &[], b"{}".to_vec())
        .await
        .unwrap_err();
    assert!(
        matches!(e, SendError::Refused(Refused::PrivateAddress { .. })),
        "{e}"
    );
    assert_eq!(rx.attempts(), 0);
}

#[tokio::test]
async fn private_metadata_and_literal_addresses_are_refused() {
    let rx = Receiver::start().await;
    let s = sender(local(&rx));
    for url in [
        "https://169.254.169.254/latest/meta-data/",
        "https://127.0.0.1/hook",
        "https://[::1]/hook",
        "http://localhost/hook",
        "https://10.0.0.1/",
    ] {
        let e = s
            .post(url, "application/json", &[], b"{}".to_vec())
            .await
            .unwrap_err();
        assert!(matches!(e, SendError::Refused(_)), "{url}: {e}");
    }
    assert_eq!(rx.attempts(), 0);
}

#[tokio::test]
async fn a_redirect_is_not_followed_even_to_a_listed_host() {
    let rx = Receiver::start().await;
    let target = Receiver::start().await;
    let mut out = local(&rx);
    out.allowlist =
        Allowlist::parse(&format!("{},{}", rx.allow_entry(), target.allow_entry())).unwrap();
    rx.redirect(Some(target.url("/stolen")));
    let e = sender(out)
        .post(&rx.url("/hook"), "application/json", &[], b"{}".to_vec())
        .await
        .unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("307") && text.contains("redirects are not followed"),
        "{text}"
    );
    assert_eq!(rx.attempts(), 1, "a redirect is not retried");
    assert_eq!(target.attempts(), 0);
}

#[tokio::test]
async fn transient_failures_are_retried_and_a_lasting_one_reported() {
    let rx = Receiver::start().await;
    let s = sender(local(&rx));
    rx.fail_next(2);
    s.post(&rx.url("/hook"), "application/json", &[], b"{}".to_vec())
        .await
        .unwrap();
    assert_eq!(rx.attempts(), 3);
    assert_eq!(rx.received().len(), 1);
    rx.fail_next(10);
    let e = s
        .post(
            &rx.url("/hook"),
            "application/json",
            &[],
            b"{\"secret\":1}".to_vec(),
        )
        .await
        .unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("status 503") && text.contains("3 tries"),
        "{text}"
    );
    assert!(
        !text.contains("secret"),
        "the body never reaches an error: {text}"
    );
}

#[tokio::test]
async fn a_receiver_whose_certificate_is_not_trusted_is_not_reached() {
    let rx = Receiver::start().await;
    let out = Outbound {
        ca_file: None,
        ..local(&rx)
    };
    let e = sender(out)
        .post(&rx.url("/hook"), "application/json", &[], b"{}".to_vec())
        .await
        .unwrap_err();
    assert!(matches!(e, SendError::Failed { .. }), "{e}");
    assert!(rx.received().is_empty());
}
