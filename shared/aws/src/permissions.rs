//! The AWS calls each deployed function makes, in one place: the template's IAM statements are
//! checked against this list (`shared/aws/tests/aws/`), no more and no less. Pure data: no AWS
//! SDK here. When an adapter in [`crate`] starts making a new call, add it here and to
//! `template.yaml` in the same change; the check fails until both agree.
//!
//! Not listed, because the code does not make them: what SAM attaches to every function's role
//! (`AWSLambdaBasicExecutionRole` for its logs; `sqs:SendMessage` on the dead-letter queue for the
//! pullers' asynchronous-invocation failure destination). KMS for SSM SecureString parameters is
//! not needed either: the parameters use the AWS managed key `aws/ssm`, which SSM uses on the
//! caller's behalf, so no function is granted `kms:Decrypt` for them.

use domain::model::Source;

/// The `Sid` of the Deny statement every function's role carries (template.yaml).
pub const TAMPER_SID: &str = "NoTamperingWithTheAuditStore";

/// What no function may do to the lake bucket or its access-log bucket, their objects included:
/// delete an object or a version, change or bypass a retention or legal hold, or change the
/// bucket's configuration (policy, versioning, Object Lock, logging, lifecycle, encryption,
/// replication, deletion). Every role denies exactly these on both buckets, so a policy attached
/// later cannot grant them; no call in [`all`] may be one of them (`*` matches any suffix, as in
/// IAM). Lifecycle expiry is S3's own doing and is not affected.
pub const TAMPER_ACTIONS: &[&str] = &[
    "s3:DeleteObject",
    "s3:DeleteObjectVersion",
    "s3:PutObjectRetention",
    "s3:PutObjectLegalHold",
    "s3:BypassGovernanceRetention",
    "s3:PutBucket*",
    "s3:DeleteBucket*",
    "s3:PutLifecycleConfiguration",
    "s3:PutEncryptionConfiguration",
    "s3:PutReplicationConfiguration",
];

/// Whether `action` is one of [`TAMPER_ACTIONS`] (IAM matching: case-insensitive, a trailing
/// `*` matches any suffix).
pub fn is_tampering(action: &str) -> bool {
    let action = action.to_ascii_lowercase();
    TAMPER_ACTIONS.iter().any(|pattern| {
        let pattern = pattern.to_ascii_lowercase();
        match pattern.strip_suffix('*') {
            Some(prefix) => action.starts_with(prefix),
            None => action == pattern,
        }
    })
}

