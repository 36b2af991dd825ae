//! End-to-end tests: the real pipeline, through the same `PullerApp::handle` the Lambda calls,
//! against the tenant simulator on its virtual clock and moto through the real AWS SDK. They prove
//! the exactly-once promise against the simulator's ground truth.
//!
//! One module per area under `e2e/`: the Graph pullers (`graph`), the Management Activity API
//! puller (`m365`), next-page links to elsewhere refused (`hostile_links`), DynamoDB leases and
//! checkpoints (`state`), the TTL every written item carries (`retention`), the retrying client
//! and token cache
//! (`http_client`), certificate credentials (`certificate_auth`), `auditlake doctor` (`doctor`)
//! the query API (`query`), the detection path (`detection`) and the alerts table's query side
//! (`alerts_api`), the audit search backfill (`backfill`) and Defender alerts, which change after
//! they are created (`defender_alerts`). The harness they share (`use super::*`) is here: moto provisioned
//! as the stack, the simulator, and a puller's configuration and ports on the simulator's clock.

#[path = "e2e/alerts_api.rs"]
mod alerts_api;
#[path = "e2e/backfill.rs"]
mod backfill;
#[path = "e2e/certificate_auth.rs"]
mod certificate_auth;
#[path = "e2e/defender_alerts.rs"]
mod defender_alerts;
#[path = "e2e/detection.rs"]
mod detection;
#[path = "e2e/doctor.rs"]
mod doctor;
#[path = "e2e/graph.rs"]
mod graph;
#[path = "e2e/hostile_links.rs"]
mod hostile_links;
#[path = "e2e/http_client.rs"]
mod http_client;
#[path = "e2e/m365.rs"]
mod m365;
#[path = "e2e/query.rs"]
mod query;
#[path = "e2e/retention.rs"]
mod retention;
#[path = "e2e/risk_and_provisioning.rs"]
mod risk_and_provisioning;
#[path = "e2e/state.rs"]
mod state;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use collector::app::{Ports, PullerApp};
use domain::config::PullerConfig;
use domain::model::{Source, fmt_time};
use domain::store::{StateError, StreamKey};
use e2e::{
    Moto, SimClock, SimControl, StackNames, local_sdk_config, provision, puller_vars,
    raw_record_ids, raw_records,
};
use m365_sim::SimConfig;
use runtime::clock::{Clock, Deadline};
use serde_json::json;
use testkit::clock::ManualClock;

const SOURCE: Source = Source::EntraDirectoryAudits;

fn scheduled_event() -> serde_json::Value {
    json!({
        "version": "0", "id": "5e1c0b7e-0000-4000-8000-000000000001", "detail-type": "Scheduled Event",
        "source": "aws.events", "account": "123456789012", "time": "2024-01-01T00:00:00Z",
        "region": "us-east-1", "resources": ["arn:aws:events:us-east-1:123456789012:rule/auditlake"], "detail": {}
    })
}

struct Env {
    _moto: Moto,
    sdk: aws_config::SdkConfig,
    sim: m365_sim::RunningSim,
    ctl: SimControl,
    config: PullerConfig,
    ports: Ports,
    clock: Arc<SimClock>,
    key: StreamKey,
}

async fn env(sim_config: SimConfig, extra: &[(&str, &str)], secret_override: Option<&str>) -> Env {
    let moto = Moto::start().await.expect("moto_server");
    let sdk = local_sdk_config(&moto.endpoint).await;
    let names = StackNames::default();
    provision(
        &sdk,
        &names,
        secret_override.unwrap_or(&sim_config.client_secret),
    )
    .await
    .expect("provision local stack");
    let tenant = sim_config.tenant.clone();
    let client_id = sim_config.client_id.clone();
    let sim = m365_sim::start(sim_config).await.expect("simulator");
    let ctl = SimControl::new(sim.base_url());
    let clock = Arc::new(SimClock::new(ctl.clone()).await.expect("sim clock"));
    let vars = puller_vars(&sim.base_url(), &tenant, &client_id, &names, extra);
    let config = PullerConfig::from_vars(vars).expect("config");
    let ports = Ports::aws(&sdk, &config).with_clock(clock.clone());
    Env {
        _moto: moto,
        sdk,
        sim,
        ctl,
        key: StreamKey::new(tenant, SOURCE, None),
        config,
        ports,
        clock,
    }
}

impl Env {
    fn app(&self) -> PullerApp {
        PullerApp::new(SOURCE, &self.config, self.ports.clone()).expect("puller")
    }

    async fn advance(&self, secs: u64) {
        self.clock.advance(secs).await.expect("advance sim clock");
    }
}
