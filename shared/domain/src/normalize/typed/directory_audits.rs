//! The typed reading of a Graph `directoryAudit` record: the AuditEvent that
//! `super::super::entra_directory_audits::normalize` makes from a `Value`, rule for rule (actor,
//! targets, modified properties, additional details, result), written as JSON from structs that
//! borrow the line, in the field order of `crate::model::AuditEvent` and with `details` keys in
//! the sorted order of its `serde_json::Map`. A record that rule would refuse (no time, a bad
//! time, no activity) or that has no id (its dedupe key is then a hash of the whole record,
//! sorted) is left to the `Value` path.

use super::scan::Scan;
use super::{ABSENT, Arr, Obj, Pooled, Read, Skip, Text, Writer, fields, quoted, recycle};
use std::borrow::Cow;

use super::time;
use crate::model::{ActorKind, EventResult, Source};
use crate::normalize::{dedupe_key_of_id, result_of};
use crate::store::keys;

// Each struct's keys are in the order Graph writes them, so that each key is found where it is
// foreseen (`Fields::KEYS`); keys read only to be skipped (`Skip`) are there for that too.
fields! {
    /// The record: every key `entra_directory_audits::normalize` reads. `value`, `records` and
    /// `properties` would make the input reader see a list response or an envelope instead.
    Record {
        id: Text<'de> = "id",
        category: Text<'de> = "category",
        correlation_id: Text<'de> = "correlationId",
        result: Text<'de> = "result",
        result_reason: Text<'de> = "resultReason",
        activity_display_name: Text<'de> = "activityDisplayName",
        activity_date_time: Text<'de> = "activityDateTime",
        logged_by_service: Text<'de> = "loggedByService",
        operation_type: Text<'de> = "operationType",
        initiated_by: Obj<InitiatedBy<'de>> = "initiatedBy",
        target_resources: Arr<Obj<TargetResource<'de>>> = "targetResources",
        additional_details: Arr<Obj<KeyValue<'de>>> = "additionalDetails",
    }
    guards &["value", "records", "properties"]
}

fields! {
    InitiatedBy {
        user: Obj<User<'de>> = "user",
        app: Obj<App<'de>> = "app",
    }
}

fields! {
    User {
        id: Text<'de> = "id",
        display_name: Text<'de> = "displayName",
        user_principal_name: Text<'de> = "userPrincipalName",
        ip_address: Text<'de> = "ipAddress",
        user_type: Text<'de> = "userType",
        home_tenant_id: Text<'de> = "homeTenantId",
        home_tenant_name: Skip = "homeTenantName",
    }
}

fields! {
    App {
        app_id: Text<'de> = "appId",
        display_name: Text<'de> = "displayName",
        service_principal_id: Text<'de> = "servicePrincipalId",
        service_principal_name: Text<'de> = "servicePrincipalName",
    }
}

fields! {
    /// `type` and `Type` are both read (the `Value` rule tries one, then the other).
    TargetResource {
        id: Text<'de> = "id",
        display_name: Text<'de> = "displayName",
        kind: Text<'de> = "type",
        user_principal_name: Text<'de> = "userPrincipalName",
        group_type: Skip = "groupType",
        modified_properties: Arr<Obj<ModifiedProperty<'de>>> = "modifiedProperties",
        kind_capitalised: Text<'de> = "Type",
    }
}

fields! {
    ModifiedProperty {
        display_name: Text<'de> = "displayName",
        old_value: Text<'de> = "oldValue",
        new_value: Text<'de> = "newValue",
    }
}

fields! {
    KeyValue {
        key: Text<'de> = "key",
        value: Text<'de> = "value",
    }
}

/// The vectors of a record's arrays, emptied, kept from one record to the next
/// (`super::Scratch`): the vectors' types name the lifetime of the lines read, so the pool is
/// relabelled (`Pool::relabel`, which moves nothing) for each buffer of lines.
#[derive(Default)]
pub struct Pool<'a> {
    targets: Vec<Vec<Obj<TargetResource<'a>>>>,
    properties: Vec<Vec<Obj<ModifiedProperty<'a>>>>,
    details: Vec<Vec<Obj<KeyValue<'a>>>>,
    /// `write_event`'s list of additional details (relabelled there, as it borrows the record).
    additional: Vec<(Cow<'static, str>, usize)>,
}

