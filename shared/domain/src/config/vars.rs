//! Every `AUDITLAKE_*` variable, each declared once: name, default, accepted range and meaning.
//! The parsers read through these declarations (defaults and ranges included), problems name
//! them, and the README table and the template are checked against them.

use super::Var;

pub const TENANT_ID: Var = Var {
    name: "AUDITLAKE_TENANT_ID",
    default: None,
    range: None,
    meaning: "Entra tenant GUID the collector reads. Query API: the tenant GUID (health keys; the default token issuer).",
};

pub const CLIENT_ID: Var = Var {
    name: "AUDITLAKE_CLIENT_ID",
    default: None,
    range: None,
    meaning: "Application (client) id of the collector's app registration.",
};

pub const CLIENT_SECRET_PARAM: Var = Var {
    name: "AUDITLAKE_CLIENT_SECRET_PARAM",
    default: None,
    range: None,
    meaning: "SSM SecureString parameter holding the client secret.",
};

pub const CLIENT_CERT_PARAM: Var = Var {
    name: "AUDITLAKE_CLIENT_CERT_PARAM",
    default: None,
    range: None,
    meaning: "SSM SecureString parameter holding a PEM key and certificate (certificate auth).",
};

pub const CLOUD: Var = Var {
    name: "AUDITLAKE_CLOUD",
    default: Some("commercial"),
    range: None,
    meaning: "Microsoft cloud: commercial, gcc, gcc-high, dod, china. Query API: selects the default token issuer's login host.",
};

pub const LOGIN_URL: Var = Var {
    name: "AUDITLAKE_LOGIN_URL",
    default: None,
    range: None,
    meaning: "Override of the Entra login root (tests, proxies). Query API: override of the login host the default issuer is built from (local stacks).",
};

pub const GRAPH_URL: Var = Var {
    name: "AUDITLAKE_GRAPH_URL",
    default: None,
    range: None,
    meaning: "Override of the Microsoft Graph root.",
};

pub const MANAGEMENT_URL: Var = Var {
    name: "AUDITLAKE_MANAGEMENT_URL",
    default: None,
    range: None,
    meaning: "Override of the Management Activity API root.",
};

pub const BUCKET: Var = Var {
    name: "AUDITLAKE_BUCKET",
    default: None,
    range: None,
    meaning: "S3 bucket for raw, quarantine and curated data. Query API: the bucket of the raw layer: `GET /events/{id}` then includes the raw record, which the hot store keeps by reference (`raw_ref`).",
};

pub const EVENTS_TABLE: Var = Var {
    name: "AUDITLAKE_EVENTS_TABLE",
    default: None,
    range: None,
    meaning: "DynamoDB table of normalized events and annotations.",
};

pub const STATE_TABLE: Var = Var {
    name: "AUDITLAKE_STATE_TABLE",
    default: None,
    range: None,
    meaning: "DynamoDB table of checkpoints and health.",
};

pub const LAG_SECS: Var = Var {
    name: "AUDITLAKE_LAG_SECS",
    default: Some("120"),
    range: Some((0, 86_400)),
    meaning: "Newest event time a run asks for is now minus this.",
};

pub const OVERLAP_SECS: Var = Var {
    name: "AUDITLAKE_OVERLAP_SECS",
    default: None,
    range: Some((0, 7 * 86_400)),
    meaning: "Each run re-reads this much before its watermark to catch late events (default 1800 for Graph sources; 7200 for m365-activity, whose blobs can be listed after their `contentCreated` has passed).",
};

pub const INITIAL_LOOKBACK_DAYS: Var = Var {
    name: "AUDITLAKE_INITIAL_LOOKBACK_DAYS",
    default: Some("7"),
    range: Some((0, 3650)),
    meaning: "How far back the first run reads (capped at the source's history edge).",
};

pub const HOT_RETENTION_DAYS: Var = Var {
    name: "AUDITLAKE_HOT_RETENTION_DAYS",
    default: Some("90"),
    range: Some((1, 3650)),
    meaning: "DynamoDB TTL of events, counted from ingestion. Query API: how far back a listing without `start` reaches (the events' hot retention).",
};

