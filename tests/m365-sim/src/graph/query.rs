//! Step 5 of the module above: a Graph list request's query (`$filter` with its comparisons and
//! one stream lambda, `$top`, `$orderby`, `$skiptoken`) parsed into a [`ListQuery`], each refusal
//! with Graph's error code.

use super::*;

/// The bounds and order a list request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    /// Inclusive lower bound on the time field (ns).
    pub lo_ns: i64,
    /// Inclusive upper bound on the time field (ns).
    pub hi_ns: i64,
    /// The stream a `<stream property>/any(...)` clause selected, as written.
    pub stream: Option<String>,
    /// The raw `$filter` (echoed into nextLink).
    pub filter: Option<String>,
    /// Page size.
    pub top: usize,
    /// Whether `$top` was given (echoed into nextLink only then).
    pub top_given: bool,
    /// The raw `$orderby` (echoed into nextLink).
    pub orderby: Option<String>,
    /// Direction.
    pub order: Order,
    /// Continuation.
    pub skip: Option<SkipToken>,
}

/// The continuation state inside `$skiptoken`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkipToken {
    /// Virtual time (ns) the page set is pinned to.
    pub as_of_ns: i64,
    /// Direction of the walk.
    pub order: Order,
    /// Time (ns) of the last record served.
    pub last_time_ns: i64,
    /// Id of the last record served.
    pub last_id: String,
}

impl SkipToken {
    /// The opaque wire form.
    pub fn encode(&self) -> String {
        let dir = if self.order == Order::Asc { "a" } else { "d" };
        b64url_encode(
            format!(
                "s1|{}|{dir}|{}|{}",
                self.as_of_ns, self.last_time_ns, self.last_id
            )
            .as_bytes(),
        )
    }

    /// Parses the wire form; `None` if it is not one of ours.
    pub fn decode(s: &str) -> Option<Self> {
        let raw = String::from_utf8(b64_decode(s)?).ok()?;
        let mut parts = raw.splitn(5, '|');
        if parts.next()? != "s1" {
            return None;
        }
        let as_of_ns = parts.next()?.parse().ok()?;
        let order = match parts.next()? {
            "a" => Order::Asc,
            "d" => Order::Desc,
            _ => return None,
        };
        let last_time_ns = parts.next()?.parse().ok()?;
        let last_id = parts.next()?.to_string();
        Some(Self {
            as_of_ns,
            order,
            last_time_ns,
            last_id,
        })
    }
}

/// A refused query: Graph error code and message.
pub(super) type QueryError = (&'static str, String);

pub(super) fn unsupported(msg: String) -> QueryError {
    ("Request_UnsupportedQuery", msg)
}

/// What a `$filter` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// Inclusive lower bound on the time field (ns); `i64::MIN` when unbounded.
    pub lo_ns: i64,
    /// Inclusive upper bound on the time field (ns); `i64::MAX` when unbounded.
    pub hi_ns: i64,
    /// A lower bound was given (`ge`, `gt` or `eq`).
    pub has_lo: bool,
    /// An upper bound was given (`le`, `lt` or `eq`).
    pub has_hi: bool,
    /// The stream named by a `<stream property>/any(t: t eq '<name>')` clause, as written.
    pub stream: Option<String>,
}

impl Default for Filter {
    fn default() -> Self {
        Self {
            lo_ns: i64::MIN,
            hi_ns: i64::MAX,
            has_lo: false,
            has_hi: false,
            stream: None,
        }
    }
}

/// Parses a `$filter` over `field` into inclusive ns bounds.
pub fn parse_filter(filter: &str, field: &str) -> Result<(i64, i64), QueryError> {
    parse_filter_with(filter, field, None).map(|f| (f.lo_ns, f.hi_ns))
}

