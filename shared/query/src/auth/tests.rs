//! Tests of bearer-token verification against the loopback issuer of [`super::fixture`]: every
//! check named, algorithm confusion, the clock port, key rotation, an unreachable issuer.
//! Whether a token is an access token at all (not an ID token) is in `token_kind_tests`.

use jsonwebtoken::{EncodingKey, Header};
use serde_json::json;
use tokio::net::TcpListener;

use super::fixture::*;
use super::*;
use testkit::clock::ManualClock;

#[tokio::test]
async fn a_valid_token_becomes_its_principal() {
    let a = TestKey::a();
    let issuer = Issuer::start(&[&a]).await;
    let clock = clock();
    let v = verifier(&issuer, &clock, |_| {});
    let p = auth(&v, &a.sign(&claims(&issuer))).await.unwrap();
    assert_eq!(
        p,
        Principal {
            subject: OID.into(),
            name: Some("Ada Lovelace".into()),
            upn: Some("ada@contoso.example".into()),
            roles: vec!["auditlake.read".into(), "auditlake.annotate".into()],
            groups: vec!["g-1".into(), "g-2".into()],
        }
    );
    assert_eq!(issuer.discoveries(), 1);
    assert_eq!(issuer.key_fetches(), 1);

    // `sub` without `oid`, `upn` without `preferred_username`, no roles or groups, the client id
    // as audience inside an array, the scheme in lower case: all fine. Keys come from the cache.
    let minimal = with(claims(&issuer), |c| {
        for k in ["oid", "preferred_username", "roles", "groups", "name"] {
            c.remove(k);
        }
        c.insert("upn".into(), json!("ada@legacy.example"));
        c.insert("aud".into(), json!(["someone-else", API_CLIENT_ID]));
    });
    let p = v
        .authenticate(Some(&format!("bearer  {} ", a.sign(&minimal))))
        .await
        .unwrap();
    assert_eq!(p.subject, "pairwise-subject");
    assert_eq!(p.upn.as_deref(), Some("ada@legacy.example"));
    assert_eq!((p.name, p.roles.len(), p.groups.len()), (None, 0, 0));
    assert_eq!(issuer.key_fetches(), 1);
}

