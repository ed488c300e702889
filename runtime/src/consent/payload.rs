//! The payload of each ledger record, as JSON: an entry's fields under their Kantara / Fides
//! names, or a notice's texts. Both stores keep these bytes as they are; the chain covers
//! them by digest.
//!
//! Entries are written in the compact form (version 2, `"v":2`): the per-purpose choice is
//! listed in the order of the notice the entry names (`preferences`, `permitted`), since the
//! notice already holds each purpose's id and legal basis and is a record of the same chain,
//! written before the first entry that names it. Entries of version 1 (no `"v"`: each purpose
//! spelled out as `{"purpose", "legal_basis", "preference", "permitted"}`) are read as before.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::Consent;
use super::entry::{EntryId, LedgerEntry, Method, Preference, PurposeChoice, Surface};
use super::ledger::Collection;
use super::notice::{Notice, NoticePurpose};
use crate::plan::{LegalBasis, PlanInfo};
use trackplan_vocab::Keyword;

/// The fields of a new entry, before it has an id: what both stores record.
pub(crate) struct NewEntry<'a> {
    pub principal: &'a str,
    pub plan: &'static PlanInfo,
    pub consent: &'a Consent,
    pub how: &'a Collection,
    /// The hash of `plan`'s notice, which the store holds (or writes just before).
    pub notice_hash: &'a str,
    pub supersedes: Option<EntryId>,
}

/// Milliseconds since the Unix epoch, now.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

pub(crate) fn encode_entry(e: &NewEntry<'_>, out: &mut Vec<u8>) {
    let (method, surface, jurisdiction, reconsent, at) = e.how.parts();
    let permitted = e.consent.permitted(e.plan);
    let bound = e.consent.plan_info().is_some();
    let (granted, explicit, objected) = (
        e.consent.granted_set(),
        e.consent.explicit_set(),
        e.consent.objected_set(),
    );
    let purposes = (0..e.plan.purposes.len().min(trackplan_vocab::MAX_ITEMS)).map(|i| {
        let preference = if !bound {
            Preference::NotGiven
        } else if explicit.contains(i) {
            Preference::OptInExplicit
        } else if granted.contains(i) {
            Preference::OptIn
        } else if objected.contains(i) {
            Preference::OptOut
        } else {
            Preference::NotGiven
        };
        (preference, permitted.contains(i))
    });
    let fields = Fields {
        time_ms: at.unwrap_or_else(now_ms),
        principal: e.principal,
        gpc: e.consent.gpc(),
        opt_out_all: e.consent.is_opted_out(),
        method,
        surface,
        plan: (e.plan.label, e.plan.hash, e.notice_hash),
        jurisdiction,
        supersedes: e.supersedes,
        reconsent,
    };
    write_entry(out, &fields, purposes);
}

/// The entry that marks `last` and the subject's entries before it as an erased subject's
/// (`ForgetProof::Keep`): no purposes, the opt-out of everything, `last`'s plan and surface.
pub(crate) fn write_erasure(out: &mut Vec<u8>, time_ms: i64, principal: &str, last: &LedgerEntry) {
    let fields = Fields {
        time_ms,
        principal,
        gpc: last.gpc,
        opt_out_all: true,
        method: Method::Erasure,
        surface: last.surface,
        plan: (&last.plan_label, &last.plan_hash, &last.notice_hash),
        jurisdiction: last.jurisdiction.as_deref(),
        supersedes: Some(last.id),
        reconsent: false,
    };
    write_entry(out, &fields, std::iter::empty());
}

/// A JSON string literal of `text`.
fn string(out: &mut Vec<u8>, text: &str) {
    // Distinct ids and hashes are hex: nothing to escape (the bytes JSON escapes are the
    // controls, `"` and `\`; serde_json leaves the rest as they are). Not short-circuiting,
    // so the check runs on whole vectors.
    let plain = text
        .bytes()
        .fold(true, |ok, b| ok & (b >= 0x20) & (b != b'"') & (b != b'\\'));
    if plain {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    } else {
        // Writing a `&str` into a `Vec` cannot fail.
        let _ = serde_json::to_writer(&mut *out, text);
    }
}

/// An entry's fields but its purposes.
struct Fields<'a> {
    time_ms: i64,
    principal: &'a str,
    gpc: bool,
    opt_out_all: bool,
    method: Method,
    surface: Surface,
    /// Plan label, plan hash, notice hash.
    plan: (&'a str, &'a str, &'a str),
    jurisdiction: Option<&'a str>,
    supersedes: Option<EntryId>,
    reconsent: bool,
}

