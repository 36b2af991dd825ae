//! The rules the detection function runs: the built-in pack and the tenant's own rules (stored
//! through the query API's `/rules`, in the alerts table's `rules` partition). The tenant's rules
//! are read at start and again when [`REFRESH`] has passed, before a batch; a change rebuilds the
//! detector for the batches after it. A stored rule that no longer loads (written for another
//! version) is skipped with an error in the log, never a reason to stop detecting: the API
//! refuses a rule that does not load, so this is a version change, not a typo.

use std::time::{Duration, Instant};

use detect::{Detector, RuleSet};
use domain::triage::TenantRule;

/// How often the tenant's rules are read again.
pub const REFRESH: Duration = Duration::from_secs(300);

/// The built-in pack with the tenant's rules that load and clash with none before them; the
/// problems of the others, one line each.
pub fn with_tenant_rules(builtin: &RuleSet, tenant: &[TenantRule]) -> (RuleSet, Vec<String>) {
    let mut set = builtin.clone();
    let mut problems = Vec::new();
    for t in tenant {
        let loaded = RuleSet::load([(format!("tenant rule {}", t.id).as_str(), t.yaml.as_str())]);
        match loaded.and_then(|r| set.clone().merge(r)) {
            Ok(merged) => set = merged,
            Err(errors) => problems.push(format!(
                "{}: {}",
                t.id,
                errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            )),
        }
    }
    (set, problems)
}

/// What the tenant's rules were when last read, so an unchanged set does not rebuild anything
/// (the function starts with the pack alone, which is what an empty set gives).
pub struct TenantRules {
    builtin: RuleSet,
    /// `(id, updated_at)` of the rules last read.
    seen: Vec<(String, String)>,
    read_at: Option<Instant>,
}

impl TenantRules {
    pub fn new(builtin: RuleSet) -> Self {
        TenantRules {
            builtin,
            seen: Vec::new(),
            read_at: None,
        }
    }

    /// Whether the rules are due to be read again at `now`.
    pub fn due(&self, now: Instant) -> bool {
        self.read_at
            .is_none_or(|t| now.duration_since(t) >= REFRESH)
    }

    /// Takes a fresh read of the tenant's rules; a detector when they changed since the last.
    pub fn update(&mut self, now: Instant, tenant: &[TenantRule]) -> Option<Detector> {
        self.read_at = Some(now);
        let mut seen: Vec<(String, String)> = tenant
            .iter()
            .map(|t| (t.id.clone(), t.updated_at.clone()))
            .collect();
        seen.sort();
        if seen == self.seen {
            return None;
        }
        self.seen = seen;
        let (set, problems) = with_tenant_rules(&self.builtin, tenant);
        for p in &problems {
            tracing::error!(problem = %p, "A tenant rule does not load; it is skipped.");
        }
        let detector = Detector::new(&set);
        tracing::info!(
            rules = detector.rule_count(),
            tenant = tenant.len() - problems.len(),
            skipped = problems.len(),
            "Rules loaded."
        );
        Some(detector)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(id: &str, at: &str) -> TenantRule {
        TenantRule {
            id: id.into(),
            yaml: format!(
                "title: t\nid: {id}\nlogsource:\n  product: auditlake\n  service: entra-sign-ins\ndetection:\n  s:\n    auditlake.result: failure\n  condition: s\nlevel: low\n"
            ),
            updated_at: at.into(),
            updated_by: "u".into(),
        }
    }

    #[test]
    fn tenant_rules_join_the_pack_and_a_broken_or_clashing_one_is_skipped() {
        let pack = detect::pack::builtin().unwrap();
        let builtin = pack.rules().count();
        let mut broken = rule("tenant-broken", "t1");
        broken.yaml = "title: [".into();
        let clash = rule("signin-device-code", "t1");
        let (set, problems) = with_tenant_rules(
            &pack,
            &[
                rule("tenant-a", "t1"),
                broken,
                clash,
                rule("tenant-b", "t1"),
            ],
        );
        assert_eq!(set.rules().count(), builtin + 2);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with("tenant-broken: "));
        assert!(problems[1].contains("already used"), "{}", problems[1]);
    }

    #[test]
    fn the_detector_is_rebuilt_only_when_the_rules_change() {
        let mut t = TenantRules::new(detect::pack::builtin().unwrap());
        let start = Instant::now();
        assert!(t.due(start));
        // The function starts with the pack alone: no tenant rules, nothing to rebuild.
        assert!(t.update(start, &[]).is_none());
        let builtin = Detector::new(&detect::pack::builtin().unwrap()).rule_count();
        assert!(!t.due(start + Duration::from_secs(10)));
        assert!(t.due(start + REFRESH));
        assert!(t.update(start + REFRESH, &[]).is_none(), "unchanged");
        let d = t
            .update(start + REFRESH, &[rule("tenant-a", "t1")])
            .unwrap();
        assert_eq!(d.rule_count(), builtin + 1);
        assert!(
            t.update(start + REFRESH, &[rule("tenant-a", "t1")])
                .is_none()
        );
        assert!(
            t.update(start + REFRESH, &[rule("tenant-a", "t2")])
                .is_some(),
            "an edit"
        );
    }
}
