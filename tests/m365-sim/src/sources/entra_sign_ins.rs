//! Source `entra-sign-ins`: Entra ID sign-in records as served by Graph
//! `GET /{v1.0|beta}/auditLogs/signIns`, one stream per sign-in kind.
//!
//! Every event has a kind, its stream: `interactiveUser`, `nonInteractiveUser`,
//! `servicePrincipal` or `managedIdentity`, with volumes of 1, 3, 0.5 and 0.3 times
//! `events_per_hour` (token refreshes by desktop and mobile apps outnumber interactive sign-ins,
//! as in real tenants). `/v1.0` serves interactive sign-ins only; `/beta` serves the kind chosen by
//! `signInEventTypes/any(t: t eq '<kind>')` (interactive without it), see [`crate::graph`].
//! The collection needs an Entra ID P1/P2 licence ([`crate::SimConfig::premium`]) and draws on the
//! identity and access reports budget together with directory audits.
//!
//! `/v1.0` records carry exactly the v1.0 `signIn` properties (every one present, nulls
//! included); `/beta` records add beta-only ones: `signInEventTypes` (`[kind]`), `userType`,
//! `managedServiceIdentity` (the resource behind a managed identity, `msiType: none` otherwise),
//! `authenticationRequirement`, `mfaDetail`, `authenticationDetails`, `authenticationProtocol`,
//! `incomingTokenType`, `uniqueTokenIdentifier`, `autonomousSystemNumber` and a few more.
//!
//! Content is modelled on real records: users come from the tenant's directory and sign in from
//! their home city (most of them in the United States, some in the United Kingdom) with their
//! usual address and device, a few while travelling abroad; apps and resources are Microsoft's
//! first-party ones with their real app ids (One Outlook Web, Microsoft Teams, Azure Portal, Graph
//! Explorer, OneDrive SyncEngine, ...). About 6% of interactive sign-ins are legacy-protocol
//! attempts (IMAP4, POP3, Authenticated SMTP, Exchange ActiveSync) from foreign addresses that
//! fail with 50126 (bad password), 53003 (blocked by the "Block legacy authentication"
//! conditional access policy) or 50053 (locked account); ordinary sign-ins fail now and then with
//! 50126, 50074 (strong authentication required) or 50140, sign-ins from blocked countries with
//! 53003; token refreshes with 70043 or 50173; service principals with 7000215 or 7000222.
//! Conditional access results follow the tenant's policies (MFA for admins and for Azure
//! management, legacy-authentication and country blocks, a report-only compliant-device policy,
//! a disabled risk policy). Sign-in ids are GUIDs ending in `00`, as real ones do. Everything is a
//! function of the event seed and kind.

use serde::Serialize;
use serde_json::value::RawValue;

use super::{ApiVersion, EventStub, GraphResource, Precondition, SimSource, SourceApi, Stream};
use crate::attacks::plans::{self, SignInPlan, SignInWay};
use crate::budget::IDENTITY_REPORTS;
use crate::clock::graph_datetime;
use crate::rng::{Rng, hash_str, seed_of};
use crate::tenant::{Device, Tenant, User, random_ip};

/// The sign-in source.
#[derive(Debug, Clone, Copy)]
pub struct EntraSignIns;

/// The sign-in kinds, in stream order (the first is what a request without a kind gets).
pub const STREAMS: &[Stream] = &[
    Stream {
        name: "interactiveUser",
        volume: 1.0,
    },
    Stream {
        name: "nonInteractiveUser",
        volume: 3.0,
    },
    Stream {
        name: "servicePrincipal",
        volume: 0.5,
    },
    Stream {
        name: "managedIdentity",
        volume: 0.3,
    },
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Interactive,
    NonInteractive,
    ServicePrincipal,
    ManagedIdentity,
}

impl Kind {
    fn of(stream: u8) -> Self {
        match stream {
            1 => Self::NonInteractive,
            2 => Self::ServicePrincipal,
            3 => Self::ManagedIdentity,
            _ => Self::Interactive,
        }
    }

    fn name(self) -> &'static str {
        STREAMS
            .get(self as usize)
            .map_or("interactiveUser", |s| s.name)
    }
}

/// Microsoft's own tenant (owner of first-party apps).
const MICROSOFT_TENANT: &str = "f8cdef31-a31e-4b4a-93e4-5f571e91255a";

type Resource = (&'static str, &'static str);
const GRAPH: Resource = ("Microsoft Graph", "00000003-0000-0000-c000-000000000000");
const EXCHANGE: Resource = (
    "Office 365 Exchange Online",
    "00000002-0000-0ff1-ce00-000000000000",
);
const SHAREPOINT: Resource = (
    "Office 365 SharePoint Online",
    "00000003-0000-0ff1-ce00-000000000000",
);
const AZURE_MGMT: Resource = (
    "Windows Azure Service Management API",
    "797f4846-ba00-4fd7-ba43-dac1f8f63013",
);
const TEAMS_SERVICES: Resource = (
    "Microsoft Teams Services",
    "cc15fd57-2c6c-4117-a88c-83b1d56b4bbe",
);
const AAD: Resource = (
    "Windows Azure Active Directory",
    "00000002-0000-0000-c000-000000000000",
);
const OFFICE_HOME: Resource = ("OfficeHome", "4765445b-32c6-49b0-83e6-1d93765276ca");
const DRS: Resource = (
    "Device Registration Service",
    "01cb2876-7ebd-4aa4-9cc9-d28bd4d359a9",
);
const KEY_VAULT: Resource = ("Azure Key Vault", "cfa8b339-82a2-471a-a3c9-0fc0be7a4093");
const ARM: Resource = (
    "Azure Resource Manager",
    "797f4846-ba00-4fd7-ba43-dac1f8f63013",
);
const STORAGE: Resource = ("Azure Storage", "e406a681-f3d4-42a8-90b6-c2b029497af1");
const MGMT_APIS: Resource = (
    "Office 365 Management APIs",
    "c5393580-f805-4401-95e8-94b7a6ef2fc2",
);

