//! CloudFormation YAML as JSON: short tags (`!Ref`, `!GetAtt`, `!Sub`, `!If`, ...) turned into
//! their long form, the branches of `Fn::If`, and resource expressions rendered as one string.

use serde_json::{Map, Value};

/// Parses a CloudFormation YAML template, turning short tags into their long form: `!Ref X` ->
/// `{"Ref": "X"}`, `!GetAtt A.B` -> `{"Fn::GetAtt": ["A", "B"]}`, `!Sub s` -> `{"Fn::Sub": s}`.
pub fn parse(text: &str) -> Result<Value, String> {
    let doc: serde_yaml::Value = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
    Ok(untag(doc))
}

fn untag(v: serde_yaml::Value) -> Value {
    use serde_yaml::Value as Y;
    match v {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => serde_json::from_str(&n.to_string()).unwrap_or(Value::Null),
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(untag).collect()),
        Y::Mapping(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                let key = match untag(k) {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                out.insert(key, untag(v));
            }
            Value::Object(out)
        }
        Y::Tagged(t) => {
            let tag = t.tag.to_string();
            let name = tag.trim_start_matches('!');
            let inner = untag(t.value);
            let mut out = Map::new();
            match name {
                "Ref" => {
                    out.insert("Ref".into(), inner);
                }
                "GetAtt" => {
                    let parts = match inner {
                        Value::String(s) => match s.split_once('.') {
                            Some((a, b)) => vec![Value::from(a), Value::from(b)],
                            None => vec![Value::from(s)],
                        },
                        other => return json_fn("GetAtt", other),
                    };
                    out.insert("Fn::GetAtt".into(), Value::Array(parts));
                }
                other => {
                    out.insert(format!("Fn::{other}"), inner);
                }
            }
            Value::Object(out)
        }
    }
}

fn json_fn(name: &str, v: Value) -> Value {
    let mut m = Map::new();
    m.insert(format!("Fn::{name}"), v);
    Value::Object(m)
}

fn is_no_value(v: &Value) -> bool {
    v.get("Ref").and_then(Value::as_str) == Some("AWS::NoValue")
}

/// The alternatives an expression can take: both branches of `Fn::If` (without `AWS::NoValue`),
/// each with the conditions that select it.
pub fn branches(v: &Value, conds: &[String]) -> Vec<(Value, Vec<String>)> {
    if let Some(args) = v.get("Fn::If").and_then(Value::as_array)
        && args.len() == 3
    {
        let cond = args[0].as_str().unwrap_or("?").to_string();
        let mut yes = conds.to_vec();
        yes.push(cond.clone());
        let mut no = conds.to_vec();
        no.push(format!("!{cond}"));
        let mut out = branches(&args[1], &yes);
        out.extend(branches(&args[2], &no));
        return out;
    }
    if is_no_value(v) {
        return Vec::new();
    }
    vec![(v.clone(), conds.to_vec())]
}

/// A resource expression as one string: `"*"`, `"Ref KmsKeyArn"`, `"GetAtt EventsTable.Arn"`,
/// `"Sub ${LakeBucket.Arn}/raw/*"`.
pub fn render(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Object(m) if m.len() == 1 => {
            let (k, inner) = m.iter().next().unwrap();
            let name = k.trim_start_matches("Fn::");
            match (name, inner) {
                ("GetAtt", Value::Array(parts)) => format!(
                    "GetAtt {}",
                    parts
                        .iter()
                        .map(|p| p.as_str().unwrap_or("?"))
                        .collect::<Vec<_>>()
                        .join(".")
                ),
                (_, Value::String(s)) => format!("{name} {s}"),
                (_, other) => format!("{name} {other}"),
            }
        }
        other => other.to_string(),
    }
}

#[test]
fn short_tags_parse_into_their_long_form() {
    let v = parse(
        "A: !Ref X\nB: !GetAtt T.Arn\nC: !Sub \"${T.Arn}/x\"\nD: !If [C, !Ref Y, !Ref AWS::NoValue]\nE: !Join [\",\", [a, b]]\n",
    )
    .unwrap();
    assert_eq!(v["A"], serde_json::json!({"Ref": "X"}));
    assert_eq!(v["B"], serde_json::json!({"Fn::GetAtt": ["T", "Arn"]}));
    assert_eq!(render(&v["C"]), "Sub ${T.Arn}/x");
    let b = branches(&v["D"], &[]);
    assert_eq!(
        b,
        vec![(serde_json::json!({"Ref": "Y"}), vec!["C".to_string()])]
    );
    assert_eq!(v["E"], serde_json::json!({"Fn::Join": [",", ["a", "b"]]}));
}
