//! The byte format of a stored value, shared by every backend so that a record means the same
//! bytes whichever engine holds it (an export from one and an import into the other, a future
//! migration, a debugging dump all read one format).
//!
//! A value is one version byte, then the record as JSON. The version byte lets a later format
//! (a binary encoding, say) be read beside this one during a migration instead of failing on
//! every old record; an unknown version is reported as corruption, never guessed at.

use super::StoreError;

/// The only value format so far: JSON after the version byte.
const VALUE_V1: u8 = 1;

pub(super) fn encode<T: serde::Serialize>(value: &T) -> Vec<u8> {
    let mut out = vec![VALUE_V1];
    // Serializing our own plain structs to a Vec cannot fail.
    serde_json::to_writer(&mut out, value).expect("model values serialize");
    out
}

/// `encode(value).len()` without building the bytes: how a size limit on stored values is
/// checked before anything is encoded for a write.
pub(super) fn encoded_len<T: serde::Serialize + ?Sized>(value: &T) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    // The version byte.
    let mut count = Count(1);
    // As in `encode`: our own plain values serialize, and counting cannot fail.
    serde_json::to_writer(&mut count, value).expect("model values serialize");
    count.0
}

pub(super) fn decode<'a, T: serde::Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, StoreError> {
    match bytes.split_first() {
        Some((&VALUE_V1, body)) => {
            serde_json::from_slice(body).map_err(|e| StoreError::Corrupt(format!("undecodable record: {e}")))
        }
        Some((v, _)) => Err(StoreError::Corrupt(format!("record in unknown value version {v}"))),
        None => Err(StoreError::Corrupt("empty record".into())),
    }
}

/// Counters (the audit sequence, the format version) are 8 big-endian bytes, so that they sort
/// as numbers where they are part of a key.
pub(super) fn decode_u64(bytes: &[u8]) -> Result<u64, StoreError> {
    Ok(u64::from_be_bytes(bytes.try_into().map_err(|_| StoreError::Corrupt("counter is not 8 bytes".into()))?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_and_bad_bytes_are_corruption() {
        let bytes = encode(&vec!["a", "b"]);
        assert_eq!(bytes[0], VALUE_V1);
        assert_eq!(decode::<Vec<String>>(&bytes).unwrap(), vec!["a", "b"]);
        assert!(matches!(decode::<Vec<String>>(&[]), Err(StoreError::Corrupt(_))));
        assert!(
            matches!(decode::<Vec<String>>(&[9, b'[', b']']), Err(StoreError::Corrupt(m)) if m.contains("version 9"))
        );
        assert!(matches!(decode::<Vec<String>>(&[VALUE_V1, b'{']), Err(StoreError::Corrupt(_))));
        assert_eq!(decode_u64(&7u64.to_be_bytes()).unwrap(), 7);
        for text in ["", "plain", "two\nlines \"quoted\"", "\u{1}control", "\u{e9}t\u{e9}"] {
            assert_eq!(encoded_len(text), encode(&text).len(), "{text:?}");
        }
        assert!(decode_u64(&[1, 2]).is_err());
    }
}