/// How a client app signs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Client {
    Browser,
    Desktop,
}

/// A first-party client application users sign in to.
struct ClientApp {
    name: &'static str,
    app_id: &'static str,
    resource: Resource,
    client: Client,
    /// Used by administrators (Azure management); its sign-ins need MFA.
    admin: bool,
    weight: u32,
}

const fn app(
    name: &'static str,
    app_id: &'static str,
    resource: Resource,
    client: Client,
    admin: bool,
    weight: u32,
) -> ClientApp {
    ClientApp {
        name,
        app_id,
        resource,
        client,
        admin,
        weight,
    }
}

const INTERACTIVE_APPS: &[ClientApp] = &[
    app(
        "One Outlook Web",
        "9199bf20-a13f-4107-85dc-02114787ef48",
        EXCHANGE,
        Client::Browser,
        false,
        30,
    ),
    app(
        "OfficeHome",
        "4765445b-32c6-49b0-83e6-1d93765276ca",
        OFFICE_HOME,
        Client::Browser,
        false,
        20,
    ),
    app(
        "Microsoft Teams",
        "1fec8e78-bce4-4aaf-ab1b-5451cc387264",
        TEAMS_SERVICES,
        Client::Desktop,
        false,
        25,
    ),
    app(
        "Microsoft Office",
        "d3590ed6-52b3-4102-aeff-aad2292ab01c",
        SHAREPOINT,
        Client::Desktop,
        false,
        15,
    ),
    app(
        "Office 365 SharePoint Online",
        "00000003-0000-0ff1-ce00-000000000000",
        SHAREPOINT,
        Client::Browser,
        false,
        12,
    ),
    app(
        "Windows Sign In",
        "38aa3b87-a06d-4817-b275-7a316988d93b",
        AAD,
        Client::Desktop,
        false,
        12,
    ),
    app(
        "Azure Portal",
        "c44b4083-3bb0-49c1-b47d-974e53cbdf3c",
        AZURE_MGMT,
        Client::Browser,
        true,
        8,
    ),
    app(
        "Graph Explorer",
        "de8bc8b5-d9f9-48b1-a8ad-b748da725064",
        GRAPH,
        Client::Browser,
        false,
        3,
    ),
    app(
        "Microsoft Azure CLI",
        "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
        AZURE_MGMT,
        Client::Desktop,
        true,
        3,
    ),
];

const NON_INTERACTIVE_APPS: &[ClientApp] = &[
    app(
        "Microsoft Office",
        "d3590ed6-52b3-4102-aeff-aad2292ab01c",
        GRAPH,
        Client::Desktop,
        false,
        25,
    ),
    app(
        "Microsoft Teams",
        "1fec8e78-bce4-4aaf-ab1b-5451cc387264",
        TEAMS_SERVICES,
        Client::Desktop,
        false,
        25,
    ),
    app(
        "OneDrive SyncEngine",
        "ab9b8c07-8f02-4f72-87fa-80105867a763",
        SHAREPOINT,
        Client::Desktop,
        false,
        15,
    ),
    app(
        "Outlook Mobile",
        "27922004-5251-4030-b22d-91ecd9a37ea4",
        EXCHANGE,
        Client::Desktop,
        false,
        10,
    ),
    app(
        "One Outlook Web",
        "9199bf20-a13f-4107-85dc-02114787ef48",
        EXCHANGE,
        Client::Browser,
        false,
        12,
    ),
    app(
        "Microsoft Authentication Broker",
        "29d9ed98-a469-4536-ade2-f981bc1d605e",
        DRS,
        Client::Desktop,
        false,
        6,
    ),
    app(
        "Microsoft Edge",
        "ecd6b820-32c2-49b6-98a6-444530e5a77a",
        GRAPH,
        Client::Desktop,
        false,
        7,
    ),
];

/// Legacy protocols (`clientAppUsed`) seen in password-spray attempts.
const LEGACY_CLIENTS: &[&str] = &[
    "IMAP4",
    "POP3",
    "Authenticated SMTP",
    "Exchange ActiveSync",
    "Exchange Web Services",
    "Other clients",
];

/// A place sign-ins come from.
struct Place {
    city: &'static str,
    state: &'static str,
    country: &'static str,
    lat: f64,
    lon: f64,
    /// Covered by the "Block access from untrusted countries" policy.
    blocked: bool,
    asn: u32,
}

const fn place(
    city: &'static str,
    state: &'static str,
    country: &'static str,
    lat: f64,
    lon: f64,
    blocked: bool,
    asn: u32,
) -> Place {
    Place {
        city,
        state,
        country,
        lat,
        lon,
        blocked,
        asn,
    }
}

/// Home cities: most users in the United States, some in the United Kingdom.
const HOME_US: &[Place] = &[
    place(
        "Redmond",
        "Washington",
        "US",
        47.674,
        -122.1215,
        false,
        7922,
    ),
    place(
        "Seattle",
        "Washington",
        "US",
        47.6062,
        -122.3321,
        false,
        7922,
    ),
    place("New York", "New York", "US", 40.7128, -74.006, false, 701),
    place("Chicago", "Illinois", "US", 41.8781, -87.6298, false, 7018),
    place("Austin", "Texas", "US", 30.2672, -97.7431, false, 11427),
];
const HOME_GB: &[Place] = &[
    place("London", "England", "GB", 51.5074, -0.1278, false, 2856),
    place("Manchester", "England", "GB", 53.4808, -2.2426, false, 5089),
];
/// Foreign places: business travel and attack sources.
const FOREIGN: &[Place] = &[
    place("Berlin", "Berlin", "DE", 52.52, 13.405, false, 3320),
    place("Paris", "Ile-De-France", "FR", 48.8566, 2.3522, false, 3215),
    place("Toronto", "Ontario", "CA", 43.6532, -79.3832, false, 577),
    place(
        "Singapore",
        "Singapore",
        "SG",
        1.3521,
        103.8198,
        false,
        4773,
    ),
    place(
        "Bengaluru",
        "Karnataka",
        "IN",
        12.9716,
        77.5946,
        false,
        24560,
    ),
    place(
        "Sao Paulo",
        "Sao Paulo",
        "BR",
        -23.5505,
        -46.6333,
        false,
        28573,
    ),
    place("Lagos", "Lagos", "NG", 6.5244, 3.3792, true, 37148),
    place("Moscow", "Moscow", "RU", 55.7558, 37.6173, true, 12389),
];
/// Azure regions service principals run in.
const AZURE_REGIONS: &[Place] = &[
    place("Boydton", "Virginia", "US", 36.6676, -78.3875, false, 8075),
    place("Dublin", "Dublin", "IE", 53.3498, -6.2603, false, 8075),
    place(
        "Amsterdam",
        "Noord-Holland",
        "NL",
        52.3676,
        4.9041,
        false,
        8075,
    ),
];