/// What a call acts on, named the way the template names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Resource {
    /// Objects under `raw/source=<source>/` (every content type and partition below it).
    RawPrefix(Source),
    /// Objects under `raw/` (every source).
    AllRaw,
    /// Objects under `quarantine/source=<source>/`.
    QuarantinePrefix(Source),
    /// Objects under `curated/source=<source>/` (the Parquet layer Athena reads).
    CuratedPrefix(Source),
    /// The events table itself (`AUDITLAKE_EVENTS_TABLE`).
    EventsTable,
    /// The events table's items outside the `note#` partitions: events, presence markers,
    /// counters (IAM: the table under `ForAllValues:StringNotLike dynamodb:LeadingKeys note#*`).
    IngestItems,
    /// The events table's `note#` partitions only: tags and comments (IAM: the table under
    /// `ForAllValues:StringLike dynamodb:LeadingKeys note#*`).
    AnnotationItems,
    /// One global secondary index of the events table.
    EventsIndex(&'static str),
    /// The state table (`AUDITLAKE_STATE_TABLE`): checkpoints, health, the content ledger.
    StateTable,
    /// The function's own Entra credential parameter: the client secret or, for certificate
    /// auth, the certificate (`AUDITLAKE_CLIENT_SECRET_PARAM` / `AUDITLAKE_CLIENT_CERT_PARAM`).
    CredentialParameter,
    /// The query API's cursor-sealing key parameter (`AUDITLAKE_CURSOR_KEY_PARAM`).
    CursorKeyParameter,
    /// The SSM parameter holding the questions' model API key.
    LlmKeyParameter,
    /// The customer managed KMS key of the bucket, only when the stack is given one.
    BucketKmsKey,
    /// Objects under `curated/` (every source): what the hunting queries read through Athena.
    AllCurated,
    /// Objects under `athena-results/`: the workgroup's query results.
    AthenaResults,
    /// The lake bucket itself (bucket-level calls: listing, its region).
    LakeBucket,
    /// The stack's Athena workgroup.
    AnalyticsWorkGroup,
    /// The account's Glue Data Catalog (every Glue call on a database or table names it too).
    GlueCatalog,
    /// The stack's Glue database.
    GlueDatabase,
    /// The tables and views of the stack's Glue database.
    GlueTables,
    /// The alerts table (`AUDITLAKE_ALERTS_TABLE`): alerts and threshold-window members.
    AlertsTable,
    /// The alerts table's listing index (`by_month`).
    AlertsIndex,
    /// The alerts table's `alert#` partitions only: the alerts (IAM: the table under
    /// `ForAllValues:StringLike dynamodb:LeadingKeys alert#*`).
    AlertItems,
    /// The alerts table's comment and rule partitions only (IAM: the table under
    /// `ForAllValues:StringLike dynamodb:LeadingKeys acomment#*,rules`).
    AlertNoteItems,
    /// The events table's stream (new items, NEW_IMAGE), which the detection function's event
    /// source mapping reads with the function's role.
    EventsStream,
    /// The queue where stream batches that keep failing are recorded (the event source
    /// mapping's on-failure destination).
    DetectionDeadLetters,
    /// The alerts table's stream (new alerts), which the notifier's mapping reads.
    AlertsStream,
    /// The alerts table's delivery partitions only: markers and channel health (IAM: the table
    /// under `ForAllValues:StringLike dynamodb:LeadingKeys delivery,dlv#*`).
    DeliveryItems,
    /// The stack's alert topic (`AUDITLAKE_ALERT_TOPIC_ARN`).
    AlertTopic,
    /// The webhook signing key parameter (`AUDITLAKE_WEBHOOK_SECRET_PARAM`).
    WebhookSecretParameter,
    /// The forwarder's key or token parameter (`AUDITLAKE_FORWARD_SECRET_PARAM`).
    ForwardSecretParameter,
    /// The notifier's on-failure queue.
    NotifyDeadLetters,
    /// The forwarder's on-failure queue.
    ForwardDeadLetters,
}

/// One API call a function makes, on the resources it makes it on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// `service:Action`, as IAM spells it.
    pub action: &'static str,
    pub resources: Vec<Resource>,
    /// Where in the code, and why.
    pub why: &'static str,
}

/// A deployed function and its calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionCalls {
    /// Crate and binary name: `functions/<name>`, `BuildProperties.Binary`.
    pub name: &'static str,
    /// The source it pulls, for a puller.
    pub source: Option<Source>,
    pub calls: Vec<Call>,
}