pub const WRITE_CONCURRENCY: Var = Var {
    name: "AUDITLAKE_WRITE_CONCURRENCY",
    default: Some("16"),
    range: Some((1, 256)),
    meaning: "Concurrent DynamoDB writes per run.",
};

pub const PAGE_SIZE: Var = Var {
    name: "AUDITLAKE_PAGE_SIZE",
    default: Some("1000"),
    range: Some((1, 5000)),
    meaning: "Records per Graph page requested (`$top`, capped at each API's maximum); lower it if pages time out.",
};

pub const SIGNIN_KINDS: Var = Var {
    name: "AUDITLAKE_SIGNIN_KINDS",
    default: Some("interactiveUser,nonInteractiveUser,servicePrincipal,managedIdentity"),
    range: None,
    meaning: "Sign-in kinds pulled by entra-sign-ins, one stream each. Query API: the sign-in streams `GET /sources` reports.",
};

pub const CONTENT_TYPES: Var = Var {
    name: "AUDITLAKE_CONTENT_TYPES",
    default: Some(
        "Audit.AzureActiveDirectory,Audit.Exchange,Audit.SharePoint,Audit.General,DLP.All",
    ),
    range: None,
    meaning: "Management API content types pulled by m365-activity, one stream each (DLP.All needs ActivityFeed.ReadDlp).",
};

pub const PUBLISHER_ID: Var = Var {
    name: "AUDITLAKE_PUBLISHER_ID",
    default: None,
    range: None,
    meaning: "`PublisherIdentifier` sent on every Management API call (default: the tenant id, which gives the tenant its own quota).",
};

pub const BLOB_CONCURRENCY: Var = Var {
    name: "AUDITLAKE_BLOB_CONCURRENCY",
    default: Some("8"),
    range: Some((1, 64)),
    meaning: "Management API content blobs fetched at once per content type.",
};

pub const REQUEST_BUDGET: Var = Var {
    name: "AUDITLAKE_REQUEST_BUDGET",
    default: None,
    range: None,
    meaning: "Requests this puller may send, as N/SECS (default: its share of Microsoft's budget: directory audits 2/10 and sign-ins 3/10 of Graph's 5 per 10 s, message trace 100/300, Intune 10/10).",
};

pub const HISTORY_DAYS: Var = Var {
    name: "AUDITLAKE_HISTORY_DAYS",
    default: None,
    range: Some((1, 3650)),
    meaning: "Override of the source's history edge in days (Microsoft's retention; e.g. 7 on Entra ID Free).",
};

pub const HTTP_TIMEOUT_SECS: Var = Var {
    name: "AUDITLAKE_HTTP_TIMEOUT_SECS",
    default: Some("60"),
    range: Some((1, 900)),
    meaning: "Timeout of one HTTP request to Microsoft.",
};

pub const MAX_RETRIES: Var = Var {
    name: "AUDITLAKE_MAX_RETRIES",
    default: Some("8"),
    range: Some((0, 50)),
    meaning: "Retries of one Microsoft request on 429, 5xx and timeouts.",
};

pub const DEADLINE_MARGIN_SECS: Var = Var {
    name: "AUDITLAKE_DEADLINE_MARGIN_SECS",
    default: Some("30"),
    range: Some((0, 900)),
    meaning: "Time kept free before the Lambda deadline; no window starts inside it.",
};

pub const API_AUDIENCE: Var = Var {
    name: "AUDITLAKE_API_AUDIENCE",
    default: None,
    range: None,
    meaning: "Audience (`aud`) of the query API's tokens: its app registration's Application ID URI or client id. Required unless auth is disabled.",
};

pub const API_ISSUER: Var = Var {
    name: "AUDITLAKE_API_ISSUER",
    default: None,
    range: None,
    meaning: "Token issuer; default `<login URL>/<tenant>/v2.0` for the cloud (or AUDITLAKE_LOGIN_URL).",
};