/// Parses a `$filter`: comparisons on `field` and, when `stream_property` is given, at most one
/// `<stream_property>/any(<v>: <v> eq '<name>')` clause, joined by `and` in any order, each
/// optionally parenthesised.
pub fn parse_filter_with(
    filter: &str,
    field: &str,
    stream_property: Option<&str>,
) -> Result<Filter, QueryError> {
    let mut clauses = Vec::new();
    split_clauses(filter, field, &mut clauses)?;
    let mut out = Filter::default();
    for clause in clauses {
        let head = clause
            .split(|c: char| c.is_whitespace() || c == '/' || c == '(')
            .next()
            .unwrap_or("");
        let rest = clause[head.len()..].trim_start();
        if rest.starts_with('/') {
            let Some(prop) = stream_property.filter(|p| p.eq_ignore_ascii_case(head)) else {
                return Err(unsupported(format!(
                    "Unsupported query: filtering on '{head}' is not supported by this simulator; only '{field}' comparisons joined by 'and' are."
                )));
            };
            let value = parse_any_clause(rest, prop)?;
            if out.stream.replace(value).is_some() {
                return Err(unsupported(format!(
                    "Unsupported query: '{prop}/any(...)' may appear only once; query one {prop} value per request."
                )));
            }
        } else {
            comparison(clause, field, &mut out)?;
        }
    }
    Ok(out)
}

/// Splits `s` into its top-level `and` operands, unwrapping parentheses around any of them.
fn split_clauses<'a>(s: &'a str, field: &str, out: &mut Vec<&'a str>) -> Result<(), QueryError> {
    let s = s.trim();
    if s.is_empty() {
        return Err((
            "BadRequest",
            format!(
                "Invalid filter clause: expected '{field} <ge|gt|le|lt|eq> <DateTimeOffset>' joined by 'and'; an operand is empty."
            ),
        ));
    }
    let parts = split_top_level_and(s)?;
    if parts.len() > 1 {
        for part in parts {
            split_clauses(part, field, out)?;
        }
        return Ok(());
    }
    match strip_parens(s) {
        Some(inner) => split_clauses(inner, field, out),
        None => {
            out.push(s);
            Ok(())
        }
    }
}

/// Splits at every ` and ` (any case, any whitespace) outside parentheses and quotes.
fn split_top_level_and(s: &str) -> Result<Vec<&str>, QueryError> {
    let bytes = s.as_bytes();
    let mut parts = Vec::new();
    let (mut depth, mut quoted, mut from) = (0i32, false, 0usize);
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\'' => quoted = !quoted,
            b'(' if !quoted => depth += 1,
            b')' if !quoted => {
                depth -= 1;
                if depth < 0 {
                    return Err(unbalanced(s));
                }
            }
            b if !quoted && depth == 0 && b.is_ascii_whitespace() => {
                if let Some(word) = bytes.get(i + 1..i + 4)
                    && word.eq_ignore_ascii_case(b"and")
                    && bytes.get(i + 4).is_some_and(u8::is_ascii_whitespace)
                {
                    parts.push(&s[from..i]);
                    from = i + 4;
                    i += 4;
                    continue;
                }
            }
            _ => {}
        }
        i += 1;
    }
    if depth != 0 || quoted {
        return Err(unbalanced(s));
    }
    parts.push(&s[from..]);
    Ok(parts)
}

fn unbalanced(s: &str) -> QueryError {
    (
        "BadRequest",
        format!("Invalid filter clause: unbalanced parentheses or quotes in '{s}'."),
    )
}

/// `(x)` -> `x` when the first parenthesis closes at the very end.
fn strip_parens(s: &str) -> Option<&str> {
    let inner = s.strip_prefix('(')?;
    let mut depth = 1;
    let mut quoted = false;
    for (i, c) in inner.char_indices() {
        match c {
            '\'' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => {
                depth -= 1;
                if depth == 0 {
                    return (i + 1 == inner.len()).then(|| &inner[..i]);
                }
            }
            _ => {}
        }
    }
    None
}

