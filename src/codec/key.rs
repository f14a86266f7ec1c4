//! Order-preserving key encoding: big-endian integers, signed ones with the sign bit flipped, so
//! that byte-wise comparison of keys equals numeric comparison of their fields.

/// Appends `v` so that byte order equals numeric order.
pub fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_be_bytes());
}

pub fn put_i32(out: &mut Vec<u8>, v: i32) {
    out.extend_from_slice(&((v as u32) ^ (1 << 31)).to_be_bytes());
}

/// Reads a fixed-width field; `None` when `bytes` is too short.
pub fn get_u64(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}

pub fn get_u32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

pub fn get_i32(bytes: &[u8], at: usize) -> Option<i32> {
    let raw = u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?);
    Some((raw ^ (1 << 31)) as i32)
}

/// Key of a chunk's packed month of day rows in the `balances` tree: chunk, then month.
pub fn balance_key(chunk: u64, month: i32) -> Vec<u8> {
    let mut key = Vec::with_capacity(12);
    put_u64(&mut key, chunk);
    put_i32(&mut key, month);
    key
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn put_i64(out: &mut Vec<u8>, v: i64) {
        out.extend_from_slice(&((v as u64) ^ (1 << 63)).to_be_bytes());
    }

    fn get_i64(bytes: &[u8], at: usize) -> Option<i64> {
        get_u64(bytes, at).map(|v| (v ^ (1 << 63)) as i64)
    }

    fn enc_i64(v: i64) -> Vec<u8> {
        let mut out = Vec::new();
        put_i64(&mut out, v);
        out
    }

    fn enc_i32(v: i32) -> Vec<u8> {
        let mut out = Vec::new();
        put_i32(&mut out, v);
        out
    }

    proptest! {
        #[test]
        fn i64_order_is_preserved(a: i64, b: i64) {
            prop_assert_eq!(a.cmp(&b), enc_i64(a).cmp(&enc_i64(b)));
            prop_assert_eq!(get_i64(&enc_i64(a), 0), Some(a));
        }

        #[test]
        fn i32_order_is_preserved(a: i32, b: i32) {
            prop_assert_eq!(a.cmp(&b), enc_i32(a).cmp(&enc_i32(b)));
            prop_assert_eq!(get_i32(&enc_i32(a), 0), Some(a));
        }

        #[test]
        fn balance_keys_sort_by_org_then_month(o1: u64, m1: i32, o2: u64, m2: i32) {
            prop_assert_eq!((o1, m1).cmp(&(o2, m2)), balance_key(o1, m1).cmp(&balance_key(o2, m2)));
        }
    }

    #[test]
    fn short_input_is_none() {
        assert_eq!(get_u64(&[1, 2, 3], 0), None);
        assert_eq!(get_i32(&[0; 4], 1), None);
    }
}