/// Browser clients per operating system: (operatingSystem, browser, user agent).
const BROWSERS: &[(&str, &str, &str)] = &[
    (
        "Windows10",
        "Edge 126.0.0",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0",
    ),
    (
        "Windows10",
        "Chrome 126.0.0",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
    ),
    (
        "Windows10",
        "Firefox 127.0",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0",
    ),
    (
        "MacOs",
        "Safari 17.5",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
    ),
    (
        "MacOs",
        "Chrome 126.0.0",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
    ),
    (
        "Ios",
        "Mobile Safari 17.5",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    ),
    (
        "Android",
        "Chrome Mobile 126.0.0",
        "Mozilla/5.0 (Linux; Android 14; SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36",
    ),
];

/// Native (desktop and mobile app) clients per operating system.
const NATIVE: &[(&str, &str, &str)] = &[
    (
        "Windows10",
        "Rich Client 4.61.0.0",
        "Windows-AzureAD-Authentication-Provider/1.0",
    ),
    (
        "MacOs",
        "Rich Client 1.1.0",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)",
    ),
    (
        "Ios",
        "MSAL.iOS 1.3.2",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    ),
    (
        "Android",
        "Rich Client 5.2.9.0",
        "Dalvik/2.1.0 (Linux; U; Android 14; SM-S921B Build/UP1A.231005.007)",
    ),
];

/// A sign-in error: code, `failureReason`, `additionalDetails`.
type Failure = (i32, &'static str, Option<&'static str>);

const E50126: Failure = (
    50126,
    "Error validating credentials due to invalid username or password.",
    Some(
        "The user didn't enter the right credentials. It's expected to see some number of these errors in your logs due to users making mistakes.",
    ),
);
const E50074: Failure = (
    50074,
    "Strong Authentication is required.",
    Some(
        "User needs to perform multi-factor authentication. There could be multiple things requiring multi-factor, e.g. Conditional Access policies, per-user enforcement, requested by client, among others.",
    ),
);
const E53003: Failure = (
    53003,
    "Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.",
    Some(
        "If this is unexpected, see the conditional access policy that applied to this request in the Azure Portal or contact your administrator.",
    ),
);
const E50053: Failure = (
    50053,
    "Account is locked because user tried to sign in too many times with an incorrect user ID or password.",
    Some("The account is locked by Smart Lockout after repeated failed sign-in attempts."),
);
const E50140: Failure = (
    50140,
    "This error occurred due to 'Keep me signed in' interrupt when the user was signing in.",
    None,
);
const E70043: Failure = (
    70043,
    "The refresh token has expired or is invalid due to sign-in frequency checks by conditional access.",
    None,
);
const E50173: Failure = (
    50173,
    "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password.",
    None,
);
const E7000215: Failure = (
    7000215,
    "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{identifier}'.",
    None,
);
const E7000222: Failure = (
    7000222,
    "The provided client secret keys for app '{identifier}' are expired.",
    None,
);

const MFA_METHODS: &[&str] = &[
    "Mobile app notification",
    "Mobile app notification",
    "OATH verification code",
    "Text message",
    "Passkey (Microsoft Authenticator)",
];