/// One `<field> <op> <value>` comparison, folded into `out`.
fn comparison(clause: &str, field: &str, out: &mut Filter) -> Result<(), QueryError> {
    let tokens: Vec<&str> = clause.split_whitespace().collect();
    let name = tokens.first().copied().unwrap_or("");
    if !name.eq_ignore_ascii_case(field) {
        return Err(unsupported(format!(
            "Unsupported query: filtering on '{name}' is not supported by this simulator; only '{field}' comparisons joined by 'and' are."
        )));
    }
    let (Some(op), Some(value)) = (tokens.get(1), tokens.get(2)) else {
        return Err((
            "BadRequest",
            format!(
                "Invalid filter clause: expected '{field} <ge|gt|le|lt|eq> <DateTimeOffset>' in '{clause}'."
            ),
        ));
    };
    if let Some(extra) = tokens.get(3) {
        return Err(unsupported(format!(
            "Unsupported query: '{extra}' is not supported in $filter; combine '{field}' comparisons with 'and'."
        )));
    }
    let value = value
        .strip_prefix('\'')
        .and_then(|v| v.strip_suffix('\''))
        .unwrap_or(value);
    let t = parse_rfc3339(value).map(to_ns).ok_or_else(|| {
        (
            "BadRequest",
            format!(
                "The DateTimeOffset text '{value}' should be in format 'yyyy-mm-ddThh:mm:ss('.'s+)?(zzzzzz)?' and each field value is within valid range."
            ),
        )
    })?;
    match op.to_ascii_lowercase().as_str() {
        "ge" => out.lo_ns = out.lo_ns.max(t),
        "gt" => out.lo_ns = out.lo_ns.max(t.saturating_add(1)),
        "le" => out.hi_ns = out.hi_ns.min(t),
        "lt" => out.hi_ns = out.hi_ns.min(t.saturating_sub(1)),
        "eq" => {
            out.lo_ns = out.lo_ns.max(t);
            out.hi_ns = out.hi_ns.min(t);
        }
        other => {
            return Err(unsupported(format!(
                "Unsupported query: operator '{other}' is not supported on '{field}'; use ge, gt, le, lt or eq."
            )));
        }
    }
    match op.to_ascii_lowercase().as_str() {
        "ge" | "gt" => out.has_lo = true,
        "le" | "lt" => out.has_hi = true,
        _ => {
            out.has_lo = true;
            out.has_hi = true;
        }
    }
    Ok(())
}

/// Parses `/any(<v>: <v> eq '<value>')` (the text after the property name) into `value`.
fn parse_any_clause(rest: &str, prop: &str) -> Result<String, QueryError> {
    let shape = || {
        unsupported(format!(
            "Unsupported query: use '{prop}/any(t: t eq '<value>')' with exactly one value; query one {prop} value per request."
        ))
    };
    let mut c = Cursor(rest);
    c.eat("/").ok_or_else(shape)?;
    c.skip_ws();
    c.eat_ci("any").ok_or_else(shape)?;
    c.skip_ws();
    c.eat("(").ok_or_else(shape)?;
    c.skip_ws();
    let var = c.ident().ok_or_else(shape)?;
    c.skip_ws();
    c.eat(":").ok_or_else(shape)?;
    c.skip_ws();
    let var2 = c.ident().ok_or_else(shape)?;
    if var2 != var {
        return Err(shape());
    }
    if !c.skip_ws() {
        return Err(shape());
    }
    c.eat_ci("eq").ok_or_else(shape)?;
    if !c.skip_ws() {
        return Err(shape());
    }
    let value = c.quoted().ok_or_else(shape)?;
    c.skip_ws();
    c.eat(")").ok_or_else(shape)?;
    c.skip_ws();
    if !c.0.is_empty() {
        return Err(shape());
    }
    Ok(value)
}

/// A tiny forward-only reader over a clause.
struct Cursor<'a>(&'a str);

impl Cursor<'_> {
    /// Skips whitespace; true if there was any.
    fn skip_ws(&mut self) -> bool {
        let trimmed = self.0.trim_start();
        let skipped = trimmed.len() != self.0.len();
        self.0 = trimmed;
        skipped
    }

    fn eat(&mut self, lit: &str) -> Option<()> {
        self.0 = self.0.strip_prefix(lit)?;
        Some(())
    }

    fn eat_ci(&mut self, lit: &str) -> Option<()> {
        let head = self.0.get(..lit.len())?;
        if !head.eq_ignore_ascii_case(lit) {
            return None;
        }
        self.0 = &self.0[lit.len()..];
        Some(())
    }

    fn ident(&mut self) -> Option<String> {
        let n = self
            .0
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(self.0.len());
        if n == 0 {
            return None;
        }
        let (id, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(id.to_string())
    }

    /// A single-quoted OData string (`''` is a quote).
    fn quoted(&mut self) -> Option<String> {
        let mut rest = self.0.strip_prefix('\'')?;
        let mut value = String::new();
        loop {
            let end = rest.find('\'')?;
            value.push_str(&rest[..end]);
            rest = &rest[end + 1..];
            match rest.strip_prefix('\'') {
                Some(more) => {
                    value.push('\'');
                    rest = more;
                }
                None => break,
            }
        }
        self.0 = rest;
        Some(value)
    }
}

