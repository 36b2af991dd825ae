//! The real `template.yaml` agrees with the code, and a function whose crate is not in this
//! checkout is skipped with a message, then checked like any other once its crate exists.

use aws::permissions;
use domain::model::Source;

use crate::check::check;
use crate::support::{functions_dir, real_template};

#[test]
fn the_template_matches_the_calls_list_and_the_configuration() {
    let report = check(&real_template(), &functions_dir());
    for s in &report.skipped {
        eprintln!("skipped {s}");
    }
    assert!(
        report.problems.is_empty(),
        "template.yaml disagrees with the code:\n  {}",
        report.problems.join("\n  ")
    );
    let backfill = permissions::backfill().name;
    assert!(
        report.checked.iter().any(|c| c == backfill),
        "{backfill} was not checked: {report:?}"
    );
    for s in Source::ALL {
        let name = permissions::puller(s).name;
        assert!(
            report.checked.iter().any(|c| c == name),
            "{name} was not checked: {report:?}"
        );
    }
}

#[test]
fn a_function_without_its_crate_is_skipped_with_a_message_and_checked_once_it_exists() {
    let dir = tempfile::tempdir().unwrap();
    for s in Source::ALL {
        std::fs::create_dir(dir.path().join(permissions::puller(s).name)).unwrap();
    }
    for f in [
        permissions::backfill(),
        permissions::detector(),
        permissions::notifier(),
        permissions::forwarder(),
    ] {
        std::fs::create_dir(dir.path().join(f.name)).unwrap();
    }
    let template = real_template();
    let report = check(&template, dir.path());
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(report.skipped.len(), 1, "{:?}", report.skipped);
    assert!(
        report.skipped[0].starts_with("query-api: functions/query-api is not in this checkout"),
        "{:?}",
        report.skipped
    );

    // With its crate present the query API is checked like any other function.
    std::fs::create_dir(dir.path().join("query-api")).unwrap();
    let report = check(&template, dir.path());
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert!(report.checked.iter().any(|c| c == "query-api"));
    let t = template.replacen(
        "                - dynamodb:BatchGetItem\n                - dynamodb:Query\n",
        "                - dynamodb:BatchGetItem\n                - dynamodb:Query\n                - dynamodb:Scan\n",
        1,
    );
    let problems = check(&t, dir.path()).problems;
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].starts_with("query-api: IAM grants dynamodb:Scan"));
}