#[tokio::test]
async fn every_failed_check_is_named() {
    let (a, b) = (TestKey::a(), TestKey::b());
    let issuer = Issuer::start(&[&a]).await;
    let clock = clock();
    let v = verifier(&issuer, &clock, |_| {});
    let good = claims(&issuer);
    let good_token = a.sign(&good);

    // Signed by key B but naming key A; and key A's token with altered claims.
    let forged = TestKey {
        kid: "key-a".into(),
        ..TestKey::b()
    };
    let (h, _, s) = {
        let mut it = good_token.split('.');
        (it.next().unwrap(), it.next().unwrap(), it.next().unwrap())
    };
    let escalated = with(good.clone(), |c| {
        c.insert("roles".into(), json!(["auditlake.admin"]));
    });
    let tampered = format!("{h}.{}.{s}", b64(&escalated));
    let no_kid = jsonwebtoken::encode(
        &Header::new(Algorithm::RS256),
        &good,
        &EncodingKey::from_rsa_der(&a.pkcs1),
    )
    .unwrap();

    // Key B carried in the token's own header (`jwk`, `jku`): never trusted.
    let embedded = jsonwebtoken::encode(
        &Header {
            kid: Some("key-a".into()),
            jwk: Some(serde_json::from_value(b.jwk()).unwrap()),
            jku: Some(format!("{}{KEYS_PATH}", issuer.base)),
            ..Header::new(Algorithm::RS256)
        },
        &good,
        &EncodingKey::from_rsa_der(&b.pkcs1),
    )
    .unwrap();
    let crit = format!(
        "{}.{}.c2ln",
        b64(&json!({"alg": "RS256", "kid": "key-a", "crit": ["exp"], "exp": 1})),
        b64(&good)
    );

    let cases: Vec<(String, &str)> = vec![
        (forged.sign(&good), "signature does not verify"),
        (embedded, "signature does not verify"),
        (crit, "critical header parameters (crit)"),
        (tampered, "signature does not verify"),
        (
            a.sign(&with(good.clone(), |c| {
                c.insert(
                    "iss".into(),
                    json!("https://login.microsoftonline.com/other/v2.0"),
                );
            })),
            "wrong issuer",
        ),
        (
            a.sign(&with(good.clone(), |c| {
                c.remove("iss");
            })),
            "no issuer (iss)",
        ),
        (
            a.sign(&with(good.clone(), |c| {
                c.insert("aud".into(), json!("api://someone-else"));
            })),
            "wrong audience",
        ),
        (
            a.sign(&with(good.clone(), |c| {
                c.insert("aud".into(), json!(["x", "y"]));
            })),
            "wrong audience",
        ),
        (
            a.sign(&with(good.clone(), |c| {
                c.remove("aud");
            })),
            "no audience (aud)",
        ),
        // Past the 60 s leeway.
        (
            a.sign(&with(good.clone(), |c| {
                c.insert("exp".into(), json!(NOW - 61));
            })),
            "token expired",
        ),
        (
            a.sign(&with(good.clone(), |c| {
                c.remove("exp");
            })),
            "no expiry (exp)",
        ),
        (
            a.sign(&with(good.clone(), |c| {
                c.insert("exp".into(), json!("tomorrow"));
            })),
            "claim exp is not a date",
        ),
        (
            a.sign(&with(good.clone(), |c| {
                c.insert("nbf".into(), json!(NOW + 61));
            })),
            "token not yet valid",
        ),
        (
            a.sign(&with(good.clone(), |c| {
                c.remove("oid");
                c.remove("sub");
            })),
            "no subject",
        ),
        (no_kid, "names no signing key (kid)"),
        (
            TestKey {
                kid: "key-z".into(),
                ..TestKey::a()
            }
            .sign(&good),
            "unknown signing key",
        ),
        ("abc".into(), "three dot-separated parts"),
        ("a.b".into(), "three dot-separated parts"),
        ("a.b.c.d".into(), "three dot-separated parts"),
        (
            format!("!!.{}.sig", b64(&good)),
            "header is not base64url JSON",
        ),
        (
            format!("{}.{}.sig", b64(&json!([1])), b64(&good)),
            "header is not base64url JSON",
        ),
        (
            format!("{}.{}.sig", b64(&json!({"typ": "JWT"})), b64(&good)),
            "header has no alg",
        ),
        (
            format!(
                "{}.not-json.sig",
                b64(&json!({"alg": "RS256", "kid": "key-a"}))
            ),
            "claims are not base64url JSON",
        ),
        (
            format!(
                "{}.{}.",
                b64(&json!({"alg": "RS256", "kid": "key-a"})),
                b64(&good)
            ),
            "no signature",
        ),
        (
            "x".repeat(MAX_TOKEN_LEN + 1),
            "longer than any access token",
        ),
    ];
    for (token, want) in &cases {
        let why = refused(&v, token).await;
        assert!(why.contains(want), "expected '{want}', got '{why}'");
    }
    // Inside the leeway is fine, on both ends.
    for c in [
        with(good.clone(), |c| {
            c.insert("exp".into(), json!(NOW - 59));
        }),
        with(good.clone(), |c| {
            c.insert("nbf".into(), json!(NOW + 59));
        }),
    ] {
        auth(&v, &a.sign(&c)).await.unwrap();
    }
    // The Display of the error carries the check too, and a 401.
    let wrong_issuer = &cases.iter().find(|(_, w)| *w == "wrong issuer").unwrap().0;
    let err = auth(&v, wrong_issuer).await.unwrap_err();
    assert_eq!(err.to_string(), "invalid bearer token: wrong issuer");
    assert_eq!(err.status(), 401);
    assert_eq!(
        err.www_authenticate().unwrap(),
        "Bearer error=\"invalid_token\", error_description=\"wrong issuer\""
    );
    // One fetch served everything (the unknown kid came within the refetch interval).
    assert_eq!(issuer.key_fetches(), 1);
    // The good token still passes.
    auth(&v, &good_token).await.unwrap();
}