pub const ALLOWED_GROUPS: Var = Var {
    name: "AUDITLAKE_ALLOWED_GROUPS",
    default: None,
    range: None,
    meaning: "Groups granting roles, comma-separated: a group object id (read), or `groupObjectId=role` (role: read, annotate, admin).",
};

pub const AUTH_DISABLED: Var = Var {
    name: "AUDITLAKE_AUTH_DISABLED",
    default: Some("false"),
    range: None,
    meaning: "`true` switches token checks off: every caller is an anonymous admin, every response says so. Local use only.",
};

pub const CURSOR_KEY_PARAM: Var = Var {
    name: "AUDITLAKE_CURSOR_KEY_PARAM",
    default: None,
    range: None,
    meaning: "SSM SecureString parameter holding the key that signs paging cursors; without it each process makes its own key and cursors do not survive it.",
};

pub const API_READ_BUDGET: Var = Var {
    name: "AUDITLAKE_API_READ_BUDGET",
    default: Some("100"),
    range: Some((1, 10_000)),
    meaning: "DynamoDB requests one `GET /events` call may send before it returns what it has with a cursor.",
};

pub const ATHENA_WORKGROUP: Var = Var {
    name: "AUDITLAKE_ATHENA_WORKGROUP",
    default: None,
    range: None,
    meaning: "Athena workgroup that runs `POST /analytics/{query}` (with AUDITLAKE_ATHENA_DATABASE); unset: hunting queries answer 503.",
};

pub const ATHENA_DATABASE: Var = Var {
    name: "AUDITLAKE_ATHENA_DATABASE",
    default: None,
    range: None,
    meaning: "Glue database of the curated tables and views the hunting queries read.",
};

pub const ALERTS_TABLE: Var = Var {
    name: "AUDITLAKE_ALERTS_TABLE",
    default: None,
    range: None,
    meaning: "DynamoDB table of alerts, their comments, the tenant's rules and threshold-window state (the detection function; the query API's /alerts and /rules).",
};

pub const ALERT_RETENTION_DAYS: Var = Var {
    name: "AUDITLAKE_ALERT_RETENTION_DAYS",
    default: Some("365"),
    range: Some((1, 3650)),
    meaning: "DynamoDB TTL of alerts, counted from when they are raised.",
};

pub const ANALYTICS_TIMEOUT_SECS: Var = Var {
    name: "AUDITLAKE_ANALYTICS_TIMEOUT_SECS",
    default: Some("25"),
    range: Some((1, 900)),
    meaning: "Time limit of one hunting query; past it the query is stopped and the answer is a 504. API Gateway gives up after 30 s.",
};

pub const ALERT_TOPIC_ARN: Var = Var {
    name: "AUDITLAKE_ALERT_TOPIC_ARN",
    default: None,
    range: None,
    meaning: "The notifier: the SNS topic every new alert is published to (e-mail and chat subscriptions hang off it); unset, no topic.",
};

pub const WEBHOOKS: Var = Var {
    name: "AUDITLAKE_WEBHOOKS",
    default: None,
    range: None,
    meaning: "The notifier: webhooks every new alert is posted to, `name=https://host/path` separated by commas; each host must be on AUDITLAKE_DESTINATION_ALLOWLIST.",
};

pub const WEBHOOK_SECRET_PARAM: Var = Var {
    name: "AUDITLAKE_WEBHOOK_SECRET_PARAM",
    default: None,
    range: None,
    meaning: "The notifier: SSM SecureString parameter holding the HMAC key of the `auditlake-signature` header (required with AUDITLAKE_WEBHOOKS).",
};

pub const NOTIFY_MIN_SEVERITY: Var = Var {
    name: "AUDITLAKE_NOTIFY_MIN_SEVERITY",
    default: Some("low"),
    range: None,
    meaning: "The notifier: alerts below this severity (informational, low, medium, high, critical) are stored but not sent.",
};

