//! Each function's environment as a deployed stack gives it (issue 13): `template.yaml`'s
//! `Environment.Variables` resolved the way CloudFormation would (`Ref` of a parameter, `Fn::If`
//! on the template's conditions, `Fn::Join`, `Fn::Sub`, `AWS::NoValue`), with the example
//! parameter values a user deploys with as the README documents them (a plain group object id in
//! `ApiAllowedGroups`, some sign-in kinds and content types switched off, a shorter hot
//! retention), then parsed by the function's own configuration: `PullerConfig` for a puller,
//! `BackfillConfig` for the audit search backfill, `QueryConfig` for the query API. A stack deployed as documented must start, and must get the
//! settings it was deployed with; a planted mismatch is caught. And every template parameter has
//! its row in README's deploy table.

use std::collections::BTreeMap;

use aws::permissions;
use chrono::TimeDelta;
use domain::access::Role;
use domain::config::{PullerConfig, QueryConfig};
use domain::stream::{ContentType, SignInKind};
use serde_json::Value;

use crate::cfn::parse;
use crate::support::{broken, real_template};

/// Example answers to the guided deploy (README, "Deploy"): the required parameters, and the
/// optional ones a user is likely to change, as the README says to write them.
const EXAMPLE: [(&str, &str); 8] = [
    ("TenantId", "8f3c5a2e-6b1d-4c9e-a7f0-2d4b6e8a1c35"),
    ("ClientId", "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9"),
    ("ApiAudience", "5d6e7f80-9102-4324-8546-7a8b9c0d1e2f"),
    ("ApiAllowedGroups", "a1b2c3d4-0000-4000-8000-00000000000a"),
    ("HotRetentionDays", "30"),
    ("SignInKinds", "interactiveUser,servicePrincipal"),
    ("ContentTypes", "Audit.Exchange,Audit.General"),
    ("CorsAllowedOrigins", "https://console.contoso.example"),
];

/// A function's binary and its resolved environment.
type Environment = (String, Vec<(String, String)>);

/// A template and the parameter values it is resolved with.
struct Stack {
    doc: Value,
    params: BTreeMap<String, String>,
}

