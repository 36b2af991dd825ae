//! The configuration the code declares (`domain::config::vars`) and the README's tables agree:
//! every variable has a row, and a variable with a single-value default shows that default.

use domain::config::{
    ASK_VARS, BACKFILL_VARS, DETECT_VARS, FORWARD_VARS, NOTIFY_VARS, PULLER_VARS, QUERY_VARS, Var,
};

fn read(rel: &str) -> String {
    std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)).unwrap()
}

/// The README table rows (`| names | default | meaning |`) whose first cell names `var`.
fn rows<'a>(readme: &'a str, var: &Var) -> Vec<(&'a str, &'a str)> {
    readme
        .lines()
        .filter_map(|l| {
            let mut cells = l.strip_prefix('|')?.split('|');
            let (names, default) = (cells.next()?, cells.next()?);
            names
                .contains(&format!("`{}`", var.name))
                .then_some((names.trim(), default.trim()))
        })
        .collect()
}

#[test]
fn every_variable_is_in_the_readme_table() {
    let readme = read("../../README.md");
    for var in PULLER_VARS
        .iter()
        .chain(QUERY_VARS)
        .chain(DETECT_VARS)
        .chain(NOTIFY_VARS)
        .chain(FORWARD_VARS)
        .chain(ASK_VARS)
        .chain(BACKFILL_VARS)
    {
        assert!(
            !rows(&readme, var).is_empty(),
            "{} is missing from README.md's tables",
            var.name
        );
    }
}

#[test]
fn the_readme_shows_each_declared_default() {
    let readme = read("../../README.md");
    for var in PULLER_VARS
        .iter()
        .chain(QUERY_VARS)
        .chain(DETECT_VARS)
        .chain(NOTIFY_VARS)
        .chain(FORWARD_VARS)
        .chain(ASK_VARS)
        .chain(BACKFILL_VARS)
    {
        // A list default ("all four") and derived ones are described in words.
        let Some(default) = var.default.filter(|d| !d.contains(',')) else {
            continue;
        };
        let shown = rows(&readme, var);
        assert!(
            shown
                .iter()
                .any(|(_, cell)| cell.contains(&format!("`{default}`")) || *cell == "as above"),
            "README.md's row for {} does not show its default `{default}`: {shown:?}",
            var.name
        );
    }
}

// Every function's environment and IAM against the code: shared/aws/tests/aws/ (the `aws` tests).
