//! Broken copies of `template.yaml`, each named by the check: an action beyond the calls list, a
//! wildcard action or resource, a missing call, KMS outside its condition, a variable the
//! configuration does not parse (or a required one missing), a function missing from the
//! template or from the calls list, and a role that may tamper with the audit store (its Deny
//! missing or narrowed, a delete allowed).

use crate::check::check;
use crate::support::{broken, functions_dir};

const DIRECTORY_AUDITS_INSERTS: &str = "            - Sid: EventInsertsAndCounters\n              Effect: Allow\n              Action:\n                - dynamodb:PutItem\n                - dynamodb:UpdateItem\n";

#[test]
fn an_action_beyond_the_calls_list_is_named() {
    let t = broken(
        DIRECTORY_AUDITS_INSERTS,
        "            - Sid: EventInsertsAndCounters\n              Effect: Allow\n              Action: [dynamodb:PutItem, dynamodb:UpdateItem, dynamodb:DeleteItem]\n",
    );
    let report = check(&t, &functions_dir());
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    let p = &report.problems[0];
    assert!(
        p.starts_with("pull-entra-directory-audits:")
            && p.contains(
                "dynamodb:DeleteItem on GetAtt EventsTable.Arn if ForAllValues:StringNotLike"
            )
            && p.contains("not in its calls list"),
        "{p}"
    );
}

#[test]
fn a_wildcard_action_or_resource_is_named() {
    let t = broken(
        DIRECTORY_AUDITS_INSERTS,
        "            - Sid: EventInsertsAndCounters\n              Effect: Allow\n              Action: dynamodb:*\n",
    );
    let problems = check(&t, &functions_dir()).problems.join("\n");
    assert!(
        problems.contains("pull-entra-directory-audits: statement EventInsertsAndCounters grants the wildcard action dynamodb:*"),
        "{problems}"
    );
    // The PutItem the code makes on the events table is now missing as well.
    assert!(
        problems.contains("its calls list has dynamodb:PutItem on GetAtt EventsTable.Arn if"),
        "{problems}"
    );

    let t = broken(
        "                - dynamodb:UpdateItem\n              Resource: !GetAtt EventsTable.Arn\n              Condition:",
        "                - dynamodb:UpdateItem\n              Resource: \"*\"\n              Condition:",
    );
    let problems = check(&t, &functions_dir()).problems.join("\n");
    assert!(
        problems.contains("pull-entra-directory-audits: statement EventInsertsAndCounters grants dynamodb:PutItem on every resource (*)"),
        "{problems}"
    );
}

#[test]
fn a_write_to_the_events_table_without_its_leading_keys_condition_is_named() {
    // The puller's condition dropped: it could write annotations.
    let t = broken(
        "              Resource: !GetAtt EventsTable.Arn\n              Condition:\n                ForAllValues:StringNotLike:\n                  dynamodb:LeadingKeys: [\"note#*\"]\n",
        "              Resource: !GetAtt EventsTable.Arn\n",
    );
    let problems = check(&t, &functions_dir()).problems.join("\n");
    assert!(
        problems.contains("pull-entra-directory-audits: IAM grants dynamodb:PutItem on GetAtt EventsTable.Arn, which is not in its calls list"),
        "{problems}"
    );
    // The query API's annotation writes widened from note# items to every item.
    let t = broken(
        "                ForAllValues:StringLike:\n                  dynamodb:LeadingKeys: [\"note#*\"]\n",
        "                ForAllValues:StringLike:\n                  dynamodb:LeadingKeys: [\"*\"]\n",
    );
    let problems = check(&t, &functions_dir()).problems.join("\n");
    assert!(
        problems.contains("query-api: IAM grants dynamodb:UpdateItem on GetAtt EventsTable.Arn if ForAllValues:StringLike dynamodb:LeadingKeys *, which is not in its calls list"),
        "{problems}"
    );
}

#[test]
fn a_missing_call_is_named() {
    let t = broken(
        "                - dynamodb:GetItem\n                - dynamodb:PutItem\n                - dynamodb:UpdateItem\n",
        "                - dynamodb:GetItem\n                - dynamodb:PutItem\n",
    );
    let problems = check(&t, &functions_dir()).problems;
    assert_eq!(
        problems,
        vec![
            "pull-entra-directory-audits: its calls list has dynamodb:UpdateItem on GetAtt \
             StateTable.Arn, which its IAM statements do not grant"
                .to_string()
        ]
    );
}

