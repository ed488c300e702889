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

/// Per-purpose choices of `consent` under `plan`, in plan order.
pub(crate) fn choices(plan: &'static PlanInfo, consent: &Consent) -> Vec<PurposeChoice> {
    let permitted = consent.permitted(plan);
    let bound = consent.plan_info().is_some();
    plan.purposes
        .iter()
        .enumerate()
        .take(trackplan_vocab::MAX_ITEMS)
        .map(|(i, p)| {
            let preference = if !bound {
                Preference::NotGiven
            } else if consent.explicit_set().contains(i) {
                Preference::OptInExplicit
            } else if consent.granted_set().contains(i) {
                Preference::OptIn
            } else if consent.objected_set().contains(i) {
                Preference::OptOut
            } else {
                Preference::NotGiven
            };
            PurposeChoice {
                purpose: p.id.to_owned(),
                legal_basis: p.basis,
                preference,
                permitted: permitted.contains(i),
            }
        })
        .collect()
}

pub(crate) fn encode_entry(e: &NewEntry<'_>) -> Vec<u8> {
    encode_entry_parts(
        e.time_ms,
        e.principal,
        &choices(e.plan, e.consent),
        e.consent.gpc(),
        e.consent.is_opted_out(),
        e.method,
        e.surface,
        (e.plan.label, e.plan.hash, e.notice_hash),
        e.jurisdiction,
        e.supersedes,
        e.reconsent,
    )
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn encode_entry_parts(
    time_ms: i64,
    principal: &str,
    purposes: &[PurposeChoice],
    gpc: bool,
    opt_out_all: bool,
    method: Method,
    surface: Surface,
    (plan_label, plan_hash, notice_hash): (&str, &str, &str),
    jurisdiction: Option<&str>,
    supersedes: Option<EntryId>,
    reconsent: bool,
) -> Vec<u8> {
    let purposes: Vec<Value> = purposes
        .iter()
        .map(|c| {
            json!({
                "purpose": c.purpose,
                "legal_basis": c.legal_basis.key(),
                "preference": c.preference.key(),
                "permitted": c.permitted,
            })
        })
        .collect();
    let value = json!({
        "consent_timestamp_ms": time_ms,
        "pii_principal_id": principal,
        "purposes": purposes,
        "gpc": gpc,
        "opt_out_all": opt_out_all,
        "collection_method": method.key(),
        "surface": surface.key(),
        "plan_label": plan_label,
        "plan_hash": plan_hash,
        "notice_hash": notice_hash,
        "jurisdiction": jurisdiction,
        "supersedes": supersedes.map(|s| s.0),
        "reconsent": reconsent,
    });
    serde_json::to_vec(&value).unwrap_or_default()
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
