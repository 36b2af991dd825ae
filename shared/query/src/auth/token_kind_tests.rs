//! Only access tokens for this API pass, never ID tokens (issue 12, item 6a): every token here is
//! signed by the issuer's own key, for an accepted audience, unexpired, so only the token-kind
//! rule of the module docs (header `typ`; no `nonce`, `at_hash` or `c_hash`; `idtyp` user or app;
//! `azp`; `scp` or `roles`) can refuse it. The ID token of a browser console registered as the
//! same app as the API (its `aud` is the API's client id) is the case that matters.

use jsonwebtoken::{EncodingKey, Header};
use serde_json::json;

use super::fixture::*;
use super::*;

/// The v2.0 ID token Entra gives a browser console registered as the same app as the API: `aud`
/// is the client id, `nonce` from the sign-in request, the user's app roles, no `scp` or `azp`.
fn id_token_claims(issuer: &Issuer) -> Value {
    json!({
        "aud": API_CLIENT_ID,
        "iss": issuer.issuer(),
        "iat": NOW - 60,
        "nbf": NOW - 60,
        "exp": NOW + 3600,
        "aio": "AWQAm/8XAAAA",
        "name": "Ada Lovelace",
        "nonce": "0e3a6f4c-6b1d-4c9e-a7f0-2d4b6e8a1c35",
        "oid": OID,
        "preferred_username": "ada@contoso.example",
        "rh": "0.AXkA",
        "roles": ["auditlake.admin"],
        "sid": "00a1b2c3-d4e5-f607-1829-3a4b5c6d7e8f",
        "sub": "pairwise-subject",
        "tid": TENANT,
        "uti": "AbCdEf",
        "ver": "2.0",
    })
}

/// `claims` signed by key A with header `typ` = `typ` (none when `None`).
fn sign_typed(key: &TestKey, typ: Option<Value>, claims: &Value) -> String {
    let mut header = json!({"alg": "RS256", "kid": key.kid});
    if let Some(t) = typ {
        header["typ"] = t;
    }
    let message = format!("{}.{}", b64(&header), b64(claims));
    // jsonwebtoken's Header cannot carry a non-string typ: sign the parts by hand.
    let signature = jsonwebtoken::crypto::sign(
        message.as_bytes(),
        &EncodingKey::from_rsa_der(&key.pkcs1),
        Algorithm::RS256,
    )
    .unwrap();
    format!("{message}.{signature}")
}

#[tokio::test]
async fn an_id_token_of_the_same_app_registration_is_refused() {
    let a = TestKey::a();
    let issuer = Issuer::start(&[&a]).await;
    let clock = clock();
    let v = verifier(&issuer, &clock, |_| {});
    let id_token = a.sign(&id_token_claims(&issuer));
    let why = refused(&v, &id_token).await;
    assert!(why.contains("ID token"), "{why}");
    let err = auth(&v, &id_token).await.unwrap_err();
    assert_eq!(err.status(), 401);

    // Without its nonce (a sign-in that sent none) it still names no client and grants no scope.
    let no_nonce = with(id_token_claims(&issuer), |c| {
        c.remove("nonce");
    });
    let why = refused(&v, &a.sign(&no_nonce)).await;
    assert!(why.contains("azp"), "{why}");
    // The access token of the same user for the API passes.
    auth(&v, &a.sign(&claims(&issuer))).await.unwrap();
}

#[tokio::test]
async fn claims_only_id_tokens_carry_are_refused() {
    let a = TestKey::a();
    let issuer = Issuer::start(&[&a]).await;
    let clock = clock();
    let v = verifier(&issuer, &clock, |_| {});
    for claim in ["nonce", "at_hash", "c_hash"] {
        let c = with(claims(&issuer), |c| {
            c.insert(claim.into(), json!("x7Qk2mZrT0bYv9sLhGfW3A"));
        });
        let why = refused(&v, &a.sign(&c)).await;
        assert!(
            why.contains("ID token") && why.contains(claim),
            "{claim}: {why}"
        );
    }
}

#[tokio::test]
async fn the_header_typ_must_be_jwt_or_at_jwt_when_present() {
    let a = TestKey::a();
    let issuer = Issuer::start(&[&a]).await;
    let clock = clock();
    let v = verifier(&issuer, &clock, |_| {});
    let good = claims(&issuer);
    for typ in [
        None,
        Some(json!("JWT")),
        Some(json!("jwt")),
        Some(json!("at+jwt")),
        Some(json!("application/at+jwt")),
    ] {
        auth(&v, &sign_typed(&a, typ.clone(), &good))
            .await
            .unwrap_or_else(|e| panic!("typ {typ:?}: {e:?}"));
    }
    for typ in [
        json!("id_token+jwt"),
        json!("logout+jwt"),
        json!("secevent+jwt"),
        json!("dpop+jwt"),
        json!("JWE"),
        json!(""),
    ] {
        let why = refused(&v, &sign_typed(&a, Some(typ.clone()), &good)).await;
        assert!(why.contains("typ"), "typ {typ}: {why}");
    }
    let why = refused(&v, &sign_typed(&a, Some(json!(1)), &good)).await;
    assert!(why.contains("typ"), "{why}");
}

