//! What can go wrong with a group checkpoint.

use std::fmt;

use crate::store::StoreError;

use super::Epoch;

/// An error of a [`Group`](super::Group) operation. Each one names the
/// group, the epoch and, where one is at fault, the participant.
#[derive(Debug)]
#[non_exhaustive]
pub enum GroupError {
    /// A group name or participant id is not usable as part of a key.
    InvalidName {
        /// What the name is for.
        what: &'static str,
        /// The name.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A commit found a participant's part absent (or, given the saved
    /// parts, not among them); nothing was committed.
    PartMissing {
        /// The group.
        group: String,
        /// The epoch.
        epoch: Epoch,
        /// The participant whose part is missing.
        participant: String,
        /// Where the part should be.
        location: String,
    },
    /// The parts handed to a commit do not fit its epoch and participant
    /// set; nothing was committed.
    PartsMismatch {
        /// The group.
        group: String,
        /// The epoch.
        epoch: Epoch,
        /// The participant the part was handed for.
        participant: String,
        /// What does not fit.
        reason: String,
    },
    /// A commit found a participant's part damaged; nothing was committed.
    PartCorrupt {
        /// The group.
        group: String,
        /// The epoch.
        epoch: Epoch,
        /// The participant whose part is damaged.
        participant: String,
        /// Where the part is.
        location: String,
        /// What is wrong with it.
        reason: String,
        /// The checkpoint error behind `reason`, when one is.
        source: Option<Box<crate::Error>>,
    },
    /// The participant already saved a different part of this epoch.
    PartExists {
        /// The group.
        group: String,
        /// The epoch.
        epoch: Epoch,
        /// The participant.
        participant: String,
        /// Where the part is.
        location: String,
    },
    /// Another coordinator committed this epoch with different parts.
    CommitConflict {
        /// The group.
        group: String,
        /// The epoch.
        epoch: Epoch,
        /// Where the commit record is.
        location: String,
    },
    /// A newer epoch is already committed, so this one can never be the
    /// latest. A commit retried after its epoch was superseded and collected
    /// ends here too.
    EpochSuperseded {
        /// The group.
        group: String,
        /// The epoch refused.
        epoch: Epoch,
        /// The newest committed epoch.
        committed: Epoch,
    },
    /// A restore asked for an epoch that has no commit record.
    NotCommitted {
        /// The group.
        group: String,
        /// The epoch.
        epoch: Epoch,
    },
    /// The committed epoch does not list this participant.
    NotAParticipant {
        /// The group.
        group: String,
        /// The epoch.
        epoch: Epoch,
        /// The participant.
        participant: String,
    },
    /// A part of a committed epoch cannot be read back as committed.
    PartUnreadable {
        /// The group.
        group: String,
        /// The committed epoch.
        epoch: Epoch,
        /// The participant.
        participant: String,
        /// Where the part is.
        location: String,
        /// What is wrong.
        reason: String,
        /// The checkpoint error behind `reason`, when one is.
        source: Option<Box<crate::Error>>,
    },
    /// A commit record does not pass its checksum.
    CommitRecordCorrupt {
        /// The group.
        group: String,
        /// The epoch.
        epoch: Epoch,
        /// Where the record is.
        location: String,
        /// What is wrong.
        reason: String,
    },
    /// The participant's state failed to encode.
    Encode {
        /// The participant.
        participant: String,
        /// The epoch.
        epoch: Epoch,
        /// Why.
        source: Box<crate::Error>,
    },
    /// The participant's part is intact but its fields do not restore.
    Restore {
        /// The group.
        group: String,
        /// The epoch.
        epoch: Epoch,
        /// The participant.
        participant: String,
        /// Why.
        source: Box<crate::Error>,
    },
    /// The restored state failed its `check`.
    CheckFailed {
        /// The group.
        group: String,
        /// The epoch.
        epoch: Epoch,
        /// The participant.
        participant: String,
        /// What `check` said.
        reason: String,
    },
    /// The store failed.
    Store(StoreError),
}

impl fmt::Display for GroupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GroupError::InvalidName { what, name, reason } => write!(f, "invalid {what} `{name}`: {reason}"),
            GroupError::PartMissing { group, epoch, participant, location } => write!(f, "cannot commit epoch {epoch} of group `{group}`: participant `{participant}` has no saved part (`{location}`); commit once it has saved it"),
            GroupError::PartsMismatch { group, epoch, participant, reason } => write!(f, "cannot commit epoch {epoch} of group `{group}`: the part handed over for participant `{participant}` does not fit: {reason}; hand over what each participant's save of this epoch returned"),
            GroupError::PartCorrupt { group, epoch, participant, location, reason, .. } => write!(f, "cannot commit epoch {epoch} of group `{group}`: the part of participant `{participant}` at `{location}` is corrupt ({reason}); parts are written once, so save every part under a new epoch"),
            GroupError::PartExists { group, epoch, participant, location } => write!(f, "participant `{participant}` already saved a different part of epoch {epoch} of group `{group}` (`{location}`); parts are written once, save under the next epoch"),
            GroupError::CommitConflict { group, epoch, location } => write!(f, "epoch {epoch} of group `{group}` is already committed with a different set of parts (`{location}`); the committed record stands"),
            GroupError::EpochSuperseded { group, epoch, committed } => write!(f, "{}", superseded(group, *epoch, *committed)),
            GroupError::NotCommitted { group, epoch } => write!(f, "epoch {epoch} of group `{group}` is not committed; only committed epochs restore"),
            GroupError::NotAParticipant { group, epoch, participant } => write!(f, "participant `{participant}` has no part in committed epoch {epoch} of group `{group}`"),
            GroupError::PartUnreadable { group, epoch, participant, location, reason, .. } => write!(f, "the part of participant `{participant}` in committed epoch {epoch} of group `{group}` is unreadable at `{location}`: {reason}; restoring another epoch would mix rounds, so restore that part from a backup or start the group afresh"),
            GroupError::CommitRecordCorrupt { group, epoch, location, reason } => write!(f, "the commit record of epoch {epoch} of group `{group}` at `{location}` is corrupt: {reason}"),
            GroupError::Encode { participant, epoch, source } => write!(f, "participant `{participant}` could not encode its part of epoch {epoch}: {source}"),
            GroupError::Restore { group, epoch, participant, source } => write!(f, "the part of participant `{participant}` in epoch {epoch} of group `{group}` does not restore: {source}"),
            GroupError::CheckFailed { group, epoch, participant, reason } => write!(f, "the restored part of participant `{participant}` in epoch {epoch} of group `{group}` failed its check: {reason}"),
            GroupError::Store(e) => fmt::Display::fmt(e, f),
        }
    }
}

impl std::error::Error for GroupError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            GroupError::Encode { source, .. } | GroupError::Restore { source, .. } => {
                Some(&**source)
            }
            GroupError::PartCorrupt { source, .. } | GroupError::PartUnreadable { source, .. } => {
                source.as_deref().map(|e| e as _)
            }
            GroupError::Store(e) => Some(e),
            _ => None,
        }
    }
}

impl From<StoreError> for GroupError {
    fn from(e: StoreError) -> Self {
        GroupError::Store(e)
    }
}

fn superseded(group: &str, epoch: Epoch, committed: Epoch) -> String {
    if epoch == committed {
        format!(
            "epoch {epoch} of group `{group}` is already committed, and a committed epoch's parts \
             never change; save and commit under an epoch above {committed}"
        )
    } else {
        format!(
            "epoch {epoch} of group `{group}` is older than the newest committed epoch \
             {committed}, so it can never be restored as the latest; save and commit under an \
             epoch above {committed}"
        )
    }
}
