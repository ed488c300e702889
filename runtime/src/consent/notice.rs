//! The purpose texts a consent screen showed, under one plan version: what an entry's
//! `notice_hash` names.

use sha2::{Digest, Sha256};

use crate::key::push_hex;
use crate::plan::{LegalBasis, PlanInfo};

/// The purpose texts of one plan version, as the ledger stores them once (the first time an
/// entry is recorded under them) so `trackplan consent export` can show what a subject was
/// shown long after the plan changed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Notice {
    /// `name@version` of the plan.
    pub plan_label: String,
    /// SHA-256 of the plan file, hex.
    pub plan_hash: String,
    /// The purposes in plan order.
    pub purposes: Vec<NoticePurpose>,
}

/// One purpose as the notice showed it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NoticePurpose {
    /// The plan id.
    pub id: String,
    /// The legal basis.
    pub legal_basis: LegalBasis,
    /// The end-user text (the plan's `description`).
    pub description: String,
    /// Whether GPC / "do not sell or share" withdraws it.
    pub sale_or_share: bool,
}

impl Notice {
    /// The texts `plan` shows.
    pub fn of(plan: &PlanInfo) -> Notice {
        Notice {
            plan_label: plan.label.to_owned(),
            plan_hash: plan.hash.to_owned(),
            purposes: plan
                .purposes
                .iter()
                .map(|p| NoticePurpose {
                    id: p.id.to_owned(),
                    legal_basis: p.basis,
                    description: p.description.to_owned(),
                    sale_or_share: p.sale_or_share,
                })
                .collect(),
        }
    }

    /// SHA-256 (hex) of the purpose texts: each purpose's id, legal basis, `sale_or_share`
    /// and description, length-prefixed, in order. Two plan versions with the same texts
    /// share it; the plan label and hash are not part of it.
    pub fn hash(&self) -> String {
        let mut h = Sha256::new();
        h.update(b"trackplan-notice-v1");
        h.update((self.purposes.len() as u64).to_le_bytes());
        for p in &self.purposes {
            for part in [
                p.id.as_bytes(),
                p.legal_basis.key().as_bytes(),
                if p.sale_or_share { b"1" } else { b"0" },
                p.description.as_bytes(),
            ] {
                h.update((part.len() as u64).to_le_bytes());
                h.update(part);
            }
        }
        let mut out = String::with_capacity(64);
        push_hex(&mut out, &h.finalize());
        out
    }

    /// The purpose with this id.
    pub fn purpose(&self, id: &str) -> Option<&NoticePurpose> {
        self.purposes.iter().find(|p| p.id == id)
    }
}
