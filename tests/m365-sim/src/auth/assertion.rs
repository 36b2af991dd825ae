//! Certificate credentials: the app's registered certificate ([`RegisteredCertificate`]) and the
//! checks of a JWT client assertion signed by its key (RFC 7523; Entra's AADSTS codes for each
//! way one can be wrong), as the module above describes them.

use super::*;

/// `rsaEncryption`, the algorithm of an RSA certificate's public key.
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// The app's registered certificate: its thumbprints and RSA public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredCertificate {
    /// Base64url SHA-256 of the certificate's DER (a JWT header's `x5t#S256`).
    pub x5t_s256: String,
    /// Base64url SHA-1 of the certificate's DER (a JWT header's `x5t`).
    pub x5t: String,
    /// The public key as PKCS#1 `RSAPublicKey` DER.
    public_key: Vec<u8>,
}

impl RegisteredCertificate {
    /// Reads the first `CERTIFICATE` block of `pem`; other blocks (a private key kept in the same
    /// file) and text around them are ignored.
    pub fn from_pem(pem: &str) -> Result<Self, String> {
        let der = CertificateDer::pem_slice_iter(pem.as_bytes())
            .next()
            .ok_or("no CERTIFICATE block")?
            .map_err(|e| format!("not well-formed PEM ({e})"))?;
        let cert = x509_cert::Certificate::from_der(&der)
            .map_err(|e| format!("the CERTIFICATE block is not an X.509 certificate ({e})"))?;
        let spki = cert.tbs_certificate().subject_public_key_info();
        if spki.algorithm.oid != RSA_ENCRYPTION {
            return Err(format!(
                "the certificate's key is not RSA (algorithm {})",
                spki.algorithm.oid
            ));
        }
        let digest = |alg| b64url_encode(aws_lc_rs::digest::digest(alg, &der).as_ref());
        Ok(Self {
            x5t_s256: digest(&aws_lc_rs::digest::SHA256),
            x5t: digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY),
            // The BIT STRING of an RSA SubjectPublicKeyInfo holds the RSAPublicKey DER.
            public_key: spki.subject_public_key.raw_bytes().to_vec(),
        })
    }
}

/// What a client assertion is checked against, besides the registered certificate.
pub(super) struct AssertionRequest<'a> {
    pub(super) assertion_type: Option<String>,
    pub(super) client_id: &'a str,
    /// The tenant segment of the request path.
    pub(super) tenant: &'a str,
    /// The request's `Host`.
    pub(super) host: String,
    pub(super) flavor: Flavor,
}

/// 401 `invalid_client` with `code`.
fn invalid_client(code: u32, message: impl Into<String>) -> EntraError {
    EntraError::new(StatusCode::UNAUTHORIZED, "invalid_client", code, message)
}

/// 400 `invalid_request` AADSTS50027: the assertion is not a JWT we can read.
fn malformed_assertion(why: &str) -> EntraError {
    EntraError::new(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        50027,
        format!("JWT token is invalid or malformed: {why}."),
    )
}

/// AADSTS700027 "The key was not found", naming the thumbprint the client sent (hex, as Entra
/// prints it).
fn key_not_found(header: &Value) -> EntraError {
    let used = header["x5t#S256"]
        .as_str()
        .or_else(|| header["x5t"].as_str())
        .and_then(b64_decode)
        .map_or_else(
            || "none".to_string(),
            |b| b.iter().map(|x| format!("{x:02X}")).collect(),
        );
    invalid_client(
        700027,
        format!(
            "Client assertion contains an invalid signature. [Reason - The key was not found., Thumbprint of key used by client: '{used}'. Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for the app.]"
        ),
    )
}