/// The entry payload (version 2), written straight into `out` (no intermediate JSON tree:
/// `record` is on the path of a consent form's submit). `purposes` are the preference and
/// whether it was permitted, in the notice's order.
fn write_entry(
    out: &mut Vec<u8>,
    f: &Fields<'_>,
    purposes: impl Iterator<Item = (Preference, bool)> + Clone,
) {
    let flag = |b: bool| if b { "true" } else { "false" };
    out.extend_from_slice(b"{\"v\":2,\"consent_timestamp_ms\":");
    out.extend_from_slice(itoa::Buffer::new().format(f.time_ms).as_bytes());
    out.extend_from_slice(b",\"pii_principal_id\":");
    string(out, f.principal);
    out.extend_from_slice(b",\"preferences\":[");
    for (i, (preference, _)) in purposes.clone().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'"');
        out.extend_from_slice(preference.key().as_bytes());
        out.push(b'"');
    }
    out.extend_from_slice(b"],\"permitted\":[");
    for (i, (_, permitted)) in purposes.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(flag(permitted).as_bytes());
    }
    out.extend_from_slice(b"],\"gpc\":");
    out.extend_from_slice(flag(f.gpc).as_bytes());
    out.extend_from_slice(b",\"opt_out_all\":");
    out.extend_from_slice(flag(f.opt_out_all).as_bytes());
    out.extend_from_slice(b",\"collection_method\":\"");
    out.extend_from_slice(f.method.key().as_bytes());
    out.extend_from_slice(b"\",\"surface\":\"");
    out.extend_from_slice(f.surface.key().as_bytes());
    out.extend_from_slice(b"\",\"plan_label\":");
    string(out, f.plan.0);
    out.extend_from_slice(b",\"plan_hash\":");
    string(out, f.plan.1);
    out.extend_from_slice(b",\"notice_hash\":");
    string(out, f.plan.2);
    out.extend_from_slice(b",\"jurisdiction\":");
    match f.jurisdiction {
        Some(j) => string(out, j),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"supersedes\":");
    match f.supersedes {
        Some(s) => out.extend_from_slice(itoa::Buffer::new().format(s.0).as_bytes()),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"reconsent\":");
    out.extend_from_slice(flag(f.reconsent).as_bytes());
    out.push(b'}');
}

pub(crate) fn encode_notice(n: &Notice) -> Vec<u8> {
    let purposes: Vec<Value> = n
        .purposes
        .iter()
        .map(|p| {
            json!({
                "id": p.id,
                "legal_basis": p.legal_basis.key(),
                "description": p.description,
                "sale_or_share": p.sale_or_share,
            })
        })
        .collect();
    let value = json!({
        "plan_label": n.plan_label,
        "plan_hash": n.plan_hash,
        "notice_hash": n.hash(),
        "purposes": purposes,
    });
    serde_json::to_vec(&value).unwrap_or_default()
}

fn object(payload: &[u8]) -> Result<Map<String, Value>, String> {
    match serde_json::from_slice::<Value>(payload) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err("payload is not a JSON object".into()),
        Err(e) => Err(format!("payload is not JSON: {e}")),
    }
}

fn text(map: &Map<String, Value>, key: &str) -> Result<String, String> {
    map.get(key)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| format!("field `{key}` is missing or not text"))
}

fn flag(map: &Map<String, Value>, key: &str) -> Result<bool, String> {
    map.get(key)
        .and_then(Value::as_bool)
        .ok_or_else(|| format!("field `{key}` is missing or not a boolean"))
}

fn basis(map: &Map<String, Value>) -> Result<LegalBasis, String> {
    let key = text(map, "legal_basis")?;
    LegalBasis::from_key(&key).ok_or_else(|| format!("unknown legal basis {key:?}"))
}