// ---- Wire shapes ----

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SignIn<'a> {
    id: &'a str,
    created_date_time: String,
    user_display_name: Option<String>,
    user_principal_name: Option<String>,
    user_id: String,
    app_id: Option<String>,
    app_display_name: Option<String>,
    ip_address: Option<String>,
    client_app_used: Option<&'static str>,
    user_agent: Option<&'static str>,
    correlation_id: &'a str,
    conditional_access_status: &'static str,
    applied_conditional_access_policies: Vec<CaPolicy>,
    authentication_app_device_details: Option<()>,
    is_interactive: bool,
    resource_display_name: Option<&'static str>,
    resource_id: Option<&'static str>,
    resource_tenant_id: Option<String>,
    home_tenant_id: Option<String>,
    risk_detail: &'static str,
    risk_level_aggregated: &'static str,
    risk_level_during_sign_in: &'static str,
    risk_state: &'static str,
    risk_event_types: Vec<&'static str>,
    #[serde(rename = "riskEventTypes_v2")]
    risk_event_types_v2: Vec<&'static str>,
    service_principal_id: Option<String>,
    service_principal_name: Option<String>,
    status: Status,
    device_detail: Option<DeviceDetail>,
    location: Option<Location>,
    #[serde(flatten)]
    beta: Option<BetaOnly>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CaPolicy {
    id: String,
    display_name: &'static str,
    enforced_grant_controls: Vec<&'static str>,
    enforced_session_controls: Vec<&'static str>,
    result: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Status {
    error_code: i32,
    failure_reason: Option<String>,
    additional_details: Option<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DeviceDetail {
    device_id: String,
    display_name: Option<String>,
    operating_system: Option<&'static str>,
    browser: Option<&'static str>,
    is_compliant: Option<bool>,
    is_managed: Option<bool>,
    trust_type: Option<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Location {
    city: &'static str,
    state: &'static str,
    country_or_region: &'static str,
    geo_coordinates: Geo,
}

#[derive(Serialize)]
struct Geo {
    altitude: Option<f64>,
    latitude: f64,
    longitude: f64,
}

/// Properties only `/beta` sends.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BetaOnly {
    sign_in_event_types: Vec<&'static str>,
    user_type: &'static str,
    managed_service_identity: Msi,
    authentication_requirement: &'static str,
    mfa_detail: Option<MfaDetail>,
    authentication_details: Vec<AuthStep>,
    authentication_processing_details: Vec<KeyValue>,
    authentication_protocol: &'static str,
    incoming_token_type: &'static str,
    token_issuer_type: &'static str,
    token_issuer_name: &'static str,
    unique_token_identifier: String,
    original_request_id: String,
    cross_tenant_access_type: &'static str,
    is_tenant_restricted: bool,
    flagged_for_review: bool,
    processing_time_in_milliseconds: u32,
    network_location_details: Vec<KeyValue>,
    autonomous_system_number: Option<u32>,
    app_owner_tenant_id: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Msi {
    msi_type: &'static str,
    associated_resource_id: Option<String>,
    federated_token_id: Option<String>,
    federated_token_issuer: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MfaDetail {
    auth_method: &'static str,
    auth_detail: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AuthStep {
    authentication_step_date_time: String,
    authentication_method: &'static str,
    authentication_method_detail: Option<&'static str>,
    succeeded: bool,
    authentication_step_result_detail: &'static str,
    authentication_step_requirement: &'static str,
}

#[derive(Serialize)]
struct KeyValue {
    key: &'static str,
    value: &'static str,
}

// ---- Generation ----

/// Record id and correlation id: the first draws of an event's generator, so
/// [`SimSource::record_id`] and the renderer agree.
fn head(rng: &mut Rng) -> (String, String) {
    let mut id = rng.guid();
    id.truncate(id.len() - 2);
    id.push_str("00");
    (id, rng.guid())
}

fn home_place(user_index: usize) -> &'static Place {
    if user_index % 10 < 7 {
        &HOME_US[user_index % HOME_US.len()]
    } else {
        &HOME_GB[user_index % HOME_GB.len()]
    }
}

fn location(p: &Place) -> Location {
    Location {
        city: p.city,
        state: p.state,
        country_or_region: p.country,
        geo_coordinates: Geo {
            altitude: None,
            latitude: p.lat,
            longitude: p.lon,
        },
    }
}

fn os_of(device: &Device) -> &'static str {
    match device.os_type {
        "MacMDM" => "MacOs",
        "IPhone" => "Ios",
        "Android" => "Android",
        _ => "Windows10",
    }
}

fn trust_of(device: &Device) -> &'static str {
    match device.trust_type {
        "ServerAd" => "Hybrid Azure AD joined",
        "Workplace" => "Azure AD registered",
        _ => "Azure AD joined",
    }
}

/// Whether a device is compliant: fixed per device (about 90% are).
fn compliant(device: &Device) -> bool {
    Rng::new(seed_of(&[
        hash_str(&device.device_id),
        hash_str("compliant"),
    ]))
    .chance(0.9)
}

/// A stable address for an app or managed identity.
fn stable_ip(key: &str) -> String {
    random_ip(&mut Rng::new(seed_of(&[hash_str(key), hash_str("ip")])))
}

fn pick_app<'a>(rng: &mut Rng, apps: &'a [ClientApp]) -> &'a ClientApp {
    let weights: Vec<u32> = apps.iter().map(|a| a.weight).collect();
    let i = rng.weighted(&weights).unwrap_or(0);
    &apps[i.min(apps.len() - 1)]
}

/// What one sign-in looks like before it is put on the wire.
struct Draft {
    user: Option<usize>,
    app_name: String,
    app_id: String,
    app_first_party: bool,
    resource: Resource,
    ip: String,
    place: Option<&'static Place>,
    client_app_used: Option<&'static str>,
    user_agent: Option<&'static str>,
    device: Option<DeviceDetail>,
    failure: Option<Failure>,
    ca: Vec<CaPolicy>,
    ca_status: &'static str,
    mfa: Option<&'static str>,
    legacy: bool,
    risk: Option<(&'static str, &'static [&'static str])>,
    service_principal: Option<(String, String)>,
    msi: Option<(&'static str, String)>,
    /// `authenticationProtocol` (beta).
    protocol: &'static str,
}

/// Evaluates the tenant's conditional access policies for a user sign-in.
fn evaluate_ca(
    tenant: &Tenant,
    user: &User,
    app: Option<&ClientApp>,
    legacy: bool,
    place: &Place,
    device_compliant: bool,
    evaluated: bool,
) -> Vec<CaPolicy> {
    tenant
        .policies
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let (grant, session, applies, pass) = match i {
                0 => (vec!["Mfa"], vec![], user.is_admin, true),
                1 => (vec!["Block"], vec![], legacy, false),
                2 => {
                    let office =
                        app.is_some_and(|a| a.resource == EXCHANGE || a.resource == SHAREPOINT);
                    (
                        vec!["RequireCompliantDevice"],
                        vec![],
                        office,
                        device_compliant,
                    )
                }
                3 => (
                    vec!["Mfa"],
                    vec!["SignInFrequency"],
                    app.is_some_and(|a| a.admin),
                    true,
                ),
                4 => (vec!["Block"], vec![], place.blocked, false),
                _ => (vec![], vec![], false, true),
            };
            let result = if i == 5 {
                "notEnabled"
            } else if !evaluated || !applies {
                if i == 2 {
                    "reportOnlyNotApplied"
                } else {
                    "notApplied"
                }
            } else if i == 2 {
                if pass {
                    "reportOnlySuccess"
                } else {
                    "reportOnlyFailure"
                }
            } else if pass {
                "success"
            } else {
                "failure"
            };
            let enforced = matches!(result, "success" | "failure");
            CaPolicy {
                id: p.id.clone(),
                display_name: p.display_name,
                enforced_grant_controls: if enforced
                    || result == "reportOnlySuccess"
                    || result == "reportOnlyFailure"
                {
                    grant
                } else {
                    Vec::new()
                },
                enforced_session_controls: if enforced { session } else { Vec::new() },
                result,
            }
        })
        .collect()
}

fn ca_status(policies: &[CaPolicy]) -> &'static str {
    if policies.iter().any(|p| p.result == "failure") {
        "failure"
    } else if policies.iter().any(|p| p.result == "success") {
        "success"
    } else {
        "notApplied"
    }
}

