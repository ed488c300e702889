use std::fmt;

use super::{CryptError, KEY_ID, SealKey, key_id_of};

/// The keys a store seals and opens with: one current key for writing, any number of old
/// keys for reading what they sealed (rotation).
///
/// ```
/// # extern crate trackplan_runtime as trackplan;
/// use trackplan::crypt::{Keyring, SealKey};
///
/// let old = SealKey::from_hex(&"11".repeat(32)).unwrap();
/// let new = SealKey::from_hex(&"22".repeat(32)).unwrap();
/// // Writes under `new`; reads files sealed with either.
/// let keys = Keyring::new(new).with_old(old);
/// assert_eq!(keys.ids().len(), 2);
/// ```
#[derive(Clone)]
pub struct Keyring {
    current: SealKey,
    old: Vec<SealKey>,
}

impl Keyring {
    /// A keyring writing with `current`.
    pub fn new(current: SealKey) -> Keyring {
        Keyring {
            current,
            old: Vec::new(),
        }
    }

    /// Adds a key that only reads: records it sealed stay readable after a rotation.
    pub fn with_old(mut self, old: SealKey) -> Keyring {
        if old.id != self.current.id && !self.old.iter().any(|k| k.id == old.id) {
            self.old.push(old);
        }
        self
    }

    /// The id of the key new records are sealed with.
    pub fn current_id(&self) -> String {
        self.current.id()
    }

    /// Every key id this keyring can open, the current one first.
    pub fn ids(&self) -> Vec<String> {
        std::iter::once(&self.current)
            .chain(&self.old)
            .map(SealKey::id)
            .collect()
    }

    /// Appends the sealed form of `plain` under the current key to `out`.
    pub(crate) fn seal(&self, aad: &[u8], plain: &[u8], out: &mut Vec<u8>) {
        self.current.seal(aad, plain, out);
    }

    /// The plaintext of a sealed record.
    pub(crate) fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, CryptError> {
        if sealed.len() < super::OVERHEAD {
            return Err(CryptError::Malformed { len: sealed.len() });
        }
        let (id, rest) = sealed.split_at(KEY_ID);
        let (nonce, body) = rest.split_at(24);
        let key = std::iter::once(&self.current)
            .chain(&self.old)
            .find(|k| k.id == id)
            .ok_or_else(|| CryptError::UnknownKey {
                key_id: key_id_of(sealed),
                known: self.ids().join(", "),
            })?;
        let nonce: [u8; 24] = nonce.try_into().unwrap_or([0; 24]);
        key.open(aad, &nonce, body)
            .ok_or_else(|| CryptError::NotAuthentic {
                key_id: key_id_of(sealed),
            })
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("current", &self.current.id())
            .field("old", &self.old.iter().map(SealKey::id).collect::<Vec<_>>())
            .finish()
    }
}