/// Reads an entry's payload; `hash` is its chain hash, hex. `notices` are the notices of the
/// chain before it, by hash: a compact entry (version 2) names its purposes through one.
pub(crate) fn decode_entry(
    id: u64,
    payload: &[u8],
    hash: String,
    notices: &HashMap<String, Notice>,
) -> Result<LedgerEntry, String> {
    let map = object(payload)?;
    let notice_hash = text(&map, "notice_hash")?;
    let purposes = match map.get("v") {
        None => purposes_v1(&map)?,
        Some(v) if v.as_u64() == Some(2) => purposes_v2(&map, notices.get(&notice_hash))?,
        Some(v) => return Err(format!("unknown entry version {v}")),
    };
    let method = text(&map, "collection_method")?;
    let surface = text(&map, "surface")?;
    Ok(LedgerEntry {
        id: EntryId(id),
        consent_timestamp_ms: map
            .get("consent_timestamp_ms")
            .and_then(Value::as_i64)
            .ok_or("field `consent_timestamp_ms` is missing")?,
        pii_principal_id: text(&map, "pii_principal_id")?,
        purposes,
        gpc: flag(&map, "gpc")?,
        opt_out_all: flag(&map, "opt_out_all")?,
        collection_method: Method::from_key(&method)
            .ok_or_else(|| format!("unknown collection method {method:?}"))?,
        surface: Surface::from_key(&surface)
            .ok_or_else(|| format!("unknown surface {surface:?}"))?,
        plan_label: text(&map, "plan_label")?,
        plan_hash: text(&map, "plan_hash")?,
        notice_hash,
        jurisdiction: map
            .get("jurisdiction")
            .and_then(Value::as_str)
            .map(str::to_owned),
        supersedes: map.get("supersedes").and_then(Value::as_u64).map(EntryId),
        reconsent: flag(&map, "reconsent")?,
        erased_subject: false,
        hash,
    })
}

/// The notice hash an entry's payload names, without decoding the rest.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) fn notice_hash_of(payload: &[u8]) -> Option<String> {
    text(&object(payload).ok()?, "notice_hash").ok()
}

fn array<'m>(map: &'m Map<String, Value>, key: &str) -> Result<&'m Vec<Value>, String> {
    map.get(key)
        .and_then(Value::as_array)
        .ok_or_else(|| format!("field `{key}` is missing or not a list"))
}

fn preference(key: &str) -> Result<Preference, String> {
    Preference::from_key(key).ok_or_else(|| format!("unknown preference {key:?}"))
}

/// Version 1: each purpose spelled out.
fn purposes_v1(map: &Map<String, Value>) -> Result<Vec<PurposeChoice>, String> {
    array(map, "purposes")?
        .iter()
        .map(|p| {
            let p = p.as_object().ok_or("a purpose is not an object")?;
            Ok(PurposeChoice {
                purpose: text(p, "purpose")?,
                legal_basis: basis(p)?,
                preference: preference(&text(p, "preference")?)?,
                permitted: flag(p, "permitted")?,
            })
        })
        .collect()
}

/// Version 2: the choices in the order of the notice's purposes, which give id and basis.
fn purposes_v2(
    map: &Map<String, Value>,
    notice: Option<&Notice>,
) -> Result<Vec<PurposeChoice>, String> {
    let preferences = array(map, "preferences")?;
    let permitted = array(map, "permitted")?;
    if preferences.len() != permitted.len() {
        return Err("fields `preferences` and `permitted` differ in length".into());
    }
    if preferences.is_empty() {
        return Ok(Vec::new());
    }
    let notice = notice.ok_or("it names a notice that no record before it holds")?;
    if preferences.len() > notice.purposes.len() {
        return Err("it lists more purposes than its notice has".into());
    }
    preferences
        .iter()
        .zip(permitted)
        .zip(&notice.purposes)
        .map(|((preference_key, permitted), shown)| {
            Ok(PurposeChoice {
                purpose: shown.id.clone(),
                legal_basis: shown.legal_basis,
                preference: preference(preference_key.as_str().ok_or("a preference is not text")?)?,
                permitted: permitted.as_bool().ok_or("a permission is not a boolean")?,
            })
        })
        .collect()
}

/// Reads a notice's payload; checks that its texts hash to the `notice_hash` it names.
pub(crate) fn decode_notice(payload: &[u8]) -> Result<Notice, String> {
    let map = object(payload)?;
    let purposes = map
        .get("purposes")
        .and_then(Value::as_array)
        .ok_or("field `purposes` is missing")?
        .iter()
        .map(|p| {
            let p = p.as_object().ok_or("a purpose is not an object")?;
            Ok(NoticePurpose {
                id: text(p, "id")?,
                legal_basis: basis(p)?,
                description: text(p, "description")?,
                sale_or_share: flag(p, "sale_or_share")?,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let notice = Notice {
        plan_label: text(&map, "plan_label")?,
        plan_hash: text(&map, "plan_hash")?,
        purposes,
    };
    let named = text(&map, "notice_hash")?;
    if notice.hash() != named {
        return Err("its texts do not hash to the notice hash it names".into());
    }
    Ok(notice)
}