impl<'a> Pool<'a> {
    /// The same vectors, for records of other lines.
    pub(super) fn relabel<'b>(self) -> Pool<'b> {
        fn all<T, U>(v: Vec<Vec<T>>) -> Vec<Vec<U>> {
            v.into_iter().map(recycle).collect()
        }
        Pool {
            targets: all(self.targets),
            properties: all(self.properties),
            details: all(self.details),
            additional: self.additional,
        }
    }
}

impl<'a> Pooled<'a> for Obj<TargetResource<'a>> {
    fn stack<'p>(pool: &'p mut Pool<'a>) -> &'p mut Vec<Vec<Self>> {
        &mut pool.targets
    }
}

impl<'a> Pooled<'a> for Obj<ModifiedProperty<'a>> {
    fn stack<'p>(pool: &'p mut Pool<'a>) -> &'p mut Vec<Vec<Self>> {
        &mut pool.properties
    }
}

impl<'a> Pooled<'a> for Obj<KeyValue<'a>> {
    fn stack<'p>(pool: &'p mut Pool<'a>) -> &'p mut Vec<Vec<Self>> {
        &mut pool.details
    }
}

/// `crate::model::Actor`, borrowed.
struct Actor<'a, 'de> {
    kind: ActorKind,
    id: &'a Text<'de>,
    upn: &'a Text<'de>,
    name: &'a Text<'de>,
    app_id: &'a Text<'de>,
}

/// `a` when it is present, else `b`.
fn or<'a, 'de>(a: &'a Text<'de>, b: &'a Text<'de>) -> &'a Text<'de> {
    if a.is_some() { a } else { b }
}

/// The actor and the client IP, as `entra_directory_audits`'s `actor` finds them.
fn actor<'a, 'de>(initiated_by: Option<&'a InitiatedBy<'de>>) -> (Actor<'a, 'de>, &'a Text<'de>) {
    let user = initiated_by.and_then(|i| i.user.0.as_ref());
    if let Some(u) = user
        && (u.id.is_some() || u.user_principal_name.is_some())
    {
        return (
            Actor {
                kind: ActorKind::User,
                id: &u.id,
                upn: &u.user_principal_name,
                name: &u.display_name,
                app_id: &ABSENT,
            },
            &u.ip_address,
        );
    }
    let app = initiated_by.and_then(|i| i.app.0.as_ref());
    if let Some(a) = app
        && (a.service_principal_id.is_some() || a.app_id.is_some() || a.display_name.is_some())
    {
        return (
            Actor {
                kind: ActorKind::App,
                id: &a.service_principal_id,
                upn: &ABSENT,
                name: or(&a.display_name, &a.service_principal_name),
                app_id: &a.app_id,
            },
            &ABSENT,
        );
    }
    (
        Actor {
            kind: ActorKind::System,
            id: &ABSENT,
            upn: &ABSENT,
            name: &ABSENT,
            app_id: &ABSENT,
        },
        &ABSENT,
    )
}

/// Appends a `details` key (`"key":`, with a comma before it unless it is the first).
fn key(out: &mut Vec<u8>, first: &mut bool, key: &[u8]) {
    if !std::mem::take(first) {
        out.push(b',');
    }
    out.extend_from_slice(key);
}

/// The name a target is shown by: its display name, else its UPN.
fn target_name<'a, 'de>(t: &'a TargetResource<'de>) -> &'a Text<'de> {
    or(&t.display_name, &t.user_principal_name)
}

