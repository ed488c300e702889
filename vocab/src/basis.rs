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
    /// The basis as the GDPR names it, for records of processing: `"legitimate interests"`.
    pub const fn name(self) -> &'static str {
        match self {
            LegalBasis::Consent => "consent",
            LegalBasis::Contract => "performance of a contract",
            LegalBasis::LegalObligation => "legal obligation",
            LegalBasis::VitalInterest => "vital interests",
            LegalBasis::PublicTask => "public task",
            LegalBasis::LegitimateInterest => "legitimate interests",
        }
    }

    /// Where the GDPR sets the basis out: `"Art. 6(1)(f)"`.
    pub const fn article(self) -> &'static str {
        match self {
            LegalBasis::Consent => "Art. 6(1)(a)",
            LegalBasis::Contract => "Art. 6(1)(b)",
            LegalBasis::LegalObligation => "Art. 6(1)(c)",
            LegalBasis::VitalInterest => "Art. 6(1)(d)",
            LegalBasis::PublicTask => "Art. 6(1)(e)",
            LegalBasis::LegitimateInterest => "Art. 6(1)(f)",
        }
    }

    /// Whether the purpose is off until the subject grants it (`consent`); every other basis is
    /// on until the subject objects or the law says otherwise.
    pub const fn needs_consent(self) -> bool {
        matches!(self, LegalBasis::Consent)
    }
}