/// A user sign-in (interactive or not).
fn user_draft(rng: &mut Rng, tenant: &Tenant, kind: Kind) -> Draft {
    let interactive = kind == Kind::Interactive;
    let legacy = interactive && rng.chance(0.06);
    let app = if legacy {
        None
    } else if interactive {
        Some(pick_app(rng, INTERACTIVE_APPS))
    } else {
        Some(pick_app(rng, NON_INTERACTIVE_APPS))
    };
    let admins: Vec<usize> = (0..tenant.users.len())
        .filter(|i| tenant.users[*i].is_admin)
        .collect();
    let user_index = match app {
        Some(a) if a.admin && !admins.is_empty() && rng.chance(0.9) => {
            admins[rng.below(admins.len() as u64) as usize]
        }
        _ => rng.below(tenant.users.len().max(1) as u64) as usize,
    };
    let Some(user) = tenant.users.get(user_index) else {
        return service_principal_draft(rng, tenant);
    };
    let home = home_place(user_index);
    let (place, ip) = if legacy || (interactive && rng.chance(0.03)) {
        let p = rng.pick(FOREIGN).unwrap_or(&FOREIGN[0]);
        (p, random_ip(rng))
    } else {
        (home, user.home_ip.clone())
    };
    // The device: the user's own most of the time, else an unmanaged one.
    let own = tenant
        .devices
        .get(user_index)
        .filter(|_| !legacy && rng.chance(0.8));
    let os = match own {
        Some(d) => os_of(d),
        None => ["Windows10", "MacOs", "Ios", "Android"][rng.below(4) as usize],
    };
    let client = app.map_or(Client::Desktop, |a| a.client);
    let table = if client == Client::Browser {
        BROWSERS
    } else {
        NATIVE
    };
    let choices: Vec<&(&str, &str, &str)> = table.iter().filter(|(o, _, _)| *o == os).collect();
    let (_, browser, ua) = **rng.pick(&choices).unwrap_or(&&table[0]);
    let device_compliant = own.is_some_and(compliant);
    let device = if legacy {
        DeviceDetail {
            device_id: String::new(),
            display_name: None,
            operating_system: None,
            browser: None,
            is_compliant: Some(false),
            is_managed: Some(false),
            trust_type: None,
        }
    } else {
        match own {
            Some(d) => DeviceDetail {
                device_id: d.device_id.clone(),
                display_name: Some(d.display_name.clone()),
                operating_system: Some(os),
                browser: Some(browser),
                is_compliant: Some(device_compliant),
                is_managed: Some(true),
                trust_type: Some(trust_of(d)),
            },
            None => DeviceDetail {
                device_id: String::new(),
                display_name: None,
                operating_system: Some(os),
                browser: Some(browser),
                is_compliant: Some(false),
                is_managed: Some(false),
                trust_type: None,
            },
        }
    };
    let client_app_used = if legacy {
        rng.pick(LEGACY_CLIENTS).copied()
    } else if client == Client::Browser {
        Some("Browser")
    } else {
        Some("Mobile Apps and Desktop clients")
    };
    // Outcome, then conditional access consistent with it.
    let roll = rng.unit();
    let failure = if legacy {
        if roll < 0.55 {
            Some(E50126)
        } else if roll < 0.85 {
            Some(E53003)
        } else {
            Some(E50053)
        }
    } else if place.blocked {
        Some(E53003)
    } else if interactive {
        if roll < 0.025 {
            Some(E50126)
        } else if roll < 0.05 {
            Some(E50074)
        } else if roll < 0.065 {
            Some(E50140)
        } else {
            None
        }
    } else if roll < 0.02 {
        Some(E70043)
    } else if roll < 0.03 {
        Some(E50173)
    } else {
        None
    };
    // Primary authentication failures and interrupts stop before conditional access.
    let evaluated = matches!(failure, None | Some((53003, _, _)));
    let ca = evaluate_ca(
        tenant,
        user,
        app,
        legacy,
        place,
        device_compliant,
        evaluated,
    );
    let status = ca_status(&ca);
    let mfa = (failure.is_none()
        && status == "success"
        && ca
            .iter()
            .any(|p| p.result == "success" && p.enforced_grant_controls.contains(&"Mfa")))
    .then(|| {
        if interactive {
            rng.pick(MFA_METHODS)
                .copied()
                .unwrap_or("Mobile app notification")
        } else {
            "Previously satisfied"
        }
    });
    let risk = if legacy && rng.chance(0.5) {
        Some((
            "high",
            &["unfamiliarFeatures", "suspiciousIPAddress"] as &'static [&'static str],
        ))
    } else if !std::ptr::eq(place, home) && rng.chance(0.4) {
        Some(("medium", &["unfamiliarFeatures"] as &'static [&'static str]))
    } else {
        None
    };
    let (app_name, app_id) = match app {
        Some(a) => (a.name.to_string(), a.app_id.to_string()),
        None => (EXCHANGE.0.to_string(), EXCHANGE.1.to_string()),
    };
    Draft {
        user: Some(user_index),
        app_name,
        app_id,
        app_first_party: true,
        resource: app.map_or(EXCHANGE, |a| a.resource),
        ip,
        place: Some(place),
        client_app_used,
        user_agent: if legacy { None } else { Some(ua) },
        device: Some(device),
        failure,
        ca,
        ca_status: status,
        mfa,
        legacy,
        risk,
        service_principal: None,
        msi: None,
        protocol: if legacy { "ropc" } else { "none" },
    }
}