/// Checks a client assertion (see the module docs for the order and the codes) and remembers its
/// `jti`.
pub(super) fn check_assertion(
    state: &SimState,
    req: &AssertionRequest,
    jwt: &str,
) -> Result<(), EntraError> {
    match req.assertion_type.as_deref() {
        None => return Err(EntraError::missing("client_assertion_type")),
        Some(ASSERTION_TYPE) => {}
        Some(other) => {
            return Err(malformed_assertion(&format!(
                "client_assertion_type '{other}' is not supported; use '{ASSERTION_TYPE}'"
            )));
        }
    }
    let parts: Vec<&str> = jwt.split('.').collect();
    let [header_b64, claims_b64, signature_b64] = parts[..] else {
        return Err(malformed_assertion("a JWT has three dot-separated parts"));
    };
    let json = |part: &str| -> Option<Value> {
        serde_json::from_slice::<Value>(&b64_decode(part)?)
            .ok()
            .filter(Value::is_object)
    };
    let header = json(header_b64).ok_or_else(|| malformed_assertion("the header is not JSON"))?;
    let claims = json(claims_b64).ok_or_else(|| malformed_assertion("the claims are not JSON"))?;
    let alg = match header["alg"].as_str() {
        Some("PS256") => Algorithm::PS256,
        Some("RS256") => Algorithm::RS256,
        other => {
            return Err(invalid_client(
                700027,
                format!(
                    "Client assertion contains an invalid signature. [Reason - The signing algorithm '{}' is not supported; use PS256 or RS256.]",
                    other.unwrap_or("none")
                ),
            ));
        }
    };
    let cfg = &state.config;
    if alg == Algorithm::PS256 && cfg.reject_ps256 {
        return Err(invalid_client(
            700027,
            "Client assertion contains an invalid signature. [Reason - The signing algorithm 'PS256' is not supported; use RS256.]",
        ));
    }
    let cert = state
        .tokens
        .certificate(cfg)
        .ok_or_else(|| key_not_found(&header))?;
    let thumbprint_matches = match (header["x5t#S256"].as_str(), header["x5t"].as_str()) {
        (Some(s256), _) => s256 == cert.x5t_s256,
        (None, Some(sha1)) => sha1 == cert.x5t,
        (None, None) => false,
    };
    if !thumbprint_matches {
        return Err(key_not_found(&header));
    }
    let message = &jwt[..header_b64.len() + 1 + claims_b64.len()];
    let key = DecodingKey::from_rsa_der(&cert.public_key);
    if !jsonwebtoken::crypto::verify(signature_b64, message.as_bytes(), &key, alg).unwrap_or(false)
    {
        return Err(invalid_client(
            700027,
            "Client assertion contains an invalid signature. [Reason - The signature does not verify with the key of the registered certificate whose thumbprint the client sent.]",
        ));
    }
    let text = |name: &str| claims[name].as_str();
    let is_client = |v: Option<&str>| v.is_some_and(|v| v.eq_ignore_ascii_case(req.client_id));
    if !is_client(text("iss")) || !is_client(text("sub")) {
        return Err(invalid_client(
            700021,
            format!(
                "Client assertion application identifier doesn't match 'client_id' parameter. iss '{}' and sub '{}' must both be '{}'.",
                text("iss").unwrap_or(""),
                text("sub").unwrap_or(""),
                req.client_id
            ),
        ));
    }
    let mut expected = vec!["/oauth2/v2.0/token"];
    if req.flavor == Flavor::V1 {
        expected.push("/oauth2/token");
    }
    let expected: Vec<String> = expected
        .iter()
        .flat_map(|path| {
            ["http", "https"].map(|scheme| format!("{scheme}://{}/{}{path}", req.host, req.tenant))
        })
        .collect();
    let aud_ok = match &claims["aud"] {
        Value::String(a) => expected.iter().any(|e| e.eq_ignore_ascii_case(a)),
        Value::Array(list) => list.iter().any(|a| {
            a.as_str()
                .is_some_and(|a| expected.iter().any(|e| e.eq_ignore_ascii_case(a)))
        }),
        _ => false,
    };
    if !aud_ok {
        return Err(invalid_client(
            700023,
            format!(
                "Client assertion audience claim does not match Realm issuer. The audience must be this token endpoint, {}.",
                expected[0]
            ),
        ));
    }
    let (Some(nbf), Some(exp)) = (claims["nbf"].as_i64(), claims["exp"].as_i64()) else {
        return Err(malformed_assertion(
            "the claims nbf and exp are required (seconds since the epoch)",
        ));
    };
    let now_ns = to_ns(state.clock.now());
    let now = now_ns.div_euclid(NS_PER_SEC);
    if !(nbf.saturating_sub(ASSERTION_SKEW_SECS) <= now
        && now < exp.saturating_add(ASSERTION_SKEW_SECS))
    {
        let at = |secs: i64| rfc3339(from_ns(secs.saturating_mul(NS_PER_SEC)));
        return Err(invalid_client(
            700024,
            format!(
                "Client assertion is not within its valid time range. Current time: {}, assertion valid from {}, expiry time of assertion {}.",
                rfc3339(from_ns(now_ns)),
                at(nbf),
                at(exp)
            ),
        ));
    }
    let jti = text("jti")
        .filter(|j| !j.is_empty())
        .ok_or_else(|| malformed_assertion("the claim jti is required"))?;
    if state.tokens.seen(jti, now_ns) {
        return Err(invalid_client(
            700027,
            format!(
                "Client assertion has already been used (jti '{jti}'). [Reason - Every assertion must carry a new jti.]"
            ),
        ));
    }
    let until_ns = exp
        .saturating_add(ASSERTION_SKEW_SECS)
        .saturating_mul(NS_PER_SEC);
    state.tokens.remember(jti.to_string(), until_ns, now_ns);
    Ok(())
}
