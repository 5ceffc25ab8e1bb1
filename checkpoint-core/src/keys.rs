//! Every key the library writes to a [`Store`], named and parsed here and
//! nowhere else (layout in `docs/FORMAT.md`):
//!
//! ```text
//! {seq:020}.ckpt                                a checkpoint
//! group/{group}/parts/{epoch:020}/{participant} a participant's part of an epoch
//! group/{group}/commits/{epoch:020}             an epoch's commit record
//! chunks/{hash:2}/{hash}                        a chunk of incremental checkpoints, alone
//! chunks/{hash:2}/{hash}.pack                   a pack of such chunks
//! chunks/intents/{id}                           an incremental save under way
//! chunks/sweeping/{id}                          a sweep of chunks under way
//! ```
//!
//! Numbers are zero-padded to 20 digits, so listing order is numeric order.

use crate::store::Store;
use crate::Result;

/// What follows a checkpoint's sequence number in its key.
const CHECKPOINT_SUFFIX: &str = ".ckpt";

/// The key of checkpoint `seq`.
pub(crate) fn checkpoint(seq: u64) -> String {
    use std::fmt::Write as _;
    // Sized once: a save names its checkpoint on the steady-state path.
    let mut key = String::with_capacity(20 + CHECKPOINT_SUFFIX.len());
    // Writing to a String cannot fail.
    let _ = write!(key, "{seq:020}{CHECKPOINT_SUFFIX}");
    key
}

/// The sequence number a checkpoint key (or a directory store's file name)
/// stands for; `None` for any other key.
pub(crate) fn checkpoint_seq(key: &str) -> Option<u64> {
    parse_padded(key.strip_suffix(CHECKPOINT_SUFFIX)?)
}

/// The checkpoints in `store`, with their sequence numbers, in key order.
///
/// # Errors
///
/// When the store cannot be listed.
pub(crate) fn checkpoints(store: &dyn Store) -> Result<Vec<(u64, String)>> {
    // Checkpoints live at the top level: listing it alone keeps the cost
    // independent of what else the store holds (groups, chunks).
    Ok(store
        .list_level("")?
        .into_iter()
        .filter_map(|key| Some((checkpoint_seq(&key)?, key)))
        .collect())
}

/// Where every group's keys are.
pub(crate) const GROUPS: &str = "group/";

/// Where all the keys of group `group` are.
pub(crate) fn group(group: &str) -> String {
    format!("{GROUPS}{group}/")
}

/// Where the commit records of group `group` are.
pub(crate) fn group_commits(group: &str) -> String {
    format!("{GROUPS}{group}/commits/")
}

/// Where the parts of group `group` are.
pub(crate) fn group_parts(group: &str) -> String {
    format!("{GROUPS}{group}/parts/")
}

/// The key of the commit record of `epoch` of `group`.
pub(crate) fn group_commit(group: &str, epoch: u64) -> String {
    format!("{}{epoch:020}", group_commits(group))
}

/// The key of `participant`'s part of `epoch` of `group`.
pub(crate) fn group_part(group: &str, epoch: u64, participant: &str) -> String {
    format!("{}{epoch:020}/{participant}", group_parts(group))
}

/// The epoch of a key listed under [`group_commits`] (`prefix`); `None`
/// for any other key.
pub(crate) fn commit_epoch(prefix: &str, key: &str) -> Option<u64> {
    parse_padded(key.strip_prefix(prefix)?)
}

/// The epoch of a key listed under [`group_parts`] (`prefix`); `None` for
/// any other key.
pub(crate) fn part_epoch(prefix: &str, key: &str) -> Option<u64> {
    parse_padded(key.strip_prefix(prefix)?.split('/').next()?)
}

/// The epoch and participant of a part's key listed under [`group_parts`]
/// (`prefix`); `None` for any other key.
pub(crate) fn part_of<'k>(prefix: &str, key: &'k str) -> Option<(u64, &'k str)> {
    let (epoch, participant) = key.strip_prefix(prefix)?.split_once('/')?;
    Some((parse_padded(epoch)?, participant))
}