#[tokio::test]
async fn alg_none_and_hmac_with_the_public_key_are_refused_before_any_key_lookup() {
    let a = TestKey::a();
    let issuer = Issuer::start(&[&a]).await;
    let clock = clock();
    let v = verifier(&issuer, &clock, |_| {});
    let good = claims(&issuer);

    // `alg: none` with no signature, and with a (meaningless) one; any letter case.
    for alg in ["none", "None", "NONE"] {
        let head = b64(&json!({"alg": alg, "typ": "JWT", "kid": "key-a"}));
        for token in [
            format!("{head}.{}.", b64(&good)),
            format!("{head}.{}.c2ln", b64(&good)),
        ] {
            assert_eq!(refused(&v, &token).await, "algorithm none is not allowed");
        }
    }
    // Algorithm confusion: HS256 keyed with the RSA public key the JWKS publishes (both as the
    // PKCS#1 DER and as the JWK's modulus), which a naive verifier would accept.
    let modulus = a.jwk()["n"].as_str().unwrap().to_string();
    for secret in [a.public_der.clone(), modulus.into_bytes()] {
        for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            let header = Header {
                kid: Some("key-a".into()),
                ..Header::new(alg)
            };
            let token =
                jsonwebtoken::encode(&header, &good, &EncodingKey::from_secret(&secret)).unwrap();
            assert_eq!(
                refused(&v, &token).await,
                format!("algorithm {alg:?} is not allowed")
            );
        }
    }
    // Other families, and names nobody knows.
    for alg in ["ES256", "EdDSA", "PS256", "RS512"] {
        let token = format!(
            "{}.{}.c2ln",
            b64(&json!({"alg": alg, "kid": "key-a"})),
            b64(&good)
        );
        assert_eq!(
            refused(&v, &token).await,
            format!("algorithm {alg} is not allowed")
        );
    }
    let token = format!(
        "{}.{}.c2ln",
        b64(&json!({"alg": "XX999", "kid": "key-a"})),
        b64(&good)
    );
    assert_eq!(
        refused(&v, &token).await,
        "the token's algorithm is not allowed"
    );
    // None of it touched the issuer.
    assert_eq!((issuer.discoveries(), issuer.key_fetches()), (0, 0));

    // PS256 becomes acceptable only when configured.
    let ps = verifier(&issuer, &clock, |c| c.algorithms = vec![Algorithm::PS256]);
    let header = Header {
        kid: Some("key-a".into()),
        ..Header::new(Algorithm::PS256)
    };
    let token = jsonwebtoken::encode(&header, &good, &EncodingKey::from_rsa_der(&a.pkcs1)).unwrap();
    auth(&ps, &token).await.unwrap();
    assert_eq!(
        refused(&ps, &a.sign(&good)).await,
        "algorithm RS256 is not allowed"
    );
}

#[tokio::test]
async fn time_comes_from_the_clock_port() {
    let a = TestKey::a();
    let issuer = Issuer::start(&[&a]).await;
    let clock = clock();
    let v = verifier(&issuer, &clock, |_| {});
    let token = a.sign(&with(claims(&issuer), |c| {
        c.insert("nbf".into(), json!(NOW + 600));
        c.insert("exp".into(), json!(NOW + 1200));
    }));
    assert!(refused(&v, &token).await.contains("not yet valid"));
    clock.set(now() + TimeDelta::seconds(600));
    auth(&v, &token).await.unwrap();
    clock.set(now() + TimeDelta::seconds(1200 + 59));
    auth(&v, &token).await.unwrap();
    clock.set(now() + TimeDelta::seconds(1200 + 60));
    assert_eq!(refused(&v, &token).await, "token expired");
}