fn service_principal_draft(rng: &mut Rng, tenant: &Tenant) -> Draft {
    let own: Vec<_> = tenant.apps.iter().filter(|a| !a.first_party).collect();
    // The collector's own app signs in most often.
    let app = if own.is_empty() {
        None
    } else if rng.chance(0.4) {
        own.first().copied()
    } else {
        own.get(rng.below(own.len() as u64) as usize).copied()
    };
    let (name, app_id, sp_id) = match app {
        Some(a) => (
            a.display_name.to_string(),
            a.app_id.clone().unwrap_or_default(),
            a.service_principal_id.clone(),
        ),
        None => (String::new(), String::new(), String::new()),
    };
    let resource = *rng
        .pick(&[GRAPH, GRAPH, GRAPH, MGMT_APIS, KEY_VAULT, AZURE_MGMT])
        .unwrap_or(&GRAPH);
    let region = &AZURE_REGIONS[(hash_str(&sp_id) % AZURE_REGIONS.len() as u64) as usize];
    let roll = rng.unit();
    let failure = if roll < 0.02 {
        Some(E7000215)
    } else if roll < 0.03 {
        Some(E7000222)
    } else {
        None
    };
    Draft {
        user: None,
        app_name: name.clone(),
        app_id,
        app_first_party: false,
        resource,
        ip: stable_ip(&sp_id),
        place: Some(region),
        client_app_used: None,
        user_agent: None,
        device: None,
        failure,
        ca: Vec::new(),
        ca_status: "notApplied",
        mfa: None,
        legacy: false,
        risk: None,
        service_principal: Some((sp_id, name)),
        msi: None,
        protocol: "none",
    }
}

fn managed_identity_draft(rng: &mut Rng, tenant: &Tenant) -> Draft {
    let mis = &tenant.managed_identities;
    let Some(mi) = mis.get(rng.below(mis.len().max(1) as u64) as usize) else {
        return service_principal_draft(rng, tenant);
    };
    let resource = *rng
        .pick(&[KEY_VAULT, KEY_VAULT, ARM, STORAGE, GRAPH])
        .unwrap_or(&ARM);
    Draft {
        user: None,
        app_name: mi.display_name.to_string(),
        app_id: mi.app_id.clone(),
        app_first_party: false,
        resource,
        ip: String::new(),
        place: None,
        client_app_used: None,
        user_agent: None,
        device: None,
        failure: None,
        ca: Vec::new(),
        ca_status: "notApplied",
        mfa: None,
        legacy: false,
        risk: None,
        service_principal: Some((mi.service_principal_id.clone(), mi.display_name.to_string())),
        msi: Some((mi.msi_type, mi.resource_id.clone())),
        protocol: "none",
    }
}

/// A planted interactive sign-in (see [`crate::attacks`]): an ordinary draft with the plan's
/// user, address, protocol, outcome and risk forced. Conditional access does not stop it: the
/// attacker's address is abroad but not in a blocked country, the victim is no administrator,
/// and a legacy success is one the legacy-authentication block did not apply to (an excluded
/// account, as real tenants keep a few).
fn planted_draft(rng: &mut Rng, tenant: &Tenant, plan: &SignInPlan) -> Draft {
    let mut d = user_draft(rng, tenant, Kind::Interactive);
    let Some(user) = tenant.users.get(plan.user) else {
        return d;
    };
    let place = FOREIGN
        .iter()
        .filter(|p| !p.blocked)
        .nth(plan.abroad)
        .unwrap_or(&FOREIGN[0]);
    let unmanaged = |os: Option<&'static str>, browser: Option<&'static str>| DeviceDetail {
        device_id: String::new(),
        display_name: None,
        operating_system: os,
        browser,
        is_compliant: Some(false),
        is_managed: Some(false),
        trust_type: None,
    };
    let (app, client, agent, device, protocol): (Resource, _, _, _, _) = match plan.way {
        SignInWay::Legacy(client) => (EXCHANGE, client, None, unmanaged(None, None), "none"),
        SignInWay::Ropc => (
            (
                "Microsoft Azure PowerShell",
                "1950a258-227b-4e31-a9cf-717495945fc2",
            ),
            "Mobile Apps and Desktop clients",
            Some("python-requests/2.32.3"),
            unmanaged(None, None),
            "ropc",
        ),
        SignInWay::DeviceCode => (
            ("Microsoft Office", "d3590ed6-52b3-4102-aeff-aad2292ab01c"),
            "Mobile Apps and Desktop clients",
            Some(BROWSERS[0].2),
            unmanaged(Some("Windows10"), Some("Edge 126.0.0")),
            "deviceCode",
        ),
        SignInWay::Browser => (
            ("One Outlook Web", "9199bf20-a13f-4107-85dc-02114787ef48"),
            "Browser",
            Some(BROWSERS[1].2),
            unmanaged(Some("Windows10"), Some("Chrome 126.0.0")),
            "none",
        ),
    };
    d.user = Some(plan.user);
    d.app_name = app.0.to_string();
    d.app_id = app.1.to_string();
    d.resource = match plan.way {
        SignInWay::Ropc | SignInWay::DeviceCode => GRAPH,
        _ => EXCHANGE,
    };
    d.ip = plan.ip.clone();
    d.place = Some(place);
    d.client_app_used = Some(client);
    d.user_agent = agent;
    d.device = Some(device);
    d.legacy = matches!(plan.way, SignInWay::Legacy(_));
    d.protocol = protocol;
    d.failure = plan
        .error
        .map(|code| if code == 50053 { E50053 } else { E50126 });
    d.ca = evaluate_ca(tenant, user, None, false, place, false, d.failure.is_none());
    d.ca_status = ca_status(&d.ca);
    d.mfa = None;
    d.risk = plan.high_risk.then_some((
        "high",
        &["anonymizedIPAddress", "unfamiliarFeatures"] as &'static [&'static str],
    ));
    d
}