impl Stack {
    fn new(template: &str) -> Stack {
        let doc = parse(template).expect("template.yaml parses");
        let mut params: BTreeMap<String, String> = doc["Parameters"]
            .as_object()
            .expect("Parameters")
            .iter()
            .filter_map(|(k, p)| {
                let d = match p.get("Default")? {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                Some((k.clone(), d))
            })
            .collect();
        for (k, v) in EXAMPLE {
            assert!(
                doc["Parameters"].get(k).is_some(),
                "the example sets {k}, which the template does not declare"
            );
            params.insert(k.into(), v.into());
        }
        Stack { doc, params }
    }

    fn is_list(&self, param: &str) -> bool {
        self.doc["Parameters"][param]["Type"]
            .as_str()
            .is_some_and(|t| t.starts_with("CommaDelimitedList") || t.starts_with("List<"))
    }

    /// A `Ref`: a parameter's value, a pseudo parameter, or a resource's logical id (its name).
    fn reference(&self, name: &str) -> Result<String, String> {
        if let Some(v) = self.params.get(name) {
            return Ok(v.clone());
        }
        match name {
            "AWS::Region" => Ok("us-east-1".into()),
            "AWS::Partition" => Ok("aws".into()),
            "AWS::AccountId" => Ok("123456789012".into()),
            "AWS::StackName" => Ok("auditlake".into()),
            _ if self.doc["Parameters"].get(name).is_some() => Err(format!(
                "parameter {name} has no default and no example value"
            )),
            _ if self.doc["Resources"].get(name).is_some() => Ok(name.to_string()),
            _ => Err(format!("`Ref {name}` names nothing")),
        }
    }

    fn condition(&self, name: &str) -> Result<bool, String> {
        let c = self.doc["Conditions"]
            .get(name)
            .ok_or_else(|| format!("no condition {name}"))?;
        self.truth(c)
    }

    fn truth(&self, v: &Value) -> Result<bool, String> {
        let args = |k: &str| v.get(k).and_then(Value::as_array);
        if let Some(a) = args("Fn::Equals") {
            return Ok(self.value(&a[0])? == self.value(&a[1])?);
        }
        if let Some(a) = args("Fn::Not") {
            return Ok(!self.truth(&a[0])?);
        }
        if let Some(a) = args("Fn::And") {
            return a.iter().try_fold(true, |acc, c| Ok(acc && self.truth(c)?));
        }
        if let Some(a) = args("Fn::Or") {
            return a.iter().try_fold(false, |acc, c| Ok(acc || self.truth(c)?));
        }
        if let Some(name) = v.get("Condition").and_then(Value::as_str) {
            return self.condition(name);
        }
        Err(format!("cannot evaluate condition {v}"))
    }

    /// A value as CloudFormation resolves it; `None` for `AWS::NoValue`.
    fn resolve(&self, v: &Value) -> Result<Option<String>, String> {
        match v {
            Value::String(s) => Ok(Some(s.clone())),
            Value::Number(n) => Ok(Some(n.to_string())),
            Value::Bool(b) => Ok(Some(b.to_string())),
            Value::Object(m) if m.len() == 1 => {
                let (k, arg) = m.iter().next().unwrap();
                match k.as_str() {
                    "Ref" if arg == "AWS::NoValue" => Ok(None),
                    "Ref" => self.reference(arg.as_str().unwrap_or("?")).map(Some),
                    "Fn::If" => {
                        let a = arg.as_array().ok_or("Fn::If takes a list")?;
                        let branch = if self.condition(a[0].as_str().unwrap_or("?"))? {
                            &a[1]
                        } else {
                            &a[2]
                        };
                        self.resolve(branch)
                    }
                    "Fn::Join" => {
                        let a = arg.as_array().ok_or("Fn::Join takes a list")?;
                        let sep = a[0].as_str().unwrap_or("");
                        let items: Vec<String> = match &a[1] {
                            Value::Array(items) => items
                                .iter()
                                .map(|i| self.value(i))
                                .collect::<Result<_, _>>()?,
                            Value::Object(r) if r.contains_key("Ref") => {
                                let name = r["Ref"].as_str().unwrap_or("?");
                                if !self.is_list(name) {
                                    return Err(format!("Fn::Join over {name}, not a list"));
                                }
                                self.reference(name)?
                                    .split(',')
                                    .map(str::to_string)
                                    .collect()
                            }
                            other => return Err(format!("cannot join {other}")),
                        };
                        Ok(Some(items.join(sep)))
                    }
                    "Fn::Sub" => {
                        let mut s = arg.as_str().ok_or("Fn::Sub with variables")?.to_string();
                        while let Some(i) = s.find("${") {
                            let j = s[i..].find('}').ok_or("unclosed ${")? + i;
                            let name = &s[i + 2..j];
                            let value = if name.contains('.') {
                                name.to_string()
                            } else {
                                self.reference(name)?
                            };
                            s.replace_range(i..=j, &value);
                        }
                        Ok(Some(s))
                    }
                    "Fn::GetAtt" => Ok(Some(
                        arg.as_array()
                            .map(|p| {
                                p.iter()
                                    .filter_map(Value::as_str)
                                    .collect::<Vec<_>>()
                                    .join(".")
                            })
                            .unwrap_or_default(),
                    )),
                    other => Err(format!("{other} is not resolved by this test")),
                }
            }
            other => Err(format!("cannot resolve {other}")),
        }
    }

    fn value(&self, v: &Value) -> Result<String, String> {
        self.resolve(v)?
            .ok_or_else(|| "AWS::NoValue where a value is needed".into())
    }

    /// Each deployed function's binary and environment.
    fn environments(&self) -> Result<Vec<Environment>, String> {
        let mut out = Vec::new();
        for (logical, res) in self.doc["Resources"].as_object().expect("Resources") {
            if res["Type"] != "AWS::Serverless::Function" {
                continue;
            }
            if let Some(c) = res.get("Condition").and_then(Value::as_str)
                && !self.condition(c)?
            {
                continue;
            }
            let binary = res
                .pointer("/Metadata/BuildProperties/Binary")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("{logical}: no binary"))?;
            let mut vars = Vec::new();
            let env = res
                .pointer("/Properties/Environment/Variables")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            for (k, v) in &env {
                if let Some(value) = self.resolve(v).map_err(|e| format!("{logical}.{k}: {e}"))? {
                    vars.push((k.clone(), value));
                }
            }
            out.push((binary.to_string(), vars));
        }
        Ok(out)
    }
}