#[tokio::test]
async fn a_key_rotation_is_picked_up_but_forged_kids_cannot_hammer_the_issuer() {
    let (a, b) = (TestKey::a(), TestKey::b());
    let issuer = Issuer::start(&[&a]).await;
    let clock = clock();
    let v = verifier(&issuer, &clock, |_| {});
    let mut c = claims(&issuer);
    auth(&v, &a.sign(&c)).await.unwrap();
    assert_eq!(issuer.key_fetches(), 1);

    // Entra rolls its keys: B replaces A.
    issuer.set_keys(&[&b]);
    // A flood of tokens naming kids nobody published, right after the fetch: no request.
    for i in 0..50 {
        let forged = TestKey {
            kid: format!("forged-{i}"),
            ..TestKey::b()
        };
        assert!(
            refused(&v, &forged.sign(&c))
                .await
                .contains("unknown signing key")
        );
    }
    // B's tokens too, until the refetch interval (5 min) has passed since the last fetch.
    assert!(
        refused(&v, &b.sign(&c))
            .await
            .contains("unknown signing key")
    );
    assert_eq!(issuer.key_fetches(), 1);
    clock.set(now() + TimeDelta::seconds(299));
    assert!(
        refused(&v, &b.sign(&c))
            .await
            .contains("unknown signing key")
    );
    assert_eq!(issuer.key_fetches(), 1);
    clock.set(now() + TimeDelta::seconds(300));
    auth(&v, &b.sign(&c)).await.unwrap();
    assert_eq!(issuer.key_fetches(), 2);
    // The retired key A is no longer trusted, and asking again does not refetch.
    for _ in 0..20 {
        assert!(
            refused(&v, &a.sign(&c))
                .await
                .contains("unknown signing key")
        );
    }
    assert_eq!(issuer.key_fetches(), 2);
    // Discovery happened once; the key set URL is remembered.
    assert_eq!(issuer.discoveries(), 1);

    // A key set older than max_key_age is fetched again even for a known kid.
    let day = now() + TimeDelta::hours(24) + TimeDelta::seconds(300);
    clock.set(day);
    c["exp"] = json!(day.timestamp() + 3600);
    auth(&v, &b.sign(&c)).await.unwrap();
    assert_eq!(issuer.key_fetches(), 3);
    auth(&v, &b.sign(&c)).await.unwrap();
    assert_eq!(issuer.key_fetches(), 3);
}

#[tokio::test]
async fn an_unreachable_issuer_is_unavailable_not_invalid() {
    let a = TestKey::a();
    // A port with nothing listening.
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap()
    };
    let clock = clock();
    let issuer = Issuer::start(&[&a]).await;
    let token = a.sign(&claims(&issuer));

    // Discovery unreachable.
    let mut config = EntraVerifierConfig::new(
        entra_issuer(&format!("http://{closed}"), TENANT),
        vec![APP_ID_URI.into()],
    );
    config.http_timeout = Duration::from_secs(2);
    let dyn_clock: Arc<dyn Clock> = clock.clone();
    let v = EntraVerifier::new(
        config.clone(),
        reqwest::Client::new(),
        Arc::clone(&dyn_clock),
    )
    .unwrap();
    let err = auth(&v, &token).await.unwrap_err();
    assert!(
        matches!(&err, AuthError::Unavailable(m) if m.contains("discovery document")),
        "{err:?}"
    );
    assert_eq!(err.status(), 503);
    assert_eq!(err.www_authenticate(), None);
    assert!(!err.to_string().contains(token.split('.').nth(2).unwrap()));

    // A JWKS URL that does not answer in time.
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    config.jwks_url = Some(format!("http://{}/keys", silent.local_addr().unwrap()));
    config.http_timeout = Duration::from_millis(300);
    let v = EntraVerifier::new(config, reqwest::Client::new(), Arc::clone(&dyn_clock)).unwrap();
    let err = auth(&v, &token).await.unwrap_err();
    assert!(
        matches!(&err, AuthError::Unavailable(m) if m.contains("timed out")),
        "{err:?}"
    );
    drop(silent);

    // An issuer answering 500: unavailable, and not asked again during the backoff.
    issuer.set_failing(true);
    let v = verifier(&issuer, &clock, |_| {});
    for _ in 0..5 {
        let err = auth(&v, &token).await.unwrap_err();
        assert!(
            matches!(&err, AuthError::Unavailable(m) if m.contains("HTTP 500")),
            "{err:?}"
        );
    }
    assert_eq!(issuer.discoveries(), 1);
    // It recovers; after the backoff the next request fetches and succeeds.
    issuer.set_failing(false);
    clock.set(now() + TimeDelta::from_std(FAILED_FETCH_BACKOFF).unwrap());
    auth(&v, &token).await.unwrap();

    // A stale key set whose refresh fails keeps serving the keys it has.
    issuer.set_failing(true);
    let later = now() + TimeDelta::hours(25);
    clock.set(later);
    let fresh = a.sign(&with(claims(&issuer), |c| {
        c.insert("exp".into(), json!(later.timestamp() + 600));
    }));
    auth(&v, &fresh).await.unwrap();
    // But a token naming a new kid cannot be checked: unavailable.
    let newer = TestKey {
        kid: "key-new".into(),
        ..TestKey::a()
    };
    clock.set(later + TimeDelta::seconds(600));
    let err = auth(&v, &newer.sign(&claims(&issuer))).await.unwrap_err();
    assert!(matches!(err, AuthError::Unavailable(_)), "{err:?}");
}