/// Appends the event line of `line` to `out`, or says `false` (leaving `out` as it was) for the
/// `Value` path to read the record.
pub(super) fn write<'a>(
    line: &'a [u8],
    w: &Writer,
    out: &mut Vec<u8>,
    pool: &mut Pool<'a>,
) -> bool {
    let mut scan = Scan::new(line);
    if scan.peek() != Some(b'{') {
        return false;
    }
    let Ok(Obj(Some(v))) = Obj::<Record<'_>>::read(&mut scan, pool) else {
        return false;
    };
    let taken = scan.at_end() && write_event(line, &v, w, out, &mut pool.additional);
    // The record's vectors go back to the pool for the next one.
    let Record {
        target_resources,
        additional_details,
        ..
    } = v;
    let mut targets = target_resources;
    for t in targets.0.iter_mut().filter_map(|t| t.0.as_mut()) {
        std::mem::take(&mut t.modified_properties).give(pool);
    }
    targets.give(pool);
    additional_details.give(pool);
    taken
}

/// Writes the event of record `v` (line `line`), or says `false` (writing nothing).
fn write_event<'a>(
    line: &[u8],
    v: &Record<'a>,
    w: &Writer,
    out: &mut Vec<u8>,
    spare: &mut Vec<(Cow<'static, str>, usize)>,
) -> bool {
    let Some(time) = v.activity_date_time.get().and_then(|t| time::parse(&t)) else {
        return false;
    };
    let (Some(record_id), true) = (v.id.get(), v.activity_display_name.is_some()) else {
        return false;
    };
    // Nothing below refuses the record: the line is written whole.
    // The id itself when it is URL-safe (as Graph's are), else a hash of it.
    let dedupe_key = if keys::is_dedupe_key(&record_id) {
        record_id
    } else {
        Cow::Owned(dedupe_key_of_id(&record_id))
    };
    let initiated_by = v.initiated_by.0.as_ref();
    let user = initiated_by.and_then(|i| i.user.0.as_ref());
    let (actor, client_ip) = actor(initiated_by);
    let (result, word) = match &v.result {
        // Graph's own words, told without `result_of`'s lower-casing copy.
        Text::Json { json, .. } if *json == b"\"success\"" => (EventResult::Success, None),
        Text::Json { json, .. } if *json == b"\"failure\"" => (EventResult::Failure, None),
        other => result_of(other.get().as_deref()),
    };

    // Additional details: an object keyed by each detail's key (the last of equal keys wins),
    // and the user agent is the value of the last `User-Agent` detail, in any case.
    // (Each detail by its key and its index in `additional_details`.)
    let mut additional: Vec<(Cow<'_, str>, usize)> = recycle(std::mem::take(spare));
    let details = &v.additional_details.0;
    let mut user_agent = &ABSENT;
    for (i, Obj(kv)) in details.iter().enumerate() {
        if let Some(kv) = kv
            && let Some(k) = kv.key.get()
        {
            if k.eq_ignore_ascii_case("User-Agent") {
                user_agent = &kv.value;
            }
            additional.push((k, i));
        }
    }
    additional.sort_by(|a, b| a.0.cmp(&b.0));

    out.reserve(line.len() * 2 + 512);
    // The event id, `keys::event_id`'s: the source, the time and the dedupe key, which need no
    // escaping (a dedupe key is URL-safe).
    out.extend_from_slice(b"{\"id\":\"");
    out.extend_from_slice(Source::EntraDirectoryAudits.name().as_bytes());
    out.push(b':');
    time::write_id_time(out, &time);
    out.push(b'-');
    out.extend_from_slice(dedupe_key.as_bytes());
    out.extend_from_slice(b"\",\"record_id\":");
    v.id.write(out);
    out.extend_from_slice(&w.source_stream_tenant);
    out.extend_from_slice(b",\"time\":");
    time::write_time(out, &time);
    out.extend_from_slice(b",\"service\":");
    v.logged_by_service.write(out);
    out.extend_from_slice(b",\"category\":");
    v.category.write(out);
    out.extend_from_slice(b",\"operation\":");
    v.activity_display_name.write(out);
    out.extend_from_slice(b",\"result\":");
    quoted(out, result.as_str());
    out.extend_from_slice(b",\"result_reason\":");
    match (&v.result_reason, word) {
        (Text::Absent, Some(word)) => super::json_str(out, &word),
        (reason, _) => reason.write(out),
    }
    out.extend_from_slice(b",\"actor\":{\"kind\":");
    out.extend_from_slice(match actor.kind {
        ActorKind::User => b"\"user\"",
        ActorKind::App => b"\"app\"",
        ActorKind::System => b"\"system\"",
    });
    out.extend_from_slice(b",\"id\":");
    actor.id.write(out);
    out.extend_from_slice(b",\"upn\":");
    actor.upn.write(out);
    out.extend_from_slice(b",\"name\":");
    actor.name.write(out);
    out.extend_from_slice(b",\"app_id\":");
    actor.app_id.write(out);
    out.extend_from_slice(b"},\"targets\":[");
    let mut modified = 0usize;
    for (i, Obj(t)) in v.target_resources.0.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"kind\":");
        match t {
            Some(t) => {
                or(&t.kind, &t.kind_capitalised).write(out);
                out.extend_from_slice(b",\"id\":");
                t.id.write(out);
                out.extend_from_slice(b",\"name\":");
                target_name(t).write(out);
                modified += t.modified_properties.0.len();
            }
            None => out.extend_from_slice(b"null,\"id\":null,\"name\":null"),
        }
        out.push(b'}');
    }
    out.extend_from_slice(b"],\"client_ip\":");
    client_ip.write(out);
    out.extend_from_slice(b",\"user_agent\":");
    user_agent.write(out);
    out.extend_from_slice(b",\"location\":null,\"details\":{");

    // `details` is a sorted map: additional_details, correlation_id, home_tenant_id,
    // modified_properties, operation_type, user_type.
    let mut first = true;
    if !additional.is_empty() {
        key(out, &mut first, b"\"additional_details\":{");
        let mut first_detail = true;
        for (i, (k, at)) in additional.iter().enumerate() {
            if additional.get(i + 1).is_some_and(|next| next.0 == *k) {
                continue;
            }
            if !std::mem::take(&mut first_detail) {
                out.push(b',');
            }
            super::json_str(out, k);
            out.push(b':');
            if let Some(Obj(Some(kv))) = details.get(*at) {
                kv.value.write(out);
            }
        }
        out.push(b'}');
    }
    if v.correlation_id.is_some() {
        key(out, &mut first, b"\"correlation_id\":");
        v.correlation_id.write(out);
    }
    if let Some(u) = user
        && u.home_tenant_id.is_some()
    {
        key(out, &mut first, b"\"home_tenant_id\":");
        u.home_tenant_id.write(out);
    }
    if modified > 0 {
        key(out, &mut first, b"\"modified_properties\":[");
        let mut first_property = true;
        for t in v.target_resources.0.iter().filter_map(|t| t.0.as_ref()) {
            let target = or(target_name(t), &t.id);
            for Obj(p) in &t.modified_properties.0 {
                if !std::mem::take(&mut first_property) {
                    out.push(b',');
                }
                match p {
                    Some(p) => {
                        out.extend_from_slice(b"{\"new_value\":");
                        p.new_value.write(out);
                        out.extend_from_slice(b",\"old_value\":");
                        p.old_value.write(out);
                        out.extend_from_slice(b",\"property\":");
                        p.display_name.write(out);
                    }
                    None => out.extend_from_slice(
                        b"{\"new_value\":null,\"old_value\":null,\"property\":null",
                    ),
                }
                out.extend_from_slice(b",\"target\":");
                target.write(out);
                out.push(b'}');
            }
        }
        out.push(b']');
    }
    if v.operation_type.is_some() {
        key(out, &mut first, b"\"operation_type\":");
        v.operation_type.write(out);
    }
    if let Some(u) = user
        && u.user_type.is_some()
    {
        key(out, &mut first, b"\"user_type\":");
        u.user_type.write(out);
    }
    out.extend_from_slice(b"},\"dedupe_key\":\"");
    out.extend_from_slice(dedupe_key.as_bytes());
    out.push(b'"');
    out.extend_from_slice(&w.ingested_at);
    out.extend_from_slice(b",\"raw\":");
    out.extend_from_slice(line);
    out.extend_from_slice(b"}\n");
    *spare = recycle(additional);
    true
}
