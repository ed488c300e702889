//! The payload of each ledger record, as JSON: an entry's fields under their Kantara / Fides
//! names, or a notice's texts. Both stores keep these bytes as they are; the chain covers
//! them by digest.

use serde_json::{Map, Value, json};

use super::Consent;
use super::entry::{EntryId, LedgerEntry, Method, Preference, PurposeChoice, Surface};
use super::notice::{Notice, NoticePurpose};
use crate::plan::{LegalBasis, PlanInfo};
use trackplan_vocab::Keyword;

/// The fields of a new entry, before it has an id.
pub(crate) struct NewEntry<'a> {
    pub time_ms: i64,
    pub principal: &'a str,
    pub plan: &'static PlanInfo,
    pub consent: &'a Consent,
    pub method: Method,
    pub surface: Surface,
    pub notice_hash: &'a str,
    pub jurisdiction: Option<&'a str>,
    pub supersedes: Option<EntryId>,
    pub reconsent: bool,
}

pub(crate) fn encode_entry(e: &NewEntry<'_>, out: &mut Vec<u8>) {
    let permitted = e.consent.permitted(e.plan);
    let bound = e.consent.plan_info().is_some();
    let (granted, explicit, objected) = (
        e.consent.granted_set(),
        e.consent.explicit_set(),
        e.consent.objected_set(),
    );
    let purposes = e
        .plan
        .purposes
        .iter()
        .enumerate()
        .take(trackplan_vocab::MAX_ITEMS)
        .map(|(i, p)| {
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
            (p.id, p.basis, preference, permitted.contains(i))
        });
    write_entry(
        out,
        e.time_ms,
        e.principal,
        purposes,
        e.consent.gpc(),
        e.consent.is_opted_out(),
        e.method,
        e.surface,
        (e.plan.label, e.plan.hash, e.notice_hash),
        e.jurisdiction,
        e.supersedes,
        e.reconsent,
    );
}

/// The entry that marks `last` and the subject's entries before it as an erased subject's
/// (`ForgetProof::Keep`): no purposes, the opt-out of everything, `last`'s plan and surface.
pub(crate) fn write_erasure(out: &mut Vec<u8>, time_ms: i64, principal: &str, last: &LedgerEntry) {
    write_entry(
        out,
        time_ms,
        principal,
        std::iter::empty(),
        last.gpc,
        true,
        Method::Erasure,
        last.surface,
        (&last.plan_label, &last.plan_hash, &last.notice_hash),
        last.jurisdiction.as_deref(),
        Some(last.id),
        false,
    );
}

/// A JSON string literal of `text`.
fn string(out: &mut Vec<u8>, text: &str) {
    // Writing a `&str` into a `Vec` cannot fail.
    let _ = serde_json::to_writer(&mut *out, text);
}

/// The entry payload, written straight into `out` (no intermediate JSON tree: `record` is on
/// the path of a consent form's submit).
#[allow(clippy::too_many_arguments)]
pub(crate) fn write_entry<'p>(
    out: &mut Vec<u8>,
    time_ms: i64,
    principal: &str,
    purposes: impl Iterator<Item = (&'p str, LegalBasis, Preference, bool)>,
    gpc: bool,
    opt_out_all: bool,
    method: Method,
    surface: Surface,
    (plan_label, plan_hash, notice_hash): (&str, &str, &str),
    jurisdiction: Option<&str>,
    supersedes: Option<EntryId>,
    reconsent: bool,
) {
    let flag = |b: bool| if b { "true" } else { "false" };
    out.extend_from_slice(b"{\"consent_timestamp_ms\":");
    out.extend_from_slice(itoa::Buffer::new().format(time_ms).as_bytes());
    out.extend_from_slice(b",\"pii_principal_id\":");
    string(out, principal);
    out.extend_from_slice(b",\"purposes\":[");
    for (i, (id, basis, preference, permitted)) in purposes.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"purpose\":");
        string(out, id);
        out.extend_from_slice(b",\"legal_basis\":\"");
        out.extend_from_slice(basis.key().as_bytes());
        out.extend_from_slice(b"\",\"preference\":\"");
        out.extend_from_slice(preference.key().as_bytes());
        out.extend_from_slice(b"\",\"permitted\":");
        out.extend_from_slice(flag(permitted).as_bytes());
        out.push(b'}');
    }
    out.extend_from_slice(b"],\"gpc\":");
    out.extend_from_slice(flag(gpc).as_bytes());
    out.extend_from_slice(b",\"opt_out_all\":");
    out.extend_from_slice(flag(opt_out_all).as_bytes());
    out.extend_from_slice(b",\"collection_method\":\"");
    out.extend_from_slice(method.key().as_bytes());
    out.extend_from_slice(b"\",\"surface\":\"");
    out.extend_from_slice(surface.key().as_bytes());
    out.extend_from_slice(b"\",\"plan_label\":");
    string(out, plan_label);
    out.extend_from_slice(b",\"plan_hash\":");
    string(out, plan_hash);
    out.extend_from_slice(b",\"notice_hash\":");
    string(out, notice_hash);
    out.extend_from_slice(b",\"jurisdiction\":");
    match jurisdiction {
        Some(j) => string(out, j),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"supersedes\":");
    match supersedes {
        Some(s) => out.extend_from_slice(itoa::Buffer::new().format(s.0).as_bytes()),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"reconsent\":");
    out.extend_from_slice(flag(reconsent).as_bytes());
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

/// Reads an entry's payload; `hash` is its chain hash, hex.
pub(crate) fn decode_entry(id: u64, payload: &[u8], hash: String) -> Result<LedgerEntry, String> {
    let map = object(payload)?;
    let purposes = map
        .get("purposes")
        .and_then(Value::as_array)
        .ok_or("field `purposes` is missing")?
        .iter()
        .map(|p| {
            let p = p.as_object().ok_or("a purpose is not an object")?;
            let preference = text(p, "preference")?;
            Ok(PurposeChoice {
                purpose: text(p, "purpose")?,
                legal_basis: basis(p)?,
                preference: Preference::from_key(&preference)
                    .ok_or_else(|| format!("unknown preference {preference:?}"))?,
                permitted: flag(p, "permitted")?,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
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
        notice_hash: text(&map, "notice_hash")?,
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