/// The group, epoch and participant of a part's key in any group (a key
/// listed under [`GROUPS`]); `None` for any other key.
pub(crate) fn any_part(key: &str) -> Option<(&str, u64, &str)> {
    let (group, rest) = key.strip_prefix(GROUPS)?.split_once('/')?;
    let (epoch, participant) = rest.strip_prefix("parts/")?.split_once('/')?;
    (!group.is_empty() && !participant.is_empty() && !participant.contains('/')).then_some((
        group,
        parse_padded(epoch)?,
        participant,
    ))
}

/// Where chunks, intents and sweep markers live.
pub(crate) const CHUNKS: &str = "chunks/";
/// Where incremental saves announce themselves (`incremental::lease`).
pub(crate) const INTENTS: &str = "chunks/intents/";
/// Where sweeps of chunks announce themselves.
pub(crate) const SWEEPING: &str = "chunks/sweeping/";

/// The key of the chunk whose hash is `hex` (lowercase hex).
pub(crate) fn chunk(hex: &str) -> String {
    format!("{CHUNKS}{}/{hex}", &hex[..2.min(hex.len())])
}

/// The end of a pack's key.
pub(crate) const PACK_SUFFIX: &str = ".pack";

/// Whether `key` names a chunk stored alone or a pack of chunks:
/// `chunks/<2 hex>/<hex of hash_len bytes>`, with `.pack` for a pack, whose
/// directory is the name's first two digits.
pub(crate) fn is_chunk(key: &str, hash_len: usize) -> bool {
    let Some((dir, name)) = key
        .strip_prefix(CHUNKS)
        .and_then(|rest| rest.split_once('/'))
    else {
        return false;
    };
    let name = name.strip_suffix(PACK_SUFFIX).unwrap_or(name);
    let hex = |s: &str| s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    dir.len() == 2 && name.len() == 2 * hash_len && hex(dir) && hex(name) && name.starts_with(dir)
}

/// A number written with exactly 20 digits.
fn parse_padded(digits: &str) -> Option<u64> {
    (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_keys_sort_by_sequence_number_and_parse_back() {
        assert!(checkpoint(9) < checkpoint(10));
        assert_eq!(checkpoint_seq(&checkpoint(u64::MAX)), Some(u64::MAX));
        assert_eq!(checkpoint_seq("00000000000000000007.ckpt"), Some(7));
        assert_eq!(checkpoint_seq("7.ckpt"), None);
        assert_eq!(checkpoint_seq("0000000000000000000x.ckpt"), None);
        assert_eq!(checkpoint_seq("other"), None);
    }

    #[test]
    fn group_keys_parse_back_to_their_epoch() {
        let commits = group_commits("g");
        assert_eq!(commit_epoch(&commits, &group_commit("g", 42)), Some(42));
        assert_eq!(commit_epoch(&commits, &format!("{commits}42")), None);
        let parts = group_parts("g");
        assert_eq!(part_epoch(&parts, &group_part("g", 7, "a")), Some(7));
        assert_eq!(part_epoch(&parts, &group_commit("g", 7)), None);
        assert_eq!(part_of(&parts, &group_part("g", 7, "a")), Some((7, "a")));
        assert_eq!(part_of(&parts, &group_commit("g", 7)), None);
        assert_eq!(any_part(&group_part("g", 7, "a")), Some(("g", 7, "a")));
        assert_eq!(any_part(&group_commit("g", 7)), None);
        assert_eq!(any_part(&format!("{}x/y", group_parts("g"))), None);
        assert_eq!(any_part(&format!("{}/a", group_part("g", 7, "a"))), None);
        assert_eq!(any_part("00000000000000000007.ckpt"), None);
        assert!(group_commit("g", 1).starts_with(&group("g")));
        assert!(group_commit("g", 9) < group_commit("g", 10));
    }
}