#[tokio::test]
async fn a_given_jwks_url_skips_discovery_and_a_foreign_discovery_document_is_refused() {
    let a = TestKey::a();
    let issuer = Issuer::start(&[&a]).await;
    let clock = clock();
    let token = a.sign(&claims(&issuer));
    let direct = verifier(&issuer, &clock, |c| {
        c.jwks_url = Some(format!("{}{KEYS_PATH}", issuer.base));
    });
    auth(&direct, &token).await.unwrap();
    assert_eq!((issuer.discoveries(), issuer.key_fetches()), (0, 1));

    issuer.state.lock().unwrap().discovery_issuer = Some("https://evil.example/x/v2.0".into());
    let v = verifier(&issuer, &clock, |_| {});
    let err = auth(&v, &token).await.unwrap_err();
    assert!(
        matches!(&err, AuthError::Unavailable(m) if m.contains("names issuer https://evil.example/x/v2.0")),
        "{err:?}"
    );
    assert_eq!(issuer.key_fetches(), 1);
}

#[tokio::test]
async fn headers_without_a_bearer_token() {
    let a = TestKey::a();
    let issuer = Issuer::start(&[&a]).await;
    let clock = clock();
    let v = verifier(&issuer, &clock, |_| {});
    for h in [
        None,
        Some(""),
        Some("   "),
        Some("Bearer"),
        Some("Bearer    "),
    ] {
        let err = v.authenticate(h).await.unwrap_err();
        assert!(matches!(err, AuthError::Missing), "{h:?}: {err:?}");
        assert_eq!(err.status(), 401);
        assert_eq!(err.www_authenticate().as_deref(), Some("Bearer"));
    }
    let token = a.sign(&claims(&issuer));
    for h in [
        format!("Basic {token}"),
        "Basic dXNlcjpwYXNz".to_string(),
        token.clone(),
        format!("Bearer: {token}"),
    ] {
        match v.authenticate(Some(&h)).await {
            Err(AuthError::Invalid(why)) => {
                assert!(why.contains("not Bearer"), "{h}: {why}");
                assert!(!why.contains(&token[..20]));
            }
            other => panic!("{h}: expected Invalid, got {other:?}"),
        }
    }
    assert_eq!(issuer.key_fetches(), 0);
}

#[tokio::test]
async fn disabled_auth_makes_everyone_an_anonymous_admin() {
    for h in [None, Some("garbage"), Some("Bearer x.y.z")] {
        let p = Disabled.authenticate(h).await.unwrap();
        assert_eq!(p.subject, ANONYMOUS_SUBJECT);
        assert_eq!(effective_role(&p, &[]), Some(Role::Admin));
    }
}

#[test]
fn settings_that_cannot_work_are_refused() {
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(now()));
    let make = |f: &dyn Fn(&mut EntraVerifierConfig)| {
        let mut c =
            EntraVerifierConfig::new("https://login.example/t/v2.0", vec![APP_ID_URI.into()]);
        f(&mut c);
        EntraVerifier::new(c, reqwest::Client::new(), Arc::clone(&clock)).map(|_| ())
    };
    assert!(make(&|_| {}).is_ok());
    assert!(make(&|c| c.issuer = " ".into()).is_err());
    assert!(make(&|c| c.audiences = vec![]).is_err());
    assert!(make(&|c| c.audiences = vec!["".into()]).is_err());
    assert!(make(&|c| c.algorithms = vec![]).is_err());
    let err = make(&|c| c.algorithms = vec![Algorithm::RS256, Algorithm::HS256]).unwrap_err();
    assert!(err.to_string().contains("HS256"), "{err}");
    assert_eq!(
        entra_issuer("https://login.microsoftonline.com/", TENANT),
        format!("https://login.microsoftonline.com/{TENANT}/v2.0")
    );
}