pub const DESTINATION_ALLOWLIST: Var = Var {
    name: "AUDITLAKE_DESTINATION_ALLOWLIST",
    default: None,
    range: None,
    meaning: "Hosts a webhook or the forwarder may reach: `hooks.example.com`, `*.example.org`, `siem.example.net:8088`, separated by commas. Every address a host resolves to must also be public.",
};

pub const DESTINATIONS_ALLOW_LOOPBACK: Var = Var {
    name: "AUDITLAKE_DESTINATIONS_ALLOW_LOOPBACK",
    default: None,
    range: None,
    meaning: "Local stacks only (the demo, tests): `1` lets a listed destination resolve to loopback. Refused inside Lambda.",
};

pub const DESTINATIONS_CA_FILE: Var = Var {
    name: "AUDITLAKE_DESTINATIONS_CA_FILE",
    default: None,
    range: None,
    meaning: "Local stacks only: a PEM file of a certificate authority trusted for destinations besides the system's (a local receiver's test certificate). Refused inside Lambda.",
};

pub const FORWARD_URL: Var = Var {
    name: "AUDITLAKE_FORWARD_URL",
    default: None,
    range: None,
    meaning: "The forwarder: the HTTPS collector new events are posted to (its host on AUDITLAKE_DESTINATION_ALLOWLIST).",
};

pub const FORWARD_FORMAT: Var = Var {
    name: "AUDITLAKE_FORWARD_FORMAT",
    default: Some("ndjson"),
    range: None,
    meaning: "The forwarder: `ndjson` (one AuditEvent JSON per line, signed like a webhook) or `splunk-hec` (Splunk HTTP Event Collector events, `Authorization: Splunk <token>`).",
};

pub const FORWARD_SECRET_PARAM: Var = Var {
    name: "AUDITLAKE_FORWARD_SECRET_PARAM",
    default: None,
    range: None,
    meaning: "The forwarder: SSM SecureString parameter holding the HMAC key (ndjson) or the HEC token (splunk-hec).",
};

pub const FORWARD_SOURCES: Var = Var {
    name: "AUDITLAKE_FORWARD_SOURCES",
    default: None,
    range: None,
    meaning: "The forwarder: only events of these sources, separated by commas; unset, every source.",
};

pub const FORWARD_OPERATIONS: Var = Var {
    name: "AUDITLAKE_FORWARD_OPERATIONS",
    default: None,
    range: None,
    meaning: "The forwarder: only events with these operations (exact, case-insensitive), separated by commas; unset, every operation.",
};

pub const FORWARD_BATCH: Var = Var {
    name: "AUDITLAKE_FORWARD_BATCH",
    default: Some("500"),
    range: Some((1, 5000)),
    meaning: "The forwarder: at most this many events per request.",
};

pub const CONSOLE_CLIENT_ID: Var = Var {
    name: "AUDITLAKE_CONSOLE_CLIENT_ID",
    default: None,
    range: None,
    meaning: "The web console: application (client) id of the app registration its users sign in with (a single-page application redirect URI to the API's `/`). Without it the console shows that sign-in is not configured.",
};

pub const CONSOLE_AUTHORITY: Var = Var {
    name: "AUDITLAKE_CONSOLE_AUTHORITY",
    default: None,
    range: None,
    meaning: "The web console: the Entra authority users sign in at (`<login>/<tenant>/v2.0`); default the token issuer's login host and tenant. Its origin is the one the console's CSP lets scripts connect to besides the API.",
};

pub const CONSOLE_SCOPES: Var = Var {
    name: "AUDITLAKE_CONSOLE_SCOPES",
    default: None,
    range: None,
    meaning: "The web console: the scopes it asks for, separated by spaces or commas; default `<AUDITLAKE_API_AUDIENCE>/access_as_user`.",
};

pub const LLM_BASE_URL: Var = Var {
    name: "AUDITLAKE_LLM_BASE_URL",
    default: None,
    range: None,
    meaning: "Questions (`POST /ask`, `POST /events/{id}/explain`, the MCP `ask` tool): the OpenAI-compatible chat-completions root, e.g. `https://api.openai.com/v1` or `https://<resource>.openai.azure.com`; its host must be on AUDITLAKE_LLM_ALLOWLIST. Unset: questions are off.",
};

