//! The legal basis of a purpose.

use crate::keyword::keywords;

keywords! {
    /// GDPR Art. 6 legal bases.
    #[derive(PartialOrd, Ord)]
    pub enum LegalBasis {
        /// Art. 6(1)(a): the subject agreed; off until granted.
        Consent = "consent",
        /// Art. 6(1)(b).
        Contract = "contract",
        /// Art. 6(1)(c).
        LegalObligation = "legal_obligation",
        /// Art. 6(1)(d).
        VitalInterest = "vital_interest",
        /// Art. 6(1)(e).
        PublicTask = "public_task",
        /// Art. 6(1)(f): on until the subject objects.
        LegitimateInterest = "legitimate_interest",
    }
}

impl LegalBasis {
    /// Whether the purpose is off until the subject grants it (`consent`); every other basis is
    /// on until the subject objects or the law says otherwise.
    pub const fn needs_consent(self) -> bool {
        matches!(self, LegalBasis::Consent)
    }
}
