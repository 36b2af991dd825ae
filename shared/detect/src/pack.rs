//! The built-in pack: the rule files under `infra/detections/rules/`, embedded in the binary so
//! a deployed function and the CLI carry the same rules without a file system. A test checks
//! this list against the directory, so a rule file cannot be added without being shipped.

use crate::rule::{RuleError, RuleSet};

/// `(path from the repository root, text)` of each built-in rule file.
pub const FILES: &[(&str, &str)] = &[
    (
        "infra/detections/rules/audit-app-credential-added.yml",
        include_str!("../../../infra/detections/rules/audit-app-credential-added.yml"),
    ),
    (
        "infra/detections/rules/audit-conditional-access-weakened.yml",
        include_str!("../../../infra/detections/rules/audit-conditional-access-weakened.yml"),
    ),
    (
        "infra/detections/rules/audit-federation-changed.yml",
        include_str!("../../../infra/detections/rules/audit-federation-changed.yml"),
    ),
    (
        "infra/detections/rules/audit-mfa-removed.yml",
        include_str!("../../../infra/detections/rules/audit-mfa-removed.yml"),
    ),
    (
        "infra/detections/rules/audit-oauth-consent.yml",
        include_str!("../../../infra/detections/rules/audit-oauth-consent.yml"),
    ),
    (
        "infra/detections/rules/audit-privileged-role-assigned.yml",
        include_str!("../../../infra/detections/rules/audit-privileged-role-assigned.yml"),
    ),
    (
        "infra/detections/rules/intune-device-wipe.yml",
        include_str!("../../../infra/detections/rules/intune-device-wipe.yml"),
    ),
    (
        "infra/detections/rules/m365-audit-disabled.yml",
        include_str!("../../../infra/detections/rules/m365-audit-disabled.yml"),
    ),
    (
        "infra/detections/rules/m365-compliance-alert.yml",
        include_str!("../../../infra/detections/rules/m365-compliance-alert.yml"),
    ),
    (
        "infra/detections/rules/m365-dlp-high.yml",
        include_str!("../../../infra/detections/rules/m365-dlp-high.yml"),
    ),
    (
        "infra/detections/rules/m365-ediscovery.yml",
        include_str!("../../../infra/detections/rules/m365-ediscovery.yml"),
    ),
    (
        "infra/detections/rules/m365-external-sharing.yml",
        include_str!("../../../infra/detections/rules/m365-external-sharing.yml"),
    ),
    (
        "infra/detections/rules/m365-inbox-rule-forwarding.yml",
        include_str!("../../../infra/detections/rules/m365-inbox-rule-forwarding.yml"),
    ),
    (
        "infra/detections/rules/m365-mailbox-forwarding.yml",
        include_str!("../../../infra/detections/rules/m365-mailbox-forwarding.yml"),
    ),
    (
        "infra/detections/rules/m365-mass-download.yml",
        include_str!("../../../infra/detections/rules/m365-mass-download.yml"),
    ),
    (
        "infra/detections/rules/signin-device-code.yml",
        include_str!("../../../infra/detections/rules/signin-device-code.yml"),
    ),
    (
        "infra/detections/rules/signin-failed-password.yml",
        include_str!("../../../infra/detections/rules/signin-failed-password.yml"),
    ),
    (
        "infra/detections/rules/signin-high-risk.yml",
        include_str!("../../../infra/detections/rules/signin-high-risk.yml"),
    ),
    (
        "infra/detections/rules/signin-legacy-auth.yml",
        include_str!("../../../infra/detections/rules/signin-legacy-auth.yml"),
    ),
    (
        "infra/detections/rules/signin-ropc-no-mfa.yml",
        include_str!("../../../infra/detections/rules/signin-ropc-no-mfa.yml"),
    ),
];

/// The built-in rules.
pub fn builtin() -> Result<RuleSet, Vec<RuleError>> {
    RuleSet::load(FILES.iter().copied())
}
