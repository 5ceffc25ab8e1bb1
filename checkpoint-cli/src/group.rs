//! `checkpoint group list`: the epochs of every group in a store, their
//! parts and whether each is committed (`docs/GROUP.md`).

use std::io::{self, Write};
use std::sync::Arc;

use checkpoint_core::group::{self, Group, GroupError, StoredEpoch};
use serde::Serialize;

use crate::store::Opened;
use crate::Failure;

/// `group list --json`.
#[derive(Debug, Serialize)]
pub struct GroupListReport {
    dir: String,
    groups: Vec<GroupReport>,
}

#[derive(Debug, Serialize)]
struct GroupReport {
    name: String,
    epochs: Vec<EpochReport>,
}

#[derive(Debug, Serialize)]
struct EpochReport {
    epoch: u64,
    committed: bool,
    /// The participants whose parts are stored.
    parts: Vec<String>,
}

impl GroupListReport {
    /// Lists the store: one listing of its groups, then one per group.
    pub fn of(opened: &Opened) -> Result<Self, Failure> {
        let names = group::groups(&*opened.store).map_err(|e| opened.unlisted(e))?;
        let mut groups = Vec::new();
        for name in names {
            let group = Group::from_shared(Arc::clone(&opened.store), &name)
                .map_err(|e| Failure(e.to_string()))?;
            let epochs = group.epochs().map_err(|e| match e {
                GroupError::Store(e) => opened.unlisted(e),
                e => Failure(e.to_string()),
            })?;
            groups.push(GroupReport {
                name,
                epochs: epochs.into_iter().map(EpochReport::of).collect(),
            });
        }
        Ok(GroupListReport {
            dir: opened.name.clone(),
            groups,
        })
    }

    pub fn write(&self, out: &mut impl Write) -> io::Result<()> {
        if self.groups.is_empty() {
            return writeln!(out, "no groups in {}", self.dir);
        }
        let head = ["GROUP", "EPOCH", "COMMITTED", "PARTS"].map(str::to_owned);
        let rows: Vec<[String; 4]> = self
            .groups
            .iter()
            .flat_map(|g| {
                g.epochs.iter().map(|e| {
                    [
                        g.name.clone(),
                        e.epoch.to_string(),
                        if e.committed { "yes" } else { "no" }.to_owned(),
                        if e.parts.is_empty() {
                            "-".to_owned()
                        } else {
                            e.parts.join(", ")
                        },
                    ]
                })
            })
            .collect();
        let mut widths = [0; 4];
        for row in std::iter::once(&head).chain(&rows) {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.len());
            }
        }
        for row in std::iter::once(&head).chain(&rows) {
            let [name, epoch, committed, parts] = row;
            let [wn, we, wc, _] = widths;
            writeln!(out, "{name:<wn$}  {epoch:>we$}  {committed:<wc$}  {parts}")?;
        }
        Ok(())
    }
}

impl EpochReport {
    fn of(e: StoredEpoch) -> Self {
        EpochReport {
            epoch: e.epoch,
            committed: e.committed,
            parts: e.parts,
        }
    }
}

/// One stored group part, as `checkpoint verify` found it.
#[derive(Debug, Serialize)]
pub struct PartCheck {
    pub group: String,
    pub epoch: u64,
    pub participant: String,
    /// Whether the epoch has a commit record.
    pub committed: bool,
    /// `None` when the part is intact.
    pub problem: Option<String>,
    /// The chunk whose damage makes an incremental part unreadable, and
    /// why.
    #[serde(skip)]
    pub damaged_chunk: Option<(String, String)>,
}

/// Every part of every group in the store, read whole and checked as a
/// commit checks it (every chunk of an incremental part included), with
/// every part a commit record lists but the store lacks.
pub fn verify_parts(opened: &Opened) -> Result<Vec<PartCheck>, Failure> {
    let names = group::groups(&*opened.store).map_err(|e| opened.unlisted(e))?;
    let mut checks = Vec::new();
    for name in names {
        let group = Group::from_shared(Arc::clone(&opened.store), &name)
            .map_err(|e| Failure(e.to_string()))?;
        let epochs = group.epochs().map_err(|e| unlisted(opened, e))?;
        for epoch in epochs {
            let mut participants = epoch.parts.clone();
            if epoch.committed {
                // A committed epoch needs every part its record lists.
                match group.commit_record(epoch.epoch) {
                    Ok(Some(record)) => participants.extend(
                        record
                            .parts
                            .into_iter()
                            .map(|p| p.participant)
                            .filter(|p| !epoch.parts.contains(p)),
                    ),
                    Ok(None) => {}
                    Err(e) => checks.push(PartCheck {
                        group: name.clone(),
                        epoch: epoch.epoch,
                        participant: "(commit record)".to_owned(),
                        committed: true,
                        problem: Some(e.to_string()),
                        damaged_chunk: None,
                    }),
                }
            }
            for participant in participants {
                let checked = group.verify_part(epoch.epoch, &participant);
                let damaged_chunk = match &checked {
                    Err(GroupError::PartCorrupt {
                        source: Some(source),
                        ..
                    }) => match &**source {
                        checkpoint_core::Error::DamagedChunk { chunk, reason, .. } => {
                            Some((chunk.clone(), reason.clone()))
                        }
                        _ => None,
                    },
                    _ => None,
                };
                let problem = match checked {
                    Ok(_) => None,
                    Err(GroupError::Store(e)) => return Err(unread_part(opened, e)),
                    Err(GroupError::PartMissing { location, .. }) => Some(format!(
                        "missing: the commit record lists it, but `{location}` does not exist"
                    )),
                    Err(GroupError::PartCorrupt {
                        location, reason, ..
                    }) => Some(match &damaged_chunk {
                        Some((chunk, why)) => {
                            format!("damaged at `{location}`: its chunk `{chunk}` {why}")
                        }
                        None => format!("damaged at `{location}`: {reason}"),
                    }),
                    Err(e) => Some(e.to_string()),
                };
                checks.push(PartCheck {
                    group: name.clone(),
                    epoch: epoch.epoch,
                    participant,
                    committed: epoch.committed,
                    problem,
                    damaged_chunk,
                });
            }
        }
    }
    Ok(checks)
}

fn unlisted(opened: &Opened, e: GroupError) -> Failure {
    match e {
        GroupError::Store(e) => opened.unlisted(e),
        e => Failure(e.to_string()),
    }
}

fn unread_part(opened: &Opened, e: checkpoint_core::StoreError) -> Failure {
    Failure(format!("cannot read a group part in {}: {e}", opened.name))
}