pub(super) fn fmt_days(secs: i64) -> String {
    if secs % 86_400 == 0 {
        (secs / 86_400).to_string()
    } else {
        format!("{:.2}", secs as f64 / 86_400.0)
    }
}

/// Parses the query string of a list request.
pub fn parse_query(raw: Option<&str>, res: &GraphResource) -> Result<ListQuery, QueryError> {
    let mut filter = None;
    let mut top = None;
    let mut skip = None;
    let mut orderby = None;
    for (key, value) in parse_pairs(raw.unwrap_or("")) {
        let name = key.trim().trim_start_matches('$').to_ascii_lowercase();
        let slot = match name.as_str() {
            "filter" => &mut filter,
            "top" => &mut top,
            "skiptoken" => &mut skip,
            "orderby" => &mut orderby,
            "select" | "expand" | "count" | "search" | "skip" | "format" | "apply" | "compute" => {
                return Err(unsupported(format!(
                    "Unsupported query option '${name}' on {}: this simulator supports $filter, $top, $orderby and $skiptoken.",
                    res.path
                )));
            }
            _ => continue,
        };
        if slot.replace(value).is_some() {
            return Err((
                "BadRequest",
                format!(
                    "Query option '${name}' was specified more than once, but it must be specified at most once."
                ),
            ));
        }
    }
    let parsed = match &filter {
        Some(f) => parse_filter_with(f, res.time_field, res.stream_property)?,
        None => Filter::default(),
    };
    let field = res.time_field;
    if res.require_bounds && !(parsed.has_lo && parsed.has_hi) {
        return Err((
            "BadRequest",
            format!(
                "The $filter must bound {field} on both sides, e.g. '{field} ge 2026-07-10T00:00:00Z and {field} le 2026-07-11T00:00:00Z'."
            ),
        ));
    }
    if let Some(max) = res.max_range_secs
        && parsed.has_lo
        && parsed.has_hi
        && parsed.hi_ns.saturating_sub(parsed.lo_ns) > max.saturating_mul(NS_PER_SEC)
    {
        let days =
            parsed.hi_ns.saturating_sub(parsed.lo_ns) as f64 / (86_400.0 * NS_PER_SEC as f64);
        return Err((
            "BadRequest",
            format!(
                "The {field} range of the query spans {days:.2} days, but a query may span at most {} days; split it into windows of at most {} days.",
                fmt_days(max),
                fmt_days(max)
            ),
        ));
    }
    let (lo_ns, hi_ns) = (parsed.lo_ns, parsed.hi_ns);
    let top_given = top.is_some();
    let top = match top {
        None => res.default_top,
        Some(t) => {
            let n: i64 = t.trim().parse().map_err(|_| {
                (
                    "BadRequest",
                    format!("Invalid value '{t}' for $top query option found. The $top query option requires a non-negative integer value."),
                )
            })?;
            if n < 1 || n > res.max_top as i64 {
                return Err((
                    "BadRequest",
                    format!(
                        "Invalid page size specified: '{n}'. Must be between 1 and {} inclusive.",
                        res.max_top
                    ),
                ));
            }
            n as usize
        }
    };
    let order = match orderby.as_deref().map(str::trim) {
        None => Order::Desc,
        Some(o) => {
            let mut parts = o.split_whitespace();
            let field = parts.next().unwrap_or("");
            let dir = parts.next().unwrap_or("asc").to_ascii_lowercase();
            if !field.eq_ignore_ascii_case(res.time_field) || parts.next().is_some() {
                return Err(unsupported(format!(
                    "Unsupported query: $orderby supports only '{} asc' or '{} desc'.",
                    res.time_field, res.time_field
                )));
            }
            match dir.as_str() {
                "asc" => Order::Asc,
                "desc" => Order::Desc,
                _ => {
                    return Err(unsupported(format!(
                        "Unsupported query: unknown $orderby direction '{dir}'."
                    )));
                }
            }
        }
    };
    let skip = match skip {
        None => None,
        Some(s) => {
            let token = SkipToken::decode(s.trim())
                .filter(|t| t.order == order)
                .ok_or_else(|| {
                    (
                        "BadRequest",
                        "Invalid $skiptoken: it was not issued for this query.".to_string(),
                    )
                })?;
            Some(token)
        }
    };
    Ok(ListQuery {
        lo_ns,
        hi_ns,
        stream: parsed.stream,
        filter,
        top,
        top_given,
        orderby,
        order,
        skip,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const RES: GraphResource =
        GraphResource::basic("auditLogs/directoryAudits", "activityDateTime", 100, 1000);

    fn ns(s: &str) -> i64 {
        parse_rfc3339(s).map(to_ns).unwrap_or(0)
    }

    #[test]
    fn filters_parse_in_any_order_with_quotes_and_fractions() {
        let f = "activityDateTime le 2026-07-17T14:00:00.1234567Z and activityDateTime ge '2026-07-17T13:00:00Z'";
        assert_eq!(
            parse_filter(f, "activityDateTime"),
            Ok((
                ns("2026-07-17T13:00:00Z"),
                ns("2026-07-17T14:00:00.1234567Z")
            ))
        );
        let f =
            "activityDateTime gt 2026-07-17T13:00:00Z and activityDateTime lt 2026-07-17T14:00:00Z";
        assert_eq!(
            parse_filter(f, "activityDateTime"),
            Ok((
                ns("2026-07-17T13:00:00Z") + 1,
                ns("2026-07-17T14:00:00Z") - 1
            ))
        );
        let f = "(activityDateTime ge 2026-07-17T13:00:00Z) AND (activityDateTime eq 2026-07-17T13:30:00Z)";
        let t = ns("2026-07-17T13:30:00Z");
        assert_eq!(parse_filter(f, "activityDateTime"), Ok((t, t)));
    }

    #[test]
    fn bad_filters_are_refused_with_graph_codes() {
        let cases = [
            (
                "activityDisplayName eq 'Add user'",
                "Request_UnsupportedQuery",
            ),
            (
                "activityDateTime ne 2026-07-17T13:00:00Z",
                "Request_UnsupportedQuery",
            ),
            (
                "activityDateTime ge 2026-07-17T13:00:00Z or activityDateTime le 2026-07-17T14:00:00Z",
                "Request_UnsupportedQuery",
            ),
            ("activityDateTime ge yesterday", "BadRequest"),
            ("activityDateTime ge", "BadRequest"),
            ("", "BadRequest"),
        ];
        for (f, code) in cases {
            assert_eq!(
                parse_filter(f, "activityDateTime").map_err(|e| e.0),
                Err(code),
                "{f}"
            );
        }
    }

    #[test]
    fn sign_in_event_type_clauses_parse_in_any_form_and_order() {
        let lo = "2026-07-17T10:00:00Z";
        let hi = "2026-07-17T11:00:00Z";
        let forms = [
            format!(
                "createdDateTime ge {lo} and createdDateTime le {hi} and signInEventTypes/any(t: t eq 'nonInteractiveUser')"
            ),
            format!(
                "signInEventTypes/any(t:t eq 'nonInteractiveUser') and createdDateTime ge {lo} and createdDateTime le {hi}"
            ),
            format!(
                "createdDateTime le {hi} AND signInEventTypes/any( x :  x   eq 'nonInteractiveUser' ) and createdDateTime ge {lo}"
            ),
            format!(
                "(createdDateTime ge {lo} and createdDateTime le {hi}) and (signInEventTypes/any(evt: evt eq 'nonInteractiveUser'))"
            ),
            format!(
                "signineventtypes/ANY(t: t EQ 'nonInteractiveUser') and createdDateTime ge '{lo}' and createdDateTime le {hi}"
            ),
        ];
        for f in &forms {
            let parsed = parse_filter_with(f, "createdDateTime", Some("signInEventTypes"));
            assert_eq!(
                parsed,
                Ok(Filter {
                    lo_ns: ns(lo),
                    hi_ns: ns(hi),
                    has_lo: true,
                    has_hi: true,
                    stream: Some("nonInteractiveUser".into()),
                }),
                "{f}"
            );
        }
        let bad = [
            "signInEventTypes/any(t: x eq 'servicePrincipal')",
            "signInEventTypes/any(t: t eq 'servicePrincipal' or t eq 'managedIdentity')",
            "signInEventTypes/any(t: t ne 'servicePrincipal')",
            "signInEventTypes/any(t: t eq servicePrincipal)",
            "signInEventTypes/any(t: t eq 'a') and signInEventTypes/any(t: t eq 'b')",
            "signInEventTypes/all(t: t eq 'servicePrincipal')",
            "appId/any(t: t eq 'x')",
        ];
        for f in bad {
            assert_eq!(
                parse_filter_with(f, "createdDateTime", Some("signInEventTypes")).map_err(|e| e.0),
                Err("Request_UnsupportedQuery"),
                "{f}"
            );
        }
        // Without a stream property the clause is an unsupported property.
        assert!(
            parse_filter_with("signInEventTypes/any(t: t eq 'x')", "createdDateTime", None)
                .is_err()
        );
        assert!(
            parse_filter(
                "(activityDateTime ge 2026-07-17T13:00:00Z",
                "activityDateTime"
            )
            .is_err()
        );
    }

    #[test]
    fn collections_can_require_both_bounds_and_a_short_range() {
        let res = GraphResource {
            require_bounds: true,
            max_range_secs: Some(10 * 86_400),
            ..GraphResource::basic(
                "admin/exchange/tracing/messageTraces",
                "receivedDateTime",
                1000,
                5000,
            )
        };
        let q = |f: &str| {
            parse_query(
                Some(&format!("$filter={}", crate::wire::percent_encode(f))),
                &res,
            )
        };
        assert!(q("receivedDateTime ge 2026-07-01T00:00:00Z and receivedDateTime le 2026-07-11T00:00:00Z").is_ok());
        assert!(q("receivedDateTime gt 2026-07-01T00:00:00Z and receivedDateTime lt 2026-07-02T00:00:00Z").is_ok());
        let too_long = q(
            "receivedDateTime ge 2026-07-01T00:00:00Z and receivedDateTime le 2026-07-11T00:00:00.0000001Z",
        );
        assert!(
            too_long
                .as_ref()
                .is_err_and(|e| e.0 == "BadRequest" && e.1.contains("at most 10 days")),
            "{too_long:?}"
        );
        for one_sided in [
            "receivedDateTime ge 2026-07-01T00:00:00Z",
            "receivedDateTime le 2026-07-01T00:00:00Z",
        ] {
            assert!(
                q(one_sided).is_err_and(|e| e.1.contains("both sides")),
                "{one_sided}"
            );
        }
        assert!(parse_query(None, &res).is_err());
        assert_eq!(
            parse_query(
                Some("$top=5000&$filter=receivedDateTime%20eq%202026-07-01T00:00:00Z"),
                &res
            )
            .map(|q| q.top),
            Ok(5000)
        );
        assert!(
            parse_query(
                Some("$top=5001&$filter=receivedDateTime%20eq%202026-07-01T00:00:00Z"),
                &res
            )
            .is_err()
        );
    }

    #[test]
    fn top_bounds_and_duplicates() {
        assert_eq!(
            parse_query(Some("$top=1000"), &RES).map(|q| q.top),
            Ok(1000)
        );
        assert_eq!(parse_query(None, &RES).map(|q| q.top), Ok(100));
        assert!(parse_query(Some("$top=1001"), &RES).is_err());
        assert!(parse_query(Some("$top=0"), &RES).is_err());
        assert!(parse_query(Some("$top=abc"), &RES).is_err());
        assert!(parse_query(Some("$top=5&$top=6"), &RES).is_err());
        assert!(parse_query(Some("$select=id"), &RES).is_err());
        assert_eq!(
            parse_query(Some("$orderby=activityDateTime%20asc"), &RES).map(|q| q.order),
            Ok(Order::Asc)
        );
    }

    #[test]
    fn skiptokens_round_trip_and_reject_junk() {
        let t = SkipToken {
            as_of_ns: 42,
            order: Order::Desc,
            last_time_ns: -7,
            last_id: "Directory_x|y_ABCDE_12345678".into(),
        };
        assert_eq!(SkipToken::decode(&t.encode()), Some(t));
        assert_eq!(SkipToken::decode("garbage!"), None);
        assert_eq!(SkipToken::decode("Zm9v"), None);
    }
}