/// What each function makes of its resolved environment: one line per problem.
fn problems(template: &str) -> Vec<String> {
    let stack = Stack::new(template);
    let envs = match stack.environments() {
        Ok(e) => e,
        Err(e) => return vec![e],
    };
    let mut problems = Vec::new();
    let want_kinds = [SignInKind::InteractiveUser, SignInKind::ServicePrincipal];
    let want_types = [ContentType::Exchange, ContentType::General];
    let mut query_checked = false;
    for (binary, vars) in envs {
        let Some(f) = permissions::all().into_iter().find(|f| f.name == binary) else {
            problems.push(format!("{binary}: not in the calls list"));
            continue;
        };
        let mut expect = |ok: bool, what: &str| {
            if !ok {
                problems.push(format!("{binary}: {what}"));
            }
        };
        match f.source {
            Some(source) => match PullerConfig::from_vars(vars) {
                Ok(c) => {
                    expect(
                        c.hot_retention == TimeDelta::days(30),
                        "HotRetentionDays not passed",
                    );
                    if source == domain::model::Source::EntraSignIns {
                        expect(c.signin_kinds == want_kinds, "SignInKinds not passed");
                    }
                    if source == domain::model::Source::M365Activity {
                        expect(c.content_types == want_types, "ContentTypes not passed");
                    }
                }
                Err(e) => expect(false, &format!("does not start: {e}")),
            },
            None if binary == aws::permissions::backfill().name => {
                match domain::config::BackfillConfig::from_vars(vars) {
                    Ok(c) => {
                        expect(
                            c.puller.hot_retention == TimeDelta::days(30),
                            "HotRetentionDays not passed",
                        );
                        expect(
                            c.puller.cloud == domain::cloud::Cloud::Commercial,
                            "the cloud not passed",
                        );
                    }
                    Err(e) => expect(false, &format!("does not start: {e}")),
                }
            }
            None if binary == aws::permissions::detector().name => {
                match domain::config::DetectConfig::from_vars(vars) {
                    Ok(c) => expect(
                        c.alert_retention_days == 365,
                        "AlertRetentionDays not passed",
                    ),
                    Err(e) => expect(false, &format!("does not start: {e}")),
                }
            }
            None if binary == aws::permissions::notifier().name => {
                match domain::config::NotifyConfig::from_vars(vars) {
                    Ok(c) => {
                        expect(c.topic_arn.is_some(), "the alert topic not passed");
                        expect(
                            c.min_severity == domain::alert::Severity::Low,
                            "NotifyMinSeverity not passed",
                        );
                    }
                    Err(e) => expect(false, &format!("does not start: {e}")),
                }
            }
            None if binary == aws::permissions::forwarder().name => {
                match domain::config::ForwardConfig::from_vars(vars) {
                    Ok(c) => expect(c.batch == 500, "the forwarder's batch"),
                    Err(e) => expect(false, &format!("does not start: {e}")),
                }
            }
            None => {
                query_checked = true;
                match QueryConfig::from_vars(vars) {
                    Ok(c) => {
                        expect(
                            c.hot_retention == TimeDelta::days(30),
                            "HotRetentionDays not passed (listings would reach back further)",
                        );
                        expect(
                            c.signin_kinds == want_kinds,
                            "SignInKinds not passed (/sources would list streams that are off)",
                        );
                        expect(
                            c.content_types == want_types,
                            "ContentTypes not passed (/sources would list streams that are off)",
                        );
                        expect(
                            c.allowed_groups
                                == [("a1b2c3d4-0000-4000-8000-00000000000a".into(), Role::Read)],
                            "ApiAllowedGroups as documented does not grant read",
                        );
                        expect(c.audience.is_some(), "no audience");
                    }
                    Err(e) => expect(false, &format!("does not start: {e}")),
                }
            }
        }
    }
    if !query_checked {
        problems.push("no query API function in the template".into());
    }
    problems
}

#[test]
fn every_function_starts_with_the_settings_a_documented_deploy_gives_it() {
    let p = problems(&real_template());
    assert!(
        p.is_empty(),
        "template.yaml as deployed:\n  {}",
        p.join("\n  ")
    );
}

