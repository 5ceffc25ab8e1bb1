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