impl FunctionCalls {
    /// Every `(action, resource)` pair, sorted.
    pub fn grants(&self) -> Vec<(&'static str, Resource)> {
        let mut out: Vec<(&'static str, Resource)> = self
            .calls
            .iter()
            .flat_map(|c| c.resources.iter().map(move |r| (c.action, *r)))
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

/// The calls of a pull function (`functions/pull-<source>`), from the adapters in
/// [`crate`] that the pipeline, the doctor and the source use.
pub fn puller(source: Source) -> FunctionCalls {
    let mut calls = vec![
        Call {
            action: "s3:PutObject",
            resources: vec![
                Resource::RawPrefix(source),
                Resource::QuarantinePrefix(source),
                Resource::CuratedPrefix(source),
            ],
            why: "S3RawStore::put: raw pages and quarantined records (keys::raw_key, keys::quarantine_key); \
                  curated Parquet files (CuratingEventStore, curated::curated_key)",
        },
        Call {
            action: "kms:GenerateDataKey",
            resources: vec![Resource::BucketKmsKey],
            why: "PutObject under SSE-KMS, when the bucket has a customer key",
        },
        Call {
            action: "dynamodb:PutItem",
            resources: vec![Resource::IngestItems, Resource::StateTable],
            why: "DynamoEventStore::put_new (conditional put = dedupe), presence markers and actor \
                  top lists (aws::counters); health records and content-ledger entries in the \
                  state table",
        },
        Call {
            action: "dynamodb:Query",
            resources: vec![Resource::EventsTable],
            why: "DynamoEventStore::stored_keys: which of a batch's events are stored already \
                  (keys only, per hour bucket), so a re-read costs no write",
        },
        Call {
            action: "dynamodb:GetItem",
            resources: vec![Resource::StateTable, Resource::EventsTable],
            why: "DynamoStateStore: the checkpoint (lease lost) and the health record it updates; \
                  an actor top list before its rewrite (aws::counters)",
        },
        Call {
            action: "dynamodb:UpdateItem",
            resources: vec![Resource::IngestItems, Resource::StateTable],
            why: "DynamoStateStore: acquire, advance and release the checkpoint lease; the query \
                  API's per-day counters, bumped for each newly stored event (aws::counters)",
        },
        Call {
            action: "ssm:GetParameters",
            resources: vec![Resource::CredentialParameter],
            why: "SsmParameters::get_secure: the client secret or certificate, with decryption",
        },
    ];
    if source == Source::M365Activity {
        calls.push(Call {
            action: "dynamodb:BatchGetItem",
            resources: vec![Resource::StateTable],
            why: "DynamoLedger::seen: which Management API blobs are already stored",
        });
    }
    FunctionCalls {
        name: source_function_name(source),
        source: Some(source),
        calls,
    }
}

/// The query API's calls (`functions/query-api`, adapters in `aws::query` and `aws::athena`):
/// events by time, actor and IP; one event with its tags and comments; annotations; source
/// health; the cursor key; the raw record of an event kept by reference (records over 300 KB);
/// hunting queries through Athena; alerts (listing, triage, comments) and the tenant's rules.
pub fn query_api() -> FunctionCalls {
    let indexes = [
        domain::store::keys::ACTOR_INDEX,
        domain::store::keys::IP_INDEX,
    ];
    // The state table: the audit search backfill's jobs (`GET /sources`, BackfillStore::list).
    let mut query_on = vec![Resource::EventsTable, Resource::StateTable];
    query_on.extend(indexes.iter().map(|i| Resource::EventsIndex(i)));
    FunctionCalls {
        name: "query-api",
        source: None,
        calls: vec![
            Call {
                action: "dynamodb:Query",
                resources: query_on,
                why: "event searches on the table's hour buckets and the actor and IP indexes; \
                      an event's annotations (its note# partition); the backfill's jobs in the \
                      state table (GET /sources)",
            },
            Call {
                action: "dynamodb:GetItem",
                resources: vec![Resource::EventsTable, Resource::StateTable],
                why: "whether an event exists (annotations, the health ping); a stream's health",
            },
            Call {
                action: "dynamodb:BatchGetItem",
                resources: vec![Resource::EventsTable],
                why: "full events behind the keys-only actor and IP indexes",
            },
            Call {
                action: "dynamodb:PutItem",
                resources: vec![Resource::AnnotationItems],
                why: "comments",
            },
            Call {
                action: "dynamodb:UpdateItem",
                resources: vec![Resource::AnnotationItems],
                why: "tags",
            },
            Call {
                action: "dynamodb:GetItem",
                resources: vec![Resource::AlertsTable],
                why: "DynamoTriageStore: one alert; whether an alert exists (a comment)",
            },
            Call {
                action: "dynamodb:Query",
                resources: vec![Resource::AlertsTable, Resource::AlertsIndex],
                why: "DynamoTriageStore: the listing (by_month), an alert's comments, the \
                      tenant's rules",
            },
            Call {
                action: "dynamodb:UpdateItem",
                resources: vec![Resource::AlertItems],
                why: "DynamoTriageStore::update: an alert's status and assignee",
            },
            Call {
                action: "dynamodb:PutItem",
                resources: vec![Resource::AlertNoteItems],
                why: "DynamoTriageStore: alert comments, tenant rules",
            },
            Call {
                action: "dynamodb:DeleteItem",
                resources: vec![Resource::AlertNoteItems],
                why: "DynamoTriageStore::delete_rule",
            },
            Call {
                action: "ssm:GetParameters",
                resources: vec![Resource::CursorKeyParameter],
                why: "the key that seals paging cursors",
            },
            Call {
                action: "ssm:GetParameters",
                resources: vec![Resource::LlmKeyParameter],
                why: "mcp::wiring::asker: the model's API key, when questions are on",
            },
            Call {
                action: "athena:StartQueryExecution",
                resources: vec![Resource::AnalyticsWorkGroup],
                why: "AthenaEngine::run: a hunting query with its ExecutionParameters                       (POST /analytics/{query})",
            },
            Call {
                action: "athena:GetQueryExecution",
                resources: vec![Resource::AnalyticsWorkGroup],
                why: "AthenaEngine::run: polls until the query finishes",
            },
            Call {
                action: "athena:GetQueryResults",
                resources: vec![Resource::AnalyticsWorkGroup],
                why: "AthenaEngine::run: pages the result rows",
            },
            Call {
                action: "athena:StopQueryExecution",
                resources: vec![Resource::AnalyticsWorkGroup],
                why: "AthenaEngine::run: stops a query past the time limit",
            },
            // Athena reads the catalog and S3 with the caller's credentials (forward access
            // sessions), so these follow from StartQueryExecution.
            Call {
                action: "glue:GetDatabase",
                resources: vec![Resource::GlueCatalog, Resource::GlueDatabase],
                why: "Athena resolves the query's database",
            },
            Call {
                action: "glue:GetTable",
                resources: vec![
                    Resource::GlueCatalog,
                    Resource::GlueDatabase,
                    Resource::GlueTables,
                ],
                why: "Athena reads the views' and tables' definitions (partition projection \
                      lives in the table properties)",
            },
            Call {
                action: "glue:GetPartitions",
                resources: vec![
                    Resource::GlueCatalog,
                    Resource::GlueDatabase,
                    Resource::GlueTables,
                ],
                why: "Athena asks for a partitioned table's partitions while planning (none are \
                      registered: projection computes them)",
            },
            Call {
                action: "s3:GetBucketLocation",
                resources: vec![Resource::LakeBucket],
                why: "Athena checks the data's and the results' bucket",
            },
            Call {
                action: "s3:ListBucket",
                resources: vec![Resource::LakeBucket],
                why: "Athena lists the curated partitions' objects",
            },
            Call {
                action: "s3:GetObject",
                resources: vec![
                    Resource::AllRaw,
                    Resource::AllCurated,
                    Resource::AthenaResults,
                ],
                why: "S3RawStore::get: the raw record of an event kept by reference (raw_ref, \
                      GET /events/{id}); Athena reads the curated Parquet files and, for \
                      GetQueryResults, the results",
            },
            Call {
                action: "s3:PutObject",
                resources: vec![Resource::AthenaResults],
                why: "Athena writes the query's results to the workgroup's location",
            },
            Call {
                action: "s3:AbortMultipartUpload",
                resources: vec![Resource::AthenaResults],
                why: "Athena cleans up a results upload that failed",
            },
            Call {
                action: "kms:Decrypt",
                resources: vec![Resource::BucketKmsKey],
                why: "reading raw and curated objects written under the bucket's customer key, \
                      when it has one, and the query results Athena encrypts with it",
            },
            Call {
                action: "kms:GenerateDataKey",
                resources: vec![Resource::BucketKmsKey],
                why: "Athena writes the results with the caller's credentials, SSE-KMS under the \
                      customer key when the bucket has one (the workgroup's encryption)",
            },
        ],
    }
}

/// The detection function's calls (`functions/detect-events`, `alerting` over `aws::alerts`):
/// the raw records of new events, alerts put once, threshold windows; and what its event source
/// mapping does with its role (read the events table's stream, record a failed batch).
pub fn detector() -> FunctionCalls {
    let mut calls = vec![
        Call {
            action: "s3:GetObject",
            resources: vec![Resource::AllRaw],
            why: "S3RawStore::get: the raw object of a batch's events, once per object \
                      (rules match the raw record's own fields)",
        },
        Call {
            action: "kms:Decrypt",
            resources: vec![Resource::BucketKmsKey],
            why: "reading raw objects written under the bucket's customer key, when it has one",
        },
        Call {
            action: "dynamodb:PutItem",
            resources: vec![Resource::AlertsTable],
            why: "DynamoAlertStore::put_new (an alert once, attribute_not_exists) and \
                      DynamoWindowStore::add_and_read (a window member once)",
        },
        Call {
            action: "dynamodb:Query",
            resources: vec![Resource::AlertsTable],
            why: "DynamoWindowStore: a threshold group's members in its window; \
                      aws::triage::list_rules: the tenant's rules",
        },
        Call {
            action: "dynamodb:UpdateItem",
            resources: vec![Resource::AlertsTable],
            why: "DynamoWindowStore::spend: members counted in an alert",
        },
    ];
    calls.extend(stream_mapping(
        Resource::EventsStream,
        Resource::DetectionDeadLetters,
    ));
    FunctionCalls {
        name: "detect-events",
        source: None,
        calls,
    }
}

/// What an event source mapping on a DynamoDB stream does with the function's role: read the
/// stream, and record a batch that keeps failing in its on-failure queue.
fn stream_mapping(stream: Resource, dead_letters: Resource) -> Vec<Call> {
    let read = "the event source mapping reads the stream with the function's role";
    let mut calls: Vec<Call> = [
        "dynamodb:DescribeStream",
        "dynamodb:GetShardIterator",
        "dynamodb:GetRecords",
        "dynamodb:ListStreams",
    ]
    .into_iter()
    .map(|action| Call {
        action,
        resources: vec![stream],
        why: read,
    })
    .collect();
    calls.push(Call {
        action: "sqs:SendMessage",
        resources: vec![dead_letters],
        why: "the event source mapping records a batch that keeps failing (its on-failure \
              destination)",
    });
    calls
}

/// The delivery markers and channel health both delivery functions keep
/// (`aws::deliveries::DynamoDeliveries`).
fn delivery_log() -> Vec<Call> {
    vec![
        Call {
            action: "dynamodb:GetItem",
            resources: vec![Resource::DeliveryItems],
            why: "DynamoDeliveries::delivered: whether a delivery id already went out",
        },
        Call {
            action: "dynamodb:PutItem",
            resources: vec![Resource::DeliveryItems],
            why: "DynamoDeliveries::mark_delivered: the marker after a receiver accepted",
        },
        Call {
            action: "dynamodb:UpdateItem",
            resources: vec![Resource::DeliveryItems],
            why: "DynamoDeliveries::record: the channel's health counters",
        },
    ]
}

/// The notifier's calls (`functions/notify-alerts`, `delivery::notify`): the signing key, the
/// topic, its markers and health; its mapping reads the alerts table's stream.
pub fn notifier() -> FunctionCalls {
    let mut calls = vec![
        Call {
            action: "ssm:GetParameters",
            resources: vec![Resource::WebhookSecretParameter],
            why: "delivery::lambda::notifier: the webhook signing key, once per container",
        },
        Call {
            action: "sns:Publish",
            resources: vec![Resource::AlertTopic],
            why: "SnsTopic::publish: each new alert once",
        },
    ];
    calls.extend(delivery_log());
    calls.extend(stream_mapping(
        Resource::AlertsStream,
        Resource::NotifyDeadLetters,
    ));
    FunctionCalls {
        name: "notify-alerts",
        source: None,
        calls,
    }
}

/// The forwarder's calls (`functions/forward-events`, `delivery::forward`): the raw records of
/// new events, its key or token, its markers and health; its mapping reads the events table's
/// stream.
pub fn forwarder() -> FunctionCalls {
    let mut calls = vec![
        Call {
            action: "s3:GetObject",
            resources: vec![Resource::AllRaw],
            why: "S3RawStore::get: forwarded events carry their raw records",
        },
        Call {
            action: "kms:Decrypt",
            resources: vec![Resource::BucketKmsKey],
            why: "reading raw objects written under the bucket's customer key, when it has one",
        },
        Call {
            action: "ssm:GetParameters",
            resources: vec![Resource::ForwardSecretParameter],
            why: "delivery::lambda::forwarder: the HMAC key or HEC token, once per container",
        },
    ];
    calls.extend(delivery_log());
    calls.extend(stream_mapping(
        Resource::EventsStream,
        Resource::ForwardDeadLetters,
    ));
    FunctionCalls {
        name: "forward-events",
        source: None,
        calls,
    }
}

/// The calls of the audit search backfill (`functions/backfill-audit-search`): the
/// m365-activity puller's writes (it stores through that source's path), and its jobs in the
/// state table (`aws::backfill`), without the checkpoint lease, health or content ledger.
pub fn backfill() -> FunctionCalls {
    let source = Source::M365Activity;
    let calls = vec![
        Call {
            action: "s3:PutObject",
            resources: vec![
                Resource::RawPrefix(source),
                Resource::QuarantinePrefix(source),
                Resource::CuratedPrefix(source),
            ],
            why: "S3RawStore::put: the m365-activity raw pages and quarantined records of each \
                  backfilled page; curated Parquet files (CuratingEventStore)",
        },
        Call {
            action: "kms:GenerateDataKey",
            resources: vec![Resource::BucketKmsKey],
            why: "PutObject under SSE-KMS, when the bucket has a customer key",
        },
        Call {
            action: "dynamodb:PutItem",
            resources: vec![Resource::IngestItems, Resource::StateTable],
            why: "DynamoEventStore::put_new (conditional put = dedupe against the Management \
                  API's records), presence markers and top lists; BackfillStore::save (a versioned \
                  conditional put of the job)",
        },
        Call {
            action: "dynamodb:Query",
            resources: vec![Resource::EventsTable, Resource::StateTable],
            why: "DynamoEventStore::stored_keys; BackfillStore::list (the tenant's jobs)",
        },
        Call {
            action: "dynamodb:GetItem",
            resources: vec![Resource::StateTable, Resource::EventsTable],
            why: "BackfillStore::load (the job and its version); a top list before its rewrite",
        },
        Call {
            action: "dynamodb:UpdateItem",
            resources: vec![Resource::IngestItems],
            why: "the query API's per-day counters, bumped for each newly stored event \
                  (aws::counters)",
        },
        Call {
            action: "ssm:GetParameters",
            resources: vec![Resource::CredentialParameter],
            why: "SsmParameters::get_secure: the client secret or certificate, with decryption",
        },
    ];
    FunctionCalls {
        name: "backfill-audit-search",
        source: None,
        calls,
    }
}

/// Every deployed function, pullers first.
pub fn all() -> Vec<FunctionCalls> {
    let mut out: Vec<FunctionCalls> = Source::ALL.iter().map(|s| puller(*s)).collect();
    out.push(backfill());
    out.push(query_api());
    out.push(detector());
    out.push(notifier());
    out.push(forwarder());
    out
}

/// `pull-<source name>`.
pub fn source_function_name(source: Source) -> &'static str {
    match source {
        Source::EntraDirectoryAudits => "pull-entra-directory-audits",
        Source::EntraSignIns => "pull-entra-sign-ins",
        Source::IntuneAudit => "pull-intune-audit",
        Source::ExchangeMessageTrace => "pull-exchange-message-trace",
        Source::EntraRiskDetections => "pull-entra-risk-detections",
        Source::EntraProvisioning => "pull-entra-provisioning",
        Source::DefenderAlerts => "pull-defender-alerts",
        Source::M365Activity => "pull-m365-activity",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_sources_and_no_action_is_a_wildcard() {
        for f in all() {
            if let Some(s) = f.source {
                assert_eq!(f.name, format!("pull-{}", s.name()));
            }
            for c in &f.calls {
                assert!(!c.action.contains('*'), "{}: {}", f.name, c.action);
                assert!(c.action.contains(':'), "{}: {}", f.name, c.action);
                assert!(!c.resources.is_empty(), "{}: {}", f.name, c.action);
            }
        }
    }

    #[test]
    fn no_function_makes_a_call_that_could_tamper_with_the_audit_store() {
        for f in all() {
            for c in &f.calls {
                assert!(!is_tampering(c.action), "{}: {}", f.name, c.action);
            }
        }
        // The matching is IAM's: exact names, a trailing wildcard, any case.
        assert!(is_tampering("s3:DeleteObjectVersion"));
        assert!(is_tampering("s3:putbucketpolicy"));
        assert!(is_tampering("s3:PutBucketObjectLockConfiguration"));
        assert!(is_tampering("s3:DeleteBucket"));
        assert!(!is_tampering("s3:PutObject"));
        assert!(!is_tampering("s3:DeleteObjectTagging"));
    }

    #[test]
    fn no_function_writes_both_events_and_annotations() {
        // Ingestion writes events and never annotations; the query API writes annotations and
        // never an event (issue 12: a stolen API token or a hostile record cannot rewrite the
        // audit trail in DynamoDB).
        let writes = [
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
        ];
        for f in all() {
            let grants = f.grants();
            let writes_to = |r: Resource| writes.iter().any(|w| grants.contains(&(*w, r)));
            assert!(
                !writes_to(Resource::EventsTable),
                "{}: unscoped write",
                f.name
            );
            assert!(
                !(writes_to(Resource::IngestItems) && writes_to(Resource::AnnotationItems)),
                "{}",
                f.name
            );
            // Only the query API annotates; the detection function writes neither.
            assert_eq!(
                writes_to(Resource::AnnotationItems),
                f.name == query_api().name,
                "{}",
                f.name
            );
            if f.name == detector().name {
                assert!(
                    !writes_to(Resource::IngestItems),
                    "detection writes no event"
                );
            }
        }
    }

    #[test]
    fn only_the_management_api_puller_reads_the_ledger_in_batches() {
        for s in Source::ALL {
            let batch = puller(s)
                .grants()
                .contains(&("dynamodb:BatchGetItem", Resource::StateTable));
            assert_eq!(batch, s == Source::M365Activity, "{s:?}");
        }
    }
}
