//! `auditlake doctor` against a tenant set up wrongly in each way it knows.

use super::*;
use collector::doctor::{GRAPH_SOURCES, Severity, check};
use testkit::memory::MemoryParameters;

async fn findings(sim_config: SimConfig, secret: &str) -> Vec<collector::doctor::Finding> {
    let (tenant, client_id) = (sim_config.tenant.clone(), sim_config.client_id.clone());
    let sim = m365_sim::start(sim_config).await.unwrap();
    let ctl = SimControl::new(sim.base_url());
    let clock = Arc::new(SimClock::new(ctl).await.unwrap());
    let vars = puller_vars(
        &sim.base_url(),
        &tenant,
        &client_id,
        &StackNames::default(),
        &[],
    );
    let config = PullerConfig::from_vars(vars).unwrap();
    let params = Arc::new(MemoryParameters::default().with("/auditlake/client-secret", secret));
    let out = check(&config, &GRAPH_SOURCES, params, clock).await.unwrap();
    sim.shutdown().await;
    out
}

#[tokio::test]
async fn a_healthy_tenant_is_all_ok() {
    let cfg = SimConfig::default();
    let secret = cfg.client_secret.clone();
    let f = findings(cfg, &secret).await;
    assert!(f.iter().all(|f| f.severity != Severity::Error), "{f:#?}");
    // token + directory audits + 4 sign-in kinds + Intune + message trace + risk detections +
    // provisioning + Defender alerts (+ expiry note)
    assert!(
        f.iter().filter(|f| f.code == "ReadOk").count() == 10,
        "{f:#?}"
    );
}

#[tokio::test]
async fn missing_licence_and_unprovisioned_message_trace_are_explained() {
    let cfg = SimConfig {
        premium: false,
        message_trace_provisioned: false,
        ..SimConfig::default()
    };
    let secret = cfg.client_secret.clone();
    let f = findings(cfg, &secret).await;
    let errors: Vec<_> = f.iter().filter(|f| f.severity == Severity::Error).collect();
    assert_eq!(errors.len(), 7, "{errors:#?}");
    let licence: Vec<_> = errors
        .iter()
        .filter(|f| f.source == Some(Source::EntraSignIns))
        .collect();
    assert_eq!(licence.len(), 4, "one per sign-in kind");
    assert!(licence.iter().all(|f| f.code
        == "Authentication_RequestFromNonPremiumTenantOrB2CTenant"
        && f.message.contains("P1 or P2")));
    let of = |source| errors.iter().find(|f| f.source == Some(source)).unwrap();
    let provisioning = of(Source::EntraProvisioning);
    assert!(
        provisioning.message.contains("provisioning logs")
            && provisioning.message.contains("P1 or P2"),
        "{}",
        provisioning.message
    );
    let risk = of(Source::EntraRiskDetections);
    assert!(
        risk.message.contains("risk detections") && risk.message.contains("P2"),
        "{}",
        risk.message
    );
    let trace = of(Source::ExchangeMessageTrace);
    assert!(
        trace
            .message
            .contains("8bd644d1-64a1-4d4b-ae52-2e0cbf64e373"),
        "{}",
        trace.message
    );
    assert!(
        f.iter()
            .any(|f| f.source == Some(Source::EntraDirectoryAudits) && f.severity == Severity::Ok)
    );
}

#[tokio::test]
async fn a_missing_permission_is_named_with_the_permission_to_add() {
    for (denied, source, permission) in [
        (
            "intune-audit",
            Source::IntuneAudit,
            "DeviceManagementApps.Read.All",
        ),
        (
            "defender-alerts",
            Source::DefenderAlerts,
            "SecurityAlert.Read.All",
        ),
    ] {
        let cfg = SimConfig {
            denied_sources: vec![denied.into()],
            ..SimConfig::default()
        };
        let secret = cfg.client_secret.clone();
        let f = findings(cfg, &secret).await;
        let errors: Vec<_> = f.iter().filter(|f| f.severity == Severity::Error).collect();
        assert_eq!(errors.len(), 1, "{errors:#?}");
        assert_eq!(errors[0].source, Some(source));
        assert_eq!(errors[0].code, "Authorization_RequestDenied");
        assert!(
            errors[0].message.contains(permission) && errors[0].message.contains("admin consent"),
            "{}",
            errors[0].message
        );
    }
}

#[tokio::test]
async fn an_expired_secret_is_named() {
    let cfg = SimConfig {
        secret_expired: true,
        ..SimConfig::default()
    };
    let secret = cfg.client_secret.clone();
    let f = findings(cfg, &secret).await;
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].code, "AADSTS7000222");
    assert!(
        f[0].message.contains("client secret has expired"),
        "{}",
        f[0].message
    );
}

#[tokio::test]
async fn a_wrong_secret_stops_at_the_token_with_its_code() {
    let f = findings(SimConfig::default(), "wrong").await;
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].severity, Severity::Error);
    assert_eq!(f[0].code, "AADSTS7000215");
    assert!(f[0].message.contains("client secret is wrong"));
}

#[tokio::test]
async fn risk_detections_without_p2_or_their_permission_are_told_apart() {
    let cfg = SimConfig {
        premium_p2: false,
        ..SimConfig::default()
    };
    let secret = cfg.client_secret.clone();
    let f = findings(cfg, &secret).await;
    let errors: Vec<_> = f.iter().filter(|f| f.severity == Severity::Error).collect();
    assert_eq!(errors.len(), 1, "only risk detections need P2: {errors:#?}");
    assert_eq!(errors[0].source, Some(Source::EntraRiskDetections));
    assert!(
        errors[0]
            .message
            .contains("no Microsoft Entra ID P2 licence"),
        "{}",
        errors[0].message
    );
    let cfg = SimConfig {
        denied_sources: vec!["entra-risk-detections".into()],
        ..SimConfig::default()
    };
    let secret = cfg.client_secret.clone();
    let f = findings(cfg, &secret).await;
    let errors: Vec<_> = f.iter().filter(|f| f.severity == Severity::Error).collect();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0].message.contains("IdentityRiskEvent.Read.All"),
        "{}",
        errors[0].message
    );
}
