//! The configuration the code parses, the README's table and the template agree.

use domain::config::{PULLER_VARS, QUERY_VARS};

fn read(rel: &str) -> String {
    std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)).unwrap()
}

#[test]
fn every_variable_is_in_the_readme_table() {
    let readme = read("../../README.md");
    for (var, _, _) in PULLER_VARS.iter().chain(QUERY_VARS) {
        assert!(
            readme.contains(&format!("`{var}`")),
            "{var} is missing from README.md"
        );
    }
}

// Every function's environment and IAM against the code: shared/aws/tests/aws/ (the `aws` tests).