#[test]
fn kms_outside_its_condition_is_named() {
    let t = broken(
        "            - Sid: EventInsertsAndCounters\n",
        "            - Sid: Kms\n              Effect: Allow\n              Action: kms:GenerateDataKey\n              Resource: !Ref KmsKeyArn\n            - Sid: EventInsertsAndCounters\n",
    );
    let problems = check(&t, &functions_dir()).problems.join("\n");
    assert!(
        problems.contains("pull-entra-directory-audits: kms:GenerateDataKey on Ref KmsKeyArn must be granted only under the UseKmsKey condition"),
        "{problems}"
    );
}

#[test]
fn a_variable_the_configuration_does_not_parse_is_named() {
    let t = broken(
        "          AUDITLAKE_CLOUD: !Ref Cloud\n",
        "          AUDITLAKE_CLOUD: !Ref Cloud\n          AUDITLAKE_COLOUR: blue\n          AUDITLAKE_CONTENT_TYPES: Audit.General\n          AUDITLAKE_GRAPH_URL: http://127.0.0.1:1\n",
    );
    let problems = check(&t, &functions_dir()).problems;
    assert_eq!(
        problems,
        vec![
            "pull-entra-directory-audits: environment sets AUDITLAKE_COLOUR, which its configuration does not parse".to_string(),
            "pull-entra-directory-audits: environment sets AUDITLAKE_CONTENT_TYPES, which its configuration does not parse".to_string(),
            "pull-entra-directory-audits: environment sets AUDITLAKE_GRAPH_URL, which a deployed function must never get".to_string(),
        ]
    );
    let t = broken("          AUDITLAKE_BUCKET: !Ref LakeBucket\n", "");
    let problems = check(&t, &functions_dir()).problems;
    assert_eq!(
        problems,
        vec![
            "pull-entra-directory-audits: environment lacks AUDITLAKE_BUCKET, which its configuration requires"
                .to_string()
        ]
    );
}

#[test]
fn a_function_missing_from_the_template_or_the_calls_list_is_named() {
    let t = broken(
        "        Binary: pull-intune-audit\n",
        "        Binary: pull-intune-audit-v2\n",
    );
    let problems = check(&t, &functions_dir()).problems;
    assert!(problems.contains(&"pull-intune-audit-v2 (PullIntuneAuditFunction): not in the calls list (shared/aws/src/permissions.rs)".to_string()), "{problems:?}");
    assert!(
        problems
            .contains(&"pull-intune-audit: in the calls list but not in template.yaml".to_string()),
        "{problems:?}"
    );
}

const DIRECTORY_AUDITS_DENY: &str =
    "            - Sid: NoTamperingWithTheAuditStore\n              Effect: Deny\n";

#[test]
fn a_role_without_the_tamper_deny_or_with_a_narrower_one_is_named() {
    let t = broken(
        DIRECTORY_AUDITS_DENY,
        "            - Sid: SomethingElse\n              Effect: Deny\n",
    );
    let problems = check(&t, &functions_dir()).problems;
    assert_eq!(
        problems,
        vec![
            "pull-entra-directory-audits: statement SomethingElse is neither Effect: Allow nor \
             the Deny NoTamperingWithTheAuditStore"
                .to_string(),
            "pull-entra-directory-audits: needs exactly one Deny statement \
             NoTamperingWithTheAuditStore (found 0)"
                .to_string(),
        ]
    );

    let t = broken("                - s3:DeleteObjectVersion\n", "");
    let problems = check(&t, &functions_dir()).problems;
    assert_eq!(
        problems,
        vec![
            "pull-entra-directory-audits: statement NoTamperingWithTheAuditStore does not deny \
             s3:DeleteObjectVersion"
                .to_string()
        ]
    );

    let t = broken("                - !Sub \"${AccessLogBucket.Arn}/*\"\n", "");
    let problems = check(&t, &functions_dir()).problems;
    assert_eq!(
        problems,
        vec![
            "pull-entra-directory-audits: statement NoTamperingWithTheAuditStore does not cover \
             Sub ${AccessLogBucket.Arn}/*"
                .to_string()
        ]
    );
}

#[test]
fn an_allowed_delete_of_a_raw_object_is_named() {
    let t = broken(
        "              Action: s3:PutObject\n",
        "              Action: [s3:PutObject, s3:DeleteObject]\n",
    );
    let problems = check(&t, &functions_dir()).problems.join("\n");
    assert!(
        problems.contains(
            "pull-entra-directory-audits: statement RawAndQuarantineWrites allows s3:DeleteObject, \
             which no function may have"
        ),
        "{problems}"
    );
}