fn render_sign_in(
    tenant: &Tenant,
    event: &EventStub,
    version: ApiVersion,
) -> Result<Box<RawValue>, serde_json::Error> {
    let mut rng = Rng::new(event.seed);
    let (id, correlation_id) = head(&mut rng);
    let kind = Kind::of(event.stream);
    let d = match (event.plant, kind) {
        (Some(p), _) => planted_draft(&mut rng, tenant, &plans::sign_in(tenant, &p)),
        (None, Kind::Interactive | Kind::NonInteractive) => user_draft(&mut rng, tenant, kind),
        (None, Kind::ServicePrincipal) => service_principal_draft(&mut rng, tenant),
        (None, Kind::ManagedIdentity) => managed_identity_draft(&mut rng, tenant),
    };
    let user = d.user.and_then(|i| tenant.users.get(i));
    let status = match d.failure {
        Some((code, reason, details)) => Status {
            error_code: code,
            failure_reason: Some(reason.replace("{identifier}", &d.app_id)),
            additional_details: details,
        },
        None if kind == Kind::Interactive => Status {
            error_code: 0,
            failure_reason: Some("Other.".to_string()),
            additional_details: d.mfa.map(|m| {
                if m == "Previously satisfied" {
                    "MFA requirement satisfied by claim in the token"
                } else {
                    "MFA completed in Azure AD"
                }
            }),
        },
        None => Status {
            error_code: 0,
            failure_reason: None,
            additional_details: d
                .mfa
                .map(|_| "MFA requirement satisfied by claim in the token"),
        },
    };
    let (risk_level, risk_types): (&'static str, Vec<&'static str>) = match d.risk {
        Some((level, types)) => (level, types.to_vec()),
        None => ("none", Vec::new()),
    };
    let beta = (version == ApiVersion::Beta).then(|| {
        let is_user = user.is_some();
        let mut steps = Vec::new();
        if kind == Kind::Interactive {
            let ok = !matches!(d.failure, Some((50126 | 50053, _, _)));
            steps.push(AuthStep {
                authentication_step_date_time: graph_datetime(event.time_ns),
                authentication_method: "Password",
                authentication_method_detail: Some("Password in the cloud"),
                succeeded: ok,
                authentication_step_result_detail: if ok {
                    "Correct password"
                } else {
                    "Invalid username or password or Invalid on-premise username or password."
                },
                authentication_step_requirement: "Primary authentication",
            });
            if let Some(m) = d.mfa {
                steps.push(AuthStep {
                    authentication_step_date_time: graph_datetime(event.time_ns),
                    authentication_method: m,
                    authentication_method_detail: None,
                    succeeded: true,
                    authentication_step_result_detail: "MFA successfully completed",
                    authentication_step_requirement: "Multi-factor authentication",
                });
            }
        }
        let token_chars = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        BetaOnly {
            sign_in_event_types: vec![kind.name()],
            user_type: "Member",
            managed_service_identity: match &d.msi {
                Some((msi_type, resource_id)) => Msi {
                    msi_type,
                    associated_resource_id: Some(resource_id.clone()),
                    federated_token_id: None,
                    federated_token_issuer: None,
                },
                None => Msi {
                    msi_type: "none",
                    associated_resource_id: None,
                    federated_token_id: None,
                    federated_token_issuer: None,
                },
            },
            authentication_requirement: if d.mfa.is_some() {
                "multiFactorAuthentication"
            } else {
                "singleFactorAuthentication"
            },
            mfa_detail: d.mfa.map(|m| MfaDetail {
                auth_method: m,
                auth_detail: None,
            }),
            authentication_details: steps,
            authentication_processing_details: if is_user {
                vec![KeyValue {
                    key: "Legacy TLS (TLS 1.0, 1.1, 3DES)",
                    value: "False",
                }]
            } else {
                Vec::new()
            },
            authentication_protocol: d.protocol,
            incoming_token_type: if kind == Kind::NonInteractive
                && d.device.as_ref().is_some_and(|x| x.trust_type.is_some())
            {
                "primaryRefreshToken"
            } else {
                "none"
            },
            token_issuer_type: "AzureAD",
            token_issuer_name: "",
            unique_token_identifier: rng.string_from(token_chars, 22),
            original_request_id: if kind == Kind::Interactive {
                id.clone()
            } else {
                String::new()
            },
            cross_tenant_access_type: "none",
            is_tenant_restricted: false,
            flagged_for_review: false,
            processing_time_in_milliseconds: rng.range(8, 420) as u32,
            network_location_details: Vec::new(),
            autonomous_system_number: d.place.map(|p| p.asn),
            app_owner_tenant_id: Some(if d.app_first_party {
                MICROSOFT_TENANT.to_string()
            } else {
                tenant.tenant_id.clone()
            }),
        }
    });
    let record = SignIn {
        id: &id,
        created_date_time: graph_datetime(event.time_ns),
        user_display_name: Some(user.map_or(String::new(), |u| u.display_name.clone())),
        user_principal_name: Some(user.map_or(String::new(), |u| u.upn.clone())),
        user_id: user.map_or(String::new(), |u| u.id.clone()),
        app_id: Some(d.app_id.clone()),
        app_display_name: Some(d.app_name.clone()),
        ip_address: Some(d.ip.clone()),
        client_app_used: d.client_app_used,
        user_agent: d.user_agent,
        correlation_id: &correlation_id,
        conditional_access_status: d.ca_status,
        applied_conditional_access_policies: d.ca,
        authentication_app_device_details: None,
        is_interactive: kind == Kind::Interactive,
        resource_display_name: Some(d.resource.0),
        resource_id: Some(d.resource.1),
        resource_tenant_id: Some(if d.resource == AZURE_MGMT || d.resource == ARM {
            MICROSOFT_TENANT.to_string()
        } else {
            tenant.tenant_id.clone()
        }),
        home_tenant_id: Some(tenant.tenant_id.clone()),
        risk_detail: "none",
        risk_level_aggregated: risk_level,
        risk_level_during_sign_in: risk_level,
        risk_state: if d.risk.is_some() { "atRisk" } else { "none" },
        risk_event_types: risk_types.clone(),
        risk_event_types_v2: risk_types,
        service_principal_id: Some(
            d.service_principal
                .as_ref()
                .map_or(String::new(), |(id, _)| id.clone()),
        ),
        service_principal_name: d.service_principal.as_ref().map(|(_, n)| n.clone()),
        status,
        device_detail: Some(d.device.unwrap_or(DeviceDetail {
            device_id: String::new(),
            display_name: None,
            operating_system: None,
            browser: None,
            is_compliant: Some(false),
            is_managed: Some(false),
            trust_type: None,
        })),
        location: d.place.map(location),
        beta,
    };
    serde_json::value::to_raw_value(&record)
}