#[tokio::test]
async fn idtyp_when_present_is_user_or_app() {
    let a = TestKey::a();
    let issuer = Issuer::start(&[&a]).await;
    let clock = clock();
    let v = verifier(&issuer, &clock, |_| {});
    for idtyp in ["user", "app"] {
        let c = with(claims(&issuer), |c| {
            c.insert("idtyp".into(), json!(idtyp));
        });
        auth(&v, &a.sign(&c)).await.unwrap();
    }
    for idtyp in [json!("device"), json!("id"), json!(""), json!(["user"])] {
        let c = with(claims(&issuer), |c| {
            c.insert("idtyp".into(), idtyp.clone());
        });
        let why = refused(&v, &a.sign(&c)).await;
        assert!(why.contains("idtyp"), "{idtyp}: {why}");
    }
}

#[tokio::test]
async fn an_access_token_names_its_client_and_grants_a_scope_or_a_role() {
    let a = TestKey::a();
    let issuer = Issuer::start(&[&a]).await;
    let clock = clock();
    let v = verifier(&issuer, &clock, |_| {});

    // Delegated, scope only (a user whose role comes through a group): fine.
    let scoped = with(claims(&issuer), |c| {
        c.remove("roles");
    });
    let p = auth(&v, &a.sign(&scoped)).await.unwrap();
    assert_eq!(p.groups, ["g-1", "g-2"]);
    // App-only (client credentials, `.default`): roles, no scp, idtyp app.
    let app_only = with(claims(&issuer), |c| {
        for k in ["scp", "name", "preferred_username", "groups"] {
            c.remove(k);
        }
        c.insert("idtyp".into(), json!("app"));
        c.insert("roles".into(), json!(["auditlake.read"]));
    });
    assert_eq!(
        auth(&v, &a.sign(&app_only)).await.unwrap().roles,
        ["auditlake.read"]
    );

    let refusals: Vec<(Value, &str)> = vec![
        // Nothing granted: no scp, no roles.
        (
            with(claims(&issuer), |c| {
                c.remove("scp");
                c.remove("roles");
            }),
            "grants no scope",
        ),
        // Empty ones grant nothing either.
        (
            with(claims(&issuer), |c| {
                c.insert("scp".into(), json!(" "));
                c.insert("roles".into(), json!([]));
            }),
            "grants no scope",
        ),
        // Roles in the wrong claim or of the wrong type.
        (
            with(claims(&issuer), |c| {
                c.remove("scp");
                c.remove("roles");
                c.insert("role".into(), json!(["auditlake.admin"]));
            }),
            "grants no scope",
        ),
        (
            with(claims(&issuer), |c| {
                c.remove("scp");
                c.insert("roles".into(), json!("auditlake.admin"));
            }),
            "grants no scope",
        ),
        // No client named.
        (
            with(claims(&issuer), |c| {
                c.remove("azp");
            }),
            "azp",
        ),
        (
            with(claims(&issuer), |c| {
                c.insert("azp".into(), json!(""));
            }),
            "azp",
        ),
    ];
    for (c, want) in &refusals {
        let why = refused(&v, &a.sign(c)).await;
        assert!(why.contains(want), "expected '{want}', got '{why}' for {c}");
    }
}

#[tokio::test]
async fn the_token_kind_is_judged_only_after_the_signature() {
    // A forged ID token gets the signature's refusal, not a hint about what would pass.
    let (a, b) = (TestKey::a(), TestKey::b());
    let issuer = Issuer::start(&[&a]).await;
    let clock = clock();
    let v = verifier(&issuer, &clock, |_| {});
    let forged = TestKey {
        kid: a.kid.clone(),
        ..b
    };
    let token = jsonwebtoken::encode(
        &Header {
            kid: Some(forged.kid.clone()),
            ..Header::new(Algorithm::RS256)
        },
        &id_token_claims(&issuer),
        &EncodingKey::from_rsa_der(&forged.pkcs1),
    )
    .unwrap();
    assert_eq!(refused(&v, &token).await, "signature does not verify");
}