pub const LLM_MODEL: Var = Var {
    name: "AUDITLAKE_LLM_MODEL",
    default: None,
    range: None,
    meaning: "Questions: the model name sent with each request (required with AUDITLAKE_LLM_BASE_URL).",
};

pub const LLM_AZURE_DEPLOYMENT: Var = Var {
    name: "AUDITLAKE_LLM_AZURE_DEPLOYMENT",
    default: None,
    range: None,
    meaning: "Questions on Azure OpenAI: the deployment; requests go to `<base>/openai/deployments/<deployment>/chat/completions?api-version=...` with an `api-key` header.",
};

pub const LLM_AZURE_API_VERSION: Var = Var {
    name: "AUDITLAKE_LLM_AZURE_API_VERSION",
    default: Some("2024-10-21"),
    range: None,
    meaning: "Questions on Azure OpenAI: the `api-version` query parameter.",
};

pub const LLM_KEY_PARAM: Var = Var {
    name: "AUDITLAKE_LLM_KEY_PARAM",
    default: None,
    range: None,
    meaning: "Questions: SSM SecureString parameter holding the API key (sent as `Authorization: Bearer`, or `api-key` on Azure). Unset: no key is sent.",
};

pub const LLM_ALLOWLIST: Var = Var {
    name: "AUDITLAKE_LLM_ALLOWLIST",
    default: None,
    range: None,
    meaning: "Questions: the hosts the chat-completions client may reach (`api.openai.com`, `*.openai.azure.com`), separated by commas; every address a host resolves to must also be public. Local stacks reuse AUDITLAKE_DESTINATIONS_ALLOW_LOOPBACK and AUDITLAKE_DESTINATIONS_CA_FILE.",
};

pub const LLM_MAX_STEPS: Var = Var {
    name: "AUDITLAKE_LLM_MAX_STEPS",
    default: Some("6"),
    range: Some((1, 20)),
    meaning: "Questions: model requests one question may make (each answer may ask for tool calls).",
};

pub const LLM_TIME_BUDGET_SECS: Var = Var {
    name: "AUDITLAKE_LLM_TIME_BUDGET_SECS",
    default: Some("25"),
    range: Some((1, 600)),
    meaning: "Questions: seconds one question may take, model requests and tool calls together (API Gateway ends a request at 30).",
};

pub const LLM_TOKEN_BUDGET: Var = Var {
    name: "AUDITLAKE_LLM_TOKEN_BUDGET",
    default: Some("30000"),
    range: Some((100, 1_000_000)),
    meaning: "Questions: tokens (prompt and completion, as the model reports them in `usage`) one question may spend.",
};

pub const BACKFILL_WINDOW_HOURS: Var = Var {
    name: "AUDITLAKE_BACKFILL_WINDOW_HOURS",
    default: Some("24"),
    range: Some((1, 744)),
    meaning: "Audit search backfill: hours of the unified audit log one query covers at first (a window whose query reaches the record limit is split in halves down to a minute).",
};

pub const BACKFILL_CONCURRENCY: Var = Var {
    name: "AUDITLAKE_BACKFILL_CONCURRENCY",
    default: Some("4"),
    range: Some((1, 10)),
    meaning: "Audit search backfill: queries open at Microsoft at once (the tenant's limit is shared with every other tool that searches the audit log).",
};

pub const BACKFILL_POLL_SECS: Var = Var {
    name: "AUDITLAKE_BACKFILL_POLL_SECS",
    default: Some("30"),
    range: Some((1, 3600)),
    meaning: "Audit search backfill: seconds between looks at the queries still running.",
};

pub const BACKFILL_MAX_ATTEMPTS: Var = Var {
    name: "AUDITLAKE_BACKFILL_MAX_ATTEMPTS",
    default: Some("3"),
    range: Some((1, 20)),
    meaning: "Audit search backfill: queries of one window that may fail before the window is reported as failed in health.",
};