impl SimSource for EntraSignIns {
    fn name(&self) -> &'static str {
        "entra-sign-ins"
    }

    fn api(&self) -> SourceApi {
        SourceApi::Graph(GraphResource {
            stream_property: Some("signInEventTypes"),
            precondition: Precondition::PremiumLicence,
            budget: Some(IDENTITY_REPORTS),
            ..GraphResource::basic("auditLogs/signIns", "createdDateTime", 1000, 1000)
        })
    }

    fn streams(&self) -> &'static [Stream] {
        STREAMS
    }

    fn record_id(&self, _tenant: &Tenant, seed: u64) -> String {
        head(&mut Rng::new(seed)).0
    }

    fn render(
        &self,
        tenant: &Tenant,
        event: &EventStub,
    ) -> Result<Box<RawValue>, serde_json::Error> {
        render_sign_in(tenant, event, ApiVersion::V1)
    }

    fn render_version(
        &self,
        tenant: &Tenant,
        event: &EventStub,
        version: ApiVersion,
    ) -> Result<Box<RawValue>, serde_json::Error> {
        render_sign_in(tenant, event, version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn render(tenant: &Tenant, seed: u64, stream: u8, version: ApiVersion) -> Value {
        let ev = EventStub {
            time_ns: 1_780_000_000_000_000_000,
            visible_ns: 1_780_000_000_000_000_000,
            seed,
            stream,
            id: EntraSignIns.record_id(tenant, seed).into_boxed_str(),
            plant: None,
        };
        let raw = EntraSignIns
            .render_version(tenant, &ev, version)
            .map(|r| r.get().to_string())
            .unwrap_or_default();
        let v: Value = serde_json::from_str(&raw).unwrap_or_default();
        assert_eq!(v["id"].as_str(), Some(&*ev.id), "{raw}");
        v
    }

    #[test]
    fn interactive_sign_ins_look_real() {
        let tenant = Tenant::generate(1, "8f3c5a2e-6b1d-4c9e-a7f0-2d4b6e8a1c35");
        let n = 3000;
        let (mut failed, mut legacy, mut blocked, mut home) = (0, 0, 0, 0);
        let mut codes = std::collections::BTreeSet::new();
        for seed in 0..n {
            let v = render(&tenant, seed, 0, ApiVersion::V1);
            assert_eq!(v["isInteractive"], true);
            assert!(v["id"].as_str().is_some_and(|s| s.ends_with("00")));
            assert!(v["userId"].as_str().is_some_and(|s| !s.is_empty()));
            assert!(v.get("signInEventTypes").is_none());
            let code = v["status"]["errorCode"].as_i64().unwrap_or(-1);
            codes.insert(code);
            if code != 0 {
                failed += 1;
                assert!(v["status"]["failureReason"].as_str().is_some());
            }
            if code == 53003 {
                blocked += 1;
                assert_eq!(v["conditionalAccessStatus"], "failure", "{v}");
            }
            if ["IMAP4", "POP3", "Authenticated SMTP", "Exchange ActiveSync"]
                .contains(&v["clientAppUsed"].as_str().unwrap_or(""))
            {
                legacy += 1;
            }
            if ["US", "GB"].contains(&v["location"]["countryOrRegion"].as_str().unwrap_or("")) {
                home += 1;
            }
        }
        for code in [0, 50126, 50074, 53003, 50053] {
            assert!(codes.contains(&code), "{code} missing from {codes:?}");
        }
        let share = |x: i32| f64::from(x) / n as f64;
        assert!((0.05..0.16).contains(&share(failed)), "{}", share(failed));
        assert!((0.02..0.08).contains(&share(legacy)), "{}", share(legacy));
        assert!(blocked > 0);
        assert!(share(home) > 0.85, "{}", share(home));
    }

    #[test]
    fn beta_adds_kind_specific_properties() {
        let tenant = Tenant::generate(2, "t");
        for seed in 0..200 {
            let sp = render(&tenant, seed, 2, ApiVersion::Beta);
            assert_eq!(
                sp["signInEventTypes"],
                serde_json::json!(["servicePrincipal"])
            );
            assert!(
                sp["servicePrincipalId"]
                    .as_str()
                    .is_some_and(|s| !s.is_empty())
            );
            assert_eq!(sp["userId"], "");
            let mi = render(&tenant, seed, 3, ApiVersion::Beta);
            assert!(
                mi["managedServiceIdentity"]["msiType"]
                    .as_str()
                    .is_some_and(|t| t.ends_with("Assigned"))
            );
            assert!(
                mi["managedServiceIdentity"]["associatedResourceId"]
                    .as_str()
                    .is_some_and(|r| r.starts_with("/subscriptions/"))
            );
            let ni = render(&tenant, seed, 1, ApiVersion::Beta);
            assert_eq!(ni["isInteractive"], false);
            assert_eq!(ni["managedServiceIdentity"]["msiType"], "none");
            assert!(ni["authenticationRequirement"].is_string());
            let v1 = render(&tenant, seed, 1, ApiVersion::V1);
            assert!(v1.get("managedServiceIdentity").is_none());
            assert_eq!(v1["id"], ni["id"]);
        }
    }
}
