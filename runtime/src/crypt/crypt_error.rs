/// Why sealed bytes could not be opened. Never contains key material or plaintext.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptError {
    /// The file is encrypted and no key was given (or this build lacks the `encryption`
    /// feature).
    #[error(
        "it is encrypted (key id {key_id}) and no key was given: open it with a keyring \
         holding that key (cargo feature `encryption`); nothing was changed"
    )]
    NoKey {
        /// The id of the key that sealed it.
        key_id: String,
    },
    /// The record was sealed with a key the keyring does not hold.
    #[error(
        "it was sealed with key id {key_id}, which the keyring does not hold (it holds {known}): \
         add that key as an old key to read it; nothing was changed"
    )]
    UnknownKey {
        /// The id of the key that sealed it.
        key_id: String,
        /// The ids the keyring holds, comma-separated.
        known: String,
    },
    /// The tag does not match: the bytes were altered after sealing (or another key has the
    /// same 32-bit id).
    #[error(
        "a record sealed with key id {key_id} does not authenticate: it was altered after \
         it was written; nothing was changed"
    )]
    NotAuthentic {
        /// The id of the key that sealed it.
        key_id: String,
    },
    /// Too short to be a sealed record.
    #[error("a sealed record is too short ({len} bytes); the file is damaged")]
    Malformed {
        /// Its length.
        len: usize,
    },
}