#[test]
fn a_planted_mismatch_between_template_and_configuration_is_caught() {
    // The query API no longer told the hot retention: listings reach back the code's 90 days.
    let p = problems(&broken(
        "          # How far back a listing reaches, and which streams /sources lists: as the pullers.\n          AUDITLAKE_HOT_RETENTION_DAYS: !Ref HotRetentionDays\n",
        "",
    ));
    assert!(
        p.iter()
            .any(|l| l.contains("query-api") && l.contains("HotRetentionDays")),
        "{p:?}"
    );
    // A value the configuration refuses: the function would not start.
    let p = problems(&broken(
        "AUDITLAKE_ALLOWED_GROUPS: !If [HasAllowedGroups, !Ref ApiAllowedGroups, !Ref AWS::NoValue]",
        "AUDITLAKE_ALLOWED_GROUPS: !Sub \"${ApiAllowedGroups}=owner\"",
    ));
    assert!(
        p.iter()
            .any(|l| l.contains("does not start") && l.contains("AUDITLAKE_ALLOWED_GROUPS")),
        "{p:?}"
    );
}

/// The template parameters README's deploy table ("The parameters asked for") does not name.
fn undocumented_parameters(template: &str, readme: &str) -> Vec<String> {
    let doc = parse(template).expect("template.yaml parses");
    let start = readme
        .find("The parameters asked for")
        .expect("README's deploy parameter table");
    let rows: String = readme[start..]
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .filter_map(|l| l.split('|').nth(1))
        .collect::<Vec<_>>()
        .join(" ");
    doc["Parameters"]
        .as_object()
        .expect("Parameters")
        .keys()
        .filter(|p| !rows.contains(&format!("`{p}`")))
        .cloned()
        .collect()
}

#[test]
fn every_template_parameter_is_in_the_readmes_deploy_table() {
    let readme = std::fs::read_to_string(crate::support::root().join("README.md")).unwrap();
    let missing = undocumented_parameters(&real_template(), &readme);
    assert!(
        missing.is_empty(),
        "README's deploy table omits {missing:?}"
    );
    // A parameter added without a row is named.
    let planted = broken(
        "\nParameters:\n",
        "\nParameters:\n  PlantedKnob:\n    Type: String\n    Default: x\n",
    );
    assert_eq!(undocumented_parameters(&planted, &readme), ["PlantedKnob"]);
}

/// The query API's questions configuration in a stack deployed with `extra` parameters.
fn questions_with(extra: &[(&str, &str)]) -> Result<Option<domain::config::AskConfig>, String> {
    let mut stack = Stack::new(&real_template());
    for (k, v) in extra {
        assert!(
            stack.doc["Parameters"].get(*k).is_some(),
            "the template does not declare {k}"
        );
        stack.params.insert((*k).into(), (*v).into());
    }
    let (_, vars) = stack
        .environments()?
        .into_iter()
        .find(|(binary, _)| binary == permissions::query_api().name)
        .ok_or("no query API function")?;
    domain::config::AskConfig::from_vars(vars).map_err(|e| e.to_string())
}

#[test]
fn questions_are_off_in_a_default_stack_and_on_with_the_llm_parameters() {
    assert_eq!(questions_with(&[]), Ok(None));
    let on = questions_with(&[
        ("LlmBaseUrl", "https://contoso.openai.azure.com"),
        ("LlmModel", "gpt-4o"),
        ("LlmAzureDeployment", "soc-gpt4o"),
        ("LlmAllowlist", "*.openai.azure.com"),
    ])
    .expect("the query API starts with questions on")
    .expect("questions on");
    assert_eq!(on.base_url, "https://contoso.openai.azure.com");
    assert_eq!(on.model, "gpt-4o");
    assert!(on.azure.is_some(), "LlmAzureDeployment not passed");
    // The key's parameter is the one the function's grant names (the calls check holds the grant).
    assert_eq!(on.key_param.as_deref(), Some("/auditlake/llm-key"));
    // A base URL off the allow-list: the function would not start, and says why.
    let off_list = questions_with(&[
        ("LlmBaseUrl", "https://llm.example.net/v1"),
        ("LlmModel", "m"),
        ("LlmAllowlist", "api.openai.com"),
    ]);
    assert!(
        off_list
            .as_ref()
            .is_err_and(|e| e.contains("AUDITLAKE_LLM_BASE_URL")),
        "{off_list:?}"
    );
}
